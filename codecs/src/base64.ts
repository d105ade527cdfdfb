/**
 * Turning request strings into image bytes: the seed body's values, the V2 BYTES input's elements
 * and the edge module's JSON messages all carry base64-encoded image files.
 */
import { RequestError } from './problems.js';

// Standard and URL-safe alphabets, optional padding, line breaks (`base64` wraps at 76 columns).
// Checked first because Buffer.from(s, 'base64') silently skips characters it does not know.
const BASE64 = /^[A-Za-z0-9+/\-_\r\n]*={0,2}[\r\n]*$/;
const DATA_URL = /^data:[^,]{0,100};base64,/;

/** Quotes a client-chosen name for an error message, shortened so it cannot flood the log. */
export function quoteName(name: string): string {
  return JSON.stringify(name.length > 120 ? `${name.slice(0, 117)}...` : name);
}

/**
 * Decodes one base64 image (a `data:…;base64,` prefix is accepted and dropped). `what` names the
 * image in error messages, e.g. `"shoe.png"` or `input "image" element 2`.
 */
export function decodeBase64Image(value: string, what: string): Buffer {
  let text = value;
  if (text.charCodeAt(0) === 100 /* d */ && text.startsWith('data:')) {
    const prefix = DATA_URL.exec(text);
    if (prefix) text = text.slice(prefix[0].length);
  }
  if (text.length === 0) {
    throw new RequestError('invalid_base64', `${what}: the image is empty (expected a base64-encoded image file)`);
  }
  // Fast path (a camera photo's base64 is ~400 KB, and the regular expression walks all of it on the
  // event loop): without line breaks, Buffer.from decodes exactly floor(3n/4) bytes from n characters
  // before the padding only when every one is in the alphabet, since it skips the others; n % 4 === 1
  // is never valid. Anything else goes to the check below, which also words the refusal.
  if (text.indexOf('\n') === -1 && text.indexOf('\r') === -1) {
    const n = text.length - (text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0);
    const bytes = Buffer.from(text, 'base64');
    if (n % 4 !== 1 && bytes.length === Math.floor((n * 3) / 4)) return bytes;
  }
  if (!BASE64.test(text)) {
    throw new RequestError('invalid_base64', `${what}: not valid base64 (expected a base64-encoded image file)`);
  }
  return Buffer.from(text, 'base64');
}

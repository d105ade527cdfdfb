/**
 * JSON request bodies, read as bytes. A seed body, `{"<name>": "<base64>", ...}`, is taken apart
 * here without making a string of the whole body and without JSON.parse: each image's base64 is
 * sliced out of the bytes and decoded once, and POST /score takes the decoded images from
 * predecodedScoreRequest() instead of decoding the values again. Why: a 1920-px photo's body is
 * ~350 KB, and the whole-body string and JSON.parse's walk over it cost the event loop ~0.3 ms a
 * photo; under load the event loop is the service's bottleneck (onnxruntime runs each batch
 * synchronously on it). Measured: 350 against 321 img/s, 5.27 against 5.65 ms of server CPU and 1.44
 * against 1.80 ms of the event loop per photo (16 connections, 1920-px photos, five alternating
 * rounds). The value is still one large string (the route schema checks it), so the mark-compacts
 * per photo did not change.
 *
 * The fast path takes only bodies it can prove JSON.parse would read the same: ASCII names without
 * escapes or control characters (and neither "__proto__" nor "constructor"), no name twice, and
 * values that decodeBase64Image's own fast check accepts (every character in the base64 alphabet,
 * hence no escape, quote or control character). Anything else, including every malformed body, goes
 * through the text path (secure-json-parse where a key could poison a prototype), which words the errors.
 */
import secureJson from 'secure-json-parse';
import type { ScoreRequest } from '@model-deploy/codecs';
import { HttpError } from './errors.js';

const predecoded = new WeakMap<object, Map<string, Buffer>>();

/** Parses a JSON request body; throws HttpError 400 invalid_json naming what is wrong. */
export function parseJsonBody(bytes: Buffer): unknown {
  if (bytes.length === 0) throw new HttpError(400, 'invalid_json', 'request body is empty; send a JSON object');
  return parseSeedBody(bytes) ?? parseJsonText(bytes.toString('utf8'));
}

/** The images of a body parseJsonBody() decoded on its fast path, in Object.keys order; else undefined. */
export function predecodedScoreRequest(body: unknown): ScoreRequest | undefined {
  const images = typeof body === 'object' && body !== null ? predecoded.get(body) : undefined;
  if (!images) return undefined;
  const names = Object.keys(body as object);
  return { names, images: names.map((name) => images.get(name) as Buffer) };
}

function parseJsonText(text: string): unknown {
  try {
    // secure-json-parse walks the whole text with two escape-aware regular expressions before it
    // trusts JSON.parse (~0.5 ms of the event loop for a photo's 400 KB body). Neither key can be
    // written without the quoted literal "__proto__" / "constructor" or a \u escape, so a body
    // holding none of those is parsed directly, exactly as secure-json-parse would return it. The
    // quotes matter for speed: '"' never occurs in base64, so each search skips 11-13 characters a
    // step through an image (an unquoted "constructor" took 0.17 ms of a 350 KB body, quoted 0.03).
    const suspect = text.includes('"__proto__"') || text.includes('"constructor"') || text.includes('\\u');
    return suspect ? secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }) : JSON.parse(text);
  } catch (err) {
    const reason = (err as Error).message;
    const message = /forbidden (prototype|constructor)/.test(reason)
      ? 'request body has a "__proto__" or "constructor.prototype" key, which is not allowed'
      : `request body is not valid JSON: ${reason}`;
    throw new HttpError(400, 'invalid_json', message);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

// JSON's whitespace: space, tab, line feed, carriage return.
function skipSpace(bytes: Buffer, at: number): number {
  let i = at;
  for (; i < bytes.length; i++) {
    const c = bytes[i];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
  }
  return i;
}

/** The seed shape taken from the bytes, its images decoded; undefined sends the body to the text path. */
function parseSeedBody(bytes: Buffer): Record<string, string> | undefined {
  let i = skipSpace(bytes, 0);
  if (bytes[i] !== 0x7b /* { */) return undefined;
  const body: Record<string, string> = {};
  const images = new Map<string, Buffer>();
  i = skipSpace(bytes, i + 1);
  for (;;) {
    if (bytes[i] !== QUOTE) return undefined;
    const nameEnd = bytes.indexOf(QUOTE, i + 1);
    if (nameEnd < 0) return undefined;
    for (let k = i + 1; k < nameEnd; k++) {
      const c = bytes[k] as number;
      if (c < 0x20 || c >= 0x80 || c === BACKSLASH) return undefined;
    }
    const name = bytes.toString('latin1', i + 1, nameEnd);
    if (name === '__proto__' || name === 'constructor' || images.has(name)) return undefined;
    i = skipSpace(bytes, nameEnd + 1);
    if (bytes[i] !== 0x3a /* : */) return undefined;
    i = skipSpace(bytes, i + 1);
    if (bytes[i] !== QUOTE) return undefined;
    const valueEnd = bytes.indexOf(QUOTE, i + 1);
    if (valueEnd < 0) return undefined;
    const value = bytes.toString('latin1', i + 1, valueEnd);
    const image = decodeStrictBase64(value);
    if (!image) return undefined;
    body[name] = value;
    images.set(name, image);
    i = skipSpace(bytes, valueEnd + 1);
    if (bytes[i] === 0x2c /* , */) {
      i = skipSpace(bytes, i + 1);
      continue;
    }
    if (bytes[i] !== 0x7d /* } */) return undefined;
    if (skipSpace(bytes, i + 1) !== bytes.length) return undefined;
    predecoded.set(body, images);
    return body;
  }
}

/**
 * The bytes of `value` when every character is in the base64 alphabet (standard or URL-safe, padding
 * at the end only), else undefined. The same proof as decodeBase64Image's fast path: Buffer.from skips
 * characters outside the alphabet, so it decodes exactly floor(3n/4) bytes from n characters before
 * the padding only when none was skipped (and n % 4 === 1 is never valid base64).
 */
function decodeStrictBase64(value: string): Buffer | undefined {
  if (value.length === 0 || value.indexOf('\n') !== -1 || value.indexOf('\r') !== -1) return undefined;
  const n = value.length - (value.endsWith('==') ? 2 : value.endsWith('=') ? 1 : 0);
  if (n % 4 === 1) return undefined;
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === Math.floor((n * 3) / 4) ? bytes : undefined;
}

/**
 * A seed body, `{"<name>": "<base64>", ...}`, taken apart from its bytes without making a string of
 * the whole body and without JSON.parse: each image's base64 is sliced out of the bytes and decoded
 * once. The scoring service reads its POST /score bodies with it (scoring-service json-body.ts) and
 * the edge module its JSON messages (messages.ts). Why: a 1920-px photo's body is ~350 KB, and the
 * whole-body string and JSON.parse's walk over it cost the event loop ~0.3 ms a photo on one host and
 * ~1 ms on another (a string over 128 KB is a fresh large-object allocation, PIECE below).
 *
 * It takes only bodies it can prove JSON.parse would read the same: ASCII names without escapes or
 * control characters (and neither "__proto__" nor "constructor"), no name twice, and values that
 * decodeBase64Image's own fast check accepts (every character in the base64 alphabet, hence no escape,
 * quote or control character). Anything else, including every malformed body, is left to the caller's
 * text path, which words the errors.
 */

import type { BufferPool } from './buffer-pool.js';

/** The body as JSON.parse reads it, and each name's decoded image. */
export interface SeedBody {
  body: Record<string, string>;
  images: Map<string, Buffer>;
  /**
   * The buffers taken from `pool` that the images view (empty without a pool): the caller gives them
   * back with pool.give() once nothing reads the images any more.
   */
  lent: Buffer[];
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

/**
 * A seed body `{"<name>": "<base64>", ...}` read from its bytes, its images decoded, when it can be
 * proved that JSON.parse would read the bytes as `body`; else undefined (the caller parses the text).
 * With a `pool`, an image of a pooled size is decoded into one of its buffers (SeedBody.lent); a body
 * it does not take gives them back at once.
 */
export function readSeedBody(bytes: Buffer, pool?: BufferPool): SeedBody | undefined {
  const lent: Buffer[] = [];
  const seed = readSeed(bytes, pool, lent);
  if (!seed) for (const buffer of lent) pool!.give(buffer);
  return seed;
}

function readSeed(bytes: Buffer, pool: BufferPool | undefined, lent: Buffer[]): SeedBody | undefined {
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
    const decoded = decodeStrictBase64(bytes, i + 1, valueEnd, pool, lent);
    if (!decoded) return undefined;
    body[name] = decoded.value;
    images.set(name, decoded.image);
    i = skipSpace(bytes, valueEnd + 1);
    if (bytes[i] === 0x2c /* , */) {
      i = skipSpace(bytes, i + 1);
      continue;
    }
    if (bytes[i] !== 0x7d /* } */) return undefined;
    if (skipSpace(bytes, i + 1) !== bytes.length) return undefined;
    return { body, images, lent };
  }
}

/**
 * Base64 is read in pieces of this many characters (a multiple of 4, so each piece decodes on its
 * own), each a string V8 allocates in its young generation. Why not one string of the whole value: a
 * string over 128 KB goes to V8's large-object space, a fresh mapping whose pages are faulted in one
 * by one; on these VMs that cost ~0.9 ms for a 1920-px photo's 318 KB of base64, ten times the copy
 * itself, on the event loop (node bench 2026-12-03: one string 1.05 ms, pieces 0.07-0.10 ms, with
 * the decode). The pieces joined with + make a rope (a V8 cons string): the body keeps its value as
 * JSON.parse would give it, and nothing copies it unless something reads its characters.
 */
const PIECE = 64 * 1024;

/**
 * The value between `start` and `end` and its bytes, when every character is in the base64 alphabet
 * (standard or URL-safe, padding at the end only), else undefined. The same proof as
 * decodeBase64Image's fast path: Buffer's base64 decoder skips characters outside the alphabet, so n
 * characters before the padding decode to exactly floor(3n/4) bytes only when none was skipped (and
 * n % 4 === 1 is never valid base64); pieces of a multiple of 4 characters add up to the same count.
 */
function decodeStrictBase64(bytes: Buffer, start: number, end: number, pool: BufferPool | undefined, lent: Buffer[]): { value: string; image: Buffer } | undefined {
  const length = end - start;
  if (length === 0) return undefined;
  const newline = bytes.indexOf(0x0a, start);
  const ret = bytes.indexOf(0x0d, start);
  if ((newline !== -1 && newline < end) || (ret !== -1 && ret < end)) return undefined;
  const padding = bytes[end - 1] === 0x3d /* = */ ? (bytes[end - 2] === 0x3d && length > 1 ? 2 : 1) : 0;
  const n = length - padding;
  if (n % 4 === 1) return undefined;
  const size = Math.floor((n * 3) / 4);
  const pooled = pool?.take(size);
  if (pooled) lent.push(pooled);
  const image = pooled ? pooled.subarray(0, size) : Buffer.allocUnsafe(size);
  let value = '';
  let written = 0;
  for (let at = start; at < end; at += PIECE) {
    const piece = bytes.toString('latin1', at, Math.min(end, at + PIECE));
    // write() stops at the buffer's end: a piece with characters beyond it cannot pass the count below.
    written += image.write(piece, written, 'base64');
    value = value === '' ? piece : value + piece;
  }
  return written === image.length ? { value, image } : undefined;
}

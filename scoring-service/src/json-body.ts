/**
 * JSON request bodies, read as bytes. A seed body, `{"<name>": "<base64>", ...}`, is taken apart
 * from its bytes by @model-deploy/codecs' readSeedBody (no whole-body string, no JSON.parse, each
 * image's base64 decoded once), and POST /score takes the decoded images from
 * predecodedScoreRequest() instead of decoding the values again. Under load the event loop is the
 * service's bottleneck (onnxruntime runs each batch synchronously on it). Measured: 350 against 321
 * img/s, 5.27 against 5.65 ms of server CPU and 1.44 against 1.80 ms of the event loop per photo (16
 * connections, 1920-px photos, five alternating rounds); reading the base64 in pieces rather than as
 * one string then took 0.9 ms more off a photo on a host where fresh pages are dear (seed-body.ts).
 *
 * Every body readSeedBody does not take, including every malformed one, goes through the text path
 * (secure-json-parse where a key could poison a prototype), which words the errors.
 *
 * A photo-sized image (64 KB-1 MiB) is decoded into a reused buffer over a SharedArrayBuffer (the
 * app's imageBuffers), which the preprocessing thread reads in place: a fresh Buffer per photo, handed
 * over to that thread, left its collector ~250 KB a photo to free and the main thread fresh pages to
 * fault in. Three runs of alternating loads (1920-px photos, 16 connections, 2026-12-04; bench/README.md):
 * median 385 against 376 img/s over 14 and 13 loads (+7% in the first run, 0-3% in the other two),
 * p99/mean 2.28 against 2.43, ~4% less server CPU a photo. The route gives the buffers back once the
 * classifier has answered for every image (releasePredecoded); a body no route took, once its
 * response has gone (releaseUnclaimed).
 */
import secureJson from 'secure-json-parse';
import { readSeedBody, type BufferPool, type ScoreRequest } from '@model-deploy/codecs';
import { HttpError } from './errors.js';

/** A body's decoded images; `claimed` once a route has taken them (it then releases them itself). */
const predecoded = new WeakMap<object, { images: Map<string, Buffer>; lent: Buffer[]; pool: BufferPool | undefined; claimed: boolean }>();

/**
 * Parses a JSON request body; throws HttpError 400 invalid_json naming what is wrong. With
 * `imageBuffers`, a seed body's photo-sized images are decoded into its buffers (shared with the
 * preprocessing threads when the pool is), which releasePredecoded() gives back.
 */
export function parseJsonBody(bytes: Buffer, imageBuffers?: BufferPool): unknown {
  if (bytes.length === 0) throw new HttpError(400, 'invalid_json', 'request body is empty; send a JSON object');
  const seed = readSeedBody(bytes, imageBuffers);
  if (!seed) return parseJsonText(bytes.toString('utf8'));
  predecoded.set(seed.body, { images: seed.images, lent: seed.lent, pool: imageBuffers, claimed: false });
  return seed.body;
}

/**
 * The images of a body parseJsonBody() decoded on its fast path, in Object.keys order; else
 * undefined. The caller takes them over: it must call releasePredecoded() once nothing reads them.
 */
export function predecodedScoreRequest(body: unknown): ScoreRequest | undefined {
  const entry = typeof body === 'object' && body !== null ? predecoded.get(body) : undefined;
  if (!entry) return undefined;
  entry.claimed = true;
  const names = Object.keys(body as object);
  return { names, images: names.map((name) => entry.images.get(name) as Buffer) };
}

/**
 * Gives the pooled buffers of a body's predecoded images back; the route calls it once nothing reads
 * those images any more (after the classifier has answered for every one).
 */
export function releasePredecoded(body: unknown): void {
  const entry = typeof body === 'object' && body !== null ? predecoded.get(body) : undefined;
  if (!entry) return;
  predecoded.delete(body as object);
  for (const buffer of entry.lent) entry.pool!.give(buffer);
}

/**
 * Gives back the buffers of a body no route took (refused by auth or the schema, or sent to another
 * route), called when its response has gone. A claimed body is left to its route, whose images may
 * still be read by a preprocessing thread when a client that went away ends the response early.
 */
export function releaseUnclaimed(body: unknown): void {
  const entry = typeof body === 'object' && body !== null ? predecoded.get(body) : undefined;
  if (entry && !entry.claimed) releasePredecoded(body);
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

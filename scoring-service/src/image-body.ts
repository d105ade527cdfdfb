/**
 * A request body that is one image file: `POST /score` with `Content-Type: image/jpeg` (any image/...
 * type) or `application/octet-stream`, as Azure AI Vision and Custom Vision take a photo and as
 * `curl --data-binary @photo.jpg` sends one. A phone's photo then travels as its own bytes: base64
 * in JSON adds a third to the upload (4 MB of JPEG is 5.3 MB of body) and costs the client an encode
 * and the service a decode. The seed's JSON body stays the contract's first form; the answer is the
 * same either way, the image named by `?name=` (default IMAGE_BODY_NAME).
 *
 * The declared type is not trusted: the bytes are sniffed as for every image (a PNG sent as
 * image/jpeg is a PNG). A photo-sized body (codecs' BufferPool range) is read straight into a
 * reused buffer over shared memory (the app's imageBuffers), which a preprocessing thread reads in
 * place. The parser is registered by the seed routes alone (routes/seed.ts), so no other route reads one; the route gives it back once the classifier has answered (releaseImageBody), or onResponse
 * does for a body no route took (releaseUnclaimedImage).
 */
import type { FastifyRequest } from 'fastify';
import type { BufferPool } from '@model-deploy/codecs';
import { readBody } from './body-buffers.js';
import { HttpError } from './errors.js';

/** The name an image body gets in the answer when the request has no `?name=`. */
export const IMAGE_BODY_NAME = 'image';

/** Content types read as one image file (besides JSON). */
export const IMAGE_BODY_TYPES: RegExp = /^(?:image\/[^\s;]+|application\/octet-stream)\s*(?:;|$)/i;

/** The content types OpenAPI lists for an image body (any image/... is taken). */
export const DOCUMENTED_IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/avif', 'image/gif', 'image/tiff', 'application/octet-stream'] as const;

/** What the parser makes of an image body: its bytes, and the pooled buffer they are in (if any). */
export class ImageBody {
  constructor(
    readonly bytes: Buffer,
    /** The pooled buffer holding `bytes`, to be given back to `pool`; undefined when they are a Buffer of their own. */
    private lent: Buffer | undefined,
    private readonly pool: BufferPool,
    public claimed = false,
  ) {}

  /** Gives the pooled buffer back (once). */
  release(): void {
    if (this.lent) this.pool.give(this.lent);
    this.lent = undefined;
  }
}

type Done = (err: Error | null, body?: unknown) => void;

/** The content type parser for image bodies, with Fastify's limits and errors (body-buffers.ts). */
export function readImageBody(request: FastifyRequest, payload: FastifyRequest['raw'], limit: number, imageBuffers: BufferPool, done: Done): void {
  readBody(
    request,
    payload,
    limit,
    imageBuffers,
    (bytes, lent) => {
      // Thrown, the lent buffer is given back by readBody.
      if (bytes.length === 0) {
        throw new HttpError(400, 'no_image', `request body is empty; send the image file's bytes (Content-Type ${contentTypeOf(request)})`);
      }
      return new ImageBody(bytes, lent, imageBuffers);
    },
    done,
    true,
  );
}

/** The image body of a request, claimed by the route that reads it (it then calls releaseImageBody). */
export function claimImageBody(body: unknown): ImageBody | undefined {
  if (!(body instanceof ImageBody)) return undefined;
  body.claimed = true;
  return body;
}

/** Gives an image body's pooled buffer back; the route calls it once nothing reads the image any more. */
export function releaseImageBody(body: unknown): void {
  if (body instanceof ImageBody) body.release();
}

/**
 * Gives back the buffer of an image body no route took (refused by the query schema), called when
 * its response has gone. A claimed one is left to its route, whose image
 * may still be read by a preprocessing thread when a client that went away ends the response early.
 */
export function releaseUnclaimedImage(body: unknown): void {
  if (body instanceof ImageBody && !body.claimed) body.release();
}

function contentTypeOf(request: FastifyRequest): string {
  return JSON.stringify(String(request.headers['content-type'] ?? '').slice(0, 100));
}

/**
 * JSON request bodies read into reused buffers. Fastify's own reader (`parseAs: 'buffer'`) keeps a
 * body's chunks and copies them into one new Buffer at the end; for a 1920-px photo that is ~400 KB
 * of fresh off-heap memory per request, and V8 starts a full mark-compact each time such memory grows
 * by ~64 MB since the last one. Measured on 1920-px photos, 16 connections (bench/photos.ts with
 * scoring-service/src traced, 2026-12-04): 31 mark-compacts in 8 s with Fastify's reader (~270 ms
 * of the event loop in their pauses, and their helper threads' CPU besides), 1-2 with this one;
 * server CPU 4.60-4.75 against 5.1-5.8 ms a photo.
 *
 * A body whose Content-Length is between 64 KB and 1 MB is copied, chunk by chunk as it arrives,
 * into a buffer of its size class (codecs' BufferPool) taken from a small free list, parsed at once (synchronously)
 * and the buffer given back; everything else (small bodies, larger ones, chunked bodies without a
 * Content-Length) is read as Fastify reads it. The parser must keep nothing that views the bytes it
 * is given: json-body.ts copies every name and value into strings and decodes images into their own
 * Buffers. The limits and errors are Fastify's: 413 FST_ERR_CTP_BODY_TOO_LARGE past the limit (from
 * the header, before reading, or while reading), 400 FST_ERR_CTP_INVALID_CONTENT_LENGTH when the
 * bytes received are not the Content-Length, and a stream error (a client that went away) fails
 * the request with status 400.
 */
import type { FastifyRequest } from 'fastify';
import { errorCodes } from 'fastify';
import type { BufferPool } from '@model-deploy/codecs';

type Done = (err: Error | null, body?: unknown) => void;
type Payload = FastifyRequest['raw'] & { receivedEncodedLength?: number };

/**
 * Reads a request body and hands its bytes to `parse`, answering through `done` as a Fastify content
 * type parser does. `parse` runs synchronously on bytes that are reused once it returns, unless `keep`:
 * then a lent buffer stays lent, `parse` is given it (`lent`, else undefined: the bytes are a Buffer of
 * their own) and whoever keeps the bytes gives it back to `buffers` once nothing reads them.
 */
export function readBody(
  request: FastifyRequest,
  payload: Payload,
  limit: number,
  buffers: BufferPool,
  parse: (bytes: Buffer, lent: Buffer | undefined) => unknown,
  done: Done,
  keep = false,
): void {
  const contentLength = Number(request.headers['content-length']);
  if (contentLength > limit) return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
  // A lent buffer while the body fits it; else (or once it no longer fits) copies of the chunks.
  let buffer = buffers.take(contentLength);
  const chunks: Buffer[] = [];
  let received = 0;

  const giveBack = (): void => {
    if (buffer) buffers.give(buffer);
    buffer = undefined;
  };
  const stop = (): void => {
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onEnd);
    giveBack();
  };

  function onData(chunk: Buffer | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (received + bytes.length > limit || (payload.receivedEncodedLength ?? 0) > limit) {
      stop();
      return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    }
    if (buffer && received + bytes.length > buffer.length) {
      // More than the Content-Length said (answered 400 at the end, as Fastify does): keep a copy instead.
      chunks.push(Buffer.from(buffer.subarray(0, received)));
      giveBack();
    }
    if (buffer) bytes.copy(buffer, received);
    else chunks.push(bytes);
    received += bytes.length;
  }

  function onEnd(err?: Error & { statusCode?: number }): void {
    if (err != null) {
      stop();
      if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
      return done(err);
    }
    if (!Number.isNaN(contentLength) && (payload.receivedEncodedLength || received) !== contentLength) {
      stop();
      return done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
    }
    let result: unknown;
    try {
      result = parse(buffer ? buffer.subarray(0, received) : Buffer.concat(chunks, received), keep ? buffer : undefined);
    } catch (error) {
      stop();
      return done(error as Error);
    }
    // A kept buffer now belongs to the body `parse` made of it.
    if (keep) buffer = undefined;
    stop();
    done(null, result);
  }

  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onEnd);
  payload.resume();
}

/**
 * The one place where errors become HTTP answers. The core's typed errors are recognised by their
 * stable `code` (not instanceof, so two copies of the core in a tree still map), Fastify's own 4xx
 * keep their status, and anything else is a 500 whose body says nothing about internals.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** An error the adapter raises itself, with the status and the user-facing message already decided. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/**
 * HTTP status of each core error code. image_too_large is 413 rather than 400: the request is well
 * formed but carries more than the service agreed to process, and 413 tells a client to shrink the
 * image rather than fix its encoding.
 */
export const STATUS_BY_CORE_CODE: Readonly<Record<string, number>> = {
  invalid_image: 400,
  invalid_tensor: 400,
  image_too_large: 413,
  overloaded: 503,
  model_not_ready: 503,
  inference_failed: 500,
  model_integrity: 500,
  invalid_model_card: 500,
};

/** Fastify's own error codes, renamed to the codes this API documents. */
const FASTIFY_CODES: Readonly<Record<string, string>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_content_length',
  FST_ERR_VALIDATION: 'invalid_request',
};

/** The core's errors carry a string code from STATUS_BY_CORE_CODE and a message safe to show. */
export function isCoreError(err: unknown): err is Error & { code: string; retryAfterSeconds?: number } {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && STATUS_BY_CORE_CODE[code] !== undefined;
}

/**
 * Re-raises a core error with `context` in front of its message (e.g. the file name of the one bad
 * image among several); its code and status are kept. Non-core errors pass through unchanged.
 */
export function withContext(err: unknown, context: string): unknown {
  if (!isCoreError(err)) return err;
  const status = STATUS_BY_CORE_CODE[err.code] as number;
  if (status >= 500) return err;
  return new HttpError(status, err.code, `${context}: ${err.message}`);
}

interface Mapped {
  status: number;
  code: string;
  message: string;
  headers?: Record<string, string>;
}

function map(err: FastifyError | Error): Mapped {
  if (err instanceof HttpError) {
    return { status: err.statusCode, code: err.code, message: err.message, headers: err.headers };
  }
  if (isCoreError(err)) {
    const status = STATUS_BY_CORE_CODE[err.code] as number;
    if (err.code === 'overloaded') {
      const retry = Math.max(1, Math.ceil(err.retryAfterSeconds ?? 1));
      return { status, code: err.code, message: err.message, headers: { 'retry-after': String(retry) } };
    }
    if (err.code === 'model_not_ready') {
      return { status, code: err.code, message: err.message, headers: { 'retry-after': '5' } };
    }
    if (status >= 500) return { status: 500, code: 'internal_error', message: 'internal error' };
    return { status, code: err.code, message: err.message };
  }
  const fastifyError = err as FastifyError;
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    // Fastify's 4xx messages describe the request, never the server.
    const code = FASTIFY_CODES[fastifyError.code] ?? 'bad_request';
    let message = fastifyError.message;
    if (code === 'body_too_large') message = 'request body is larger than the limit of this service (BODY_LIMIT_BYTES)';
    return { status, code, message };
  }
  if (status === 503) {
    // Fastify answers this while closing.
    return { status, code: 'unavailable', message: 'service is shutting down', headers: { 'retry-after': '1' } };
  }
  return { status: 500, code: 'internal_error', message: 'internal error' };
}

/** Names what the client sent, so a wrong header (or none) is obvious; cut short, since it is the client's text. */
function unsupportedMediaType(received: string | undefined): string {
  const what = received === undefined || received.trim() === '' ? 'no Content-Type header' : `Content-Type ${JSON.stringify(received.slice(0, 100))}`;
  return `unsupported media type: the request has ${what}; send Content-Type: application/json`;
}

/** Routes under /v2 answer the Open Inference Protocol's `{"error": "..."}`; the others add a code. */
export function errorHandler(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  const mapped = map(err);
  if (mapped.code === 'unsupported_media_type') mapped.message = unsupportedMediaType(request.headers['content-type']);
  if (mapped.status >= 500) {
    if (mapped.code === 'overloaded' || mapped.code === 'model_not_ready' || mapped.code === 'unavailable') {
      request.log.warn({ code: mapped.code }, mapped.message);
    } else {
      request.log.error({ err }, 'request failed');
    }
  }
  if (mapped.headers) reply.headers(mapped.headers);
  const v2 = request.url.startsWith('/v2');
  reply
    .code(mapped.status)
    .type('application/json; charset=utf-8')
    .send(v2 ? { error: mapped.message } : { error: mapped.message, code: mapped.code });
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  const v2 = request.url.startsWith('/v2');
  const path = (request.url.split('?')[0] as string).slice(0, 200);
  const message = `route ${request.method} ${path} not found`;
  reply.code(404).send(v2 ? { error: message } : { error: message, code: 'not_found' });
}

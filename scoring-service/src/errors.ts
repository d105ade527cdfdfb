/**
 * The one place where errors become HTTP answers. The core's typed errors and the codecs' request
 * errors get the status the codecs map them to (@model-deploy/codecs problemOf), Fastify's own 4xx keep
 * their status, and anything else is a 500 whose body says nothing about internals.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { INTERNAL_PROBLEM, problemOf } from '@model-deploy/codecs';

/** An error of HTTP itself (authentication, media type, JSON syntax, query string), with its status and message decided. */
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

/** Fastify's own error codes, renamed to the codes this API documents. */
const FASTIFY_CODES: Readonly<Record<string, string>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_content_length',
  FST_ERR_VALIDATION: 'invalid_request',
};

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
  const problem = problemOf(err);
  if (problem) {
    const { retryAfterSeconds, ...mapped } = problem;
    return retryAfterSeconds === undefined ? mapped : { ...mapped, headers: { 'retry-after': String(retryAfterSeconds) } };
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
  return { ...INTERNAL_PROBLEM };
}

/**
 * Names what the client sent, so a wrong header (or none) is obvious, and what this route takes; cut
 * short, since it is the client's text. POST /score also takes one image file as the body (image-body.ts).
 */
function unsupportedMediaType(received: string | undefined, route: string | undefined): string {
  const what = received === undefined || received.trim() === '' ? 'no Content-Type header' : `Content-Type ${JSON.stringify(received.slice(0, 100))}`;
  const takes =
    route === '/score'
      ? 'send Content-Type: application/json ({"<file name>": "<base64 image>"}), or the image file itself as image/jpeg, image/png (any image/...) or application/octet-stream'
      : 'send Content-Type: application/json';
  return `unsupported media type: the request has ${what}; ${takes}`;
}

/** Routes under /v2 answer the Open Inference Protocol's `{"error": "..."}`; the others add a code. */
export function errorHandler(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  const mapped = map(err);
  if (mapped.code === 'unsupported_media_type') mapped.message = unsupportedMediaType(request.headers['content-type'], request.routeOptions.url);
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

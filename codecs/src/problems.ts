/**
 * What can be wrong with a request, and the status each adapter answers it with. The core's typed
 * errors and the codecs' own request errors share one code space; the HTTP status of every code is
 * typed on that union, so a new core error code does not compile until it has a status here (the
 * edge module's own table in edge-module/src/problem-handling.ts does the same for messages).
 */
import { InferenceError, inferenceErrorFrom, OverloadedError, type ClassifyResult, type InferenceErrorCode, type Prediction } from '@model-deploy/inference';

/** Problems the codecs find in a request before the core sees it. */
export type RequestErrorCode = 'invalid_request' | 'invalid_base64' | 'no_image' | 'too_many_images' | 'model_not_found';

export type ProblemCode = InferenceErrorCode | RequestErrorCode;

/** A request the codecs cannot turn into the core's inputs; the message names the problem for the caller. */
export class RequestError extends Error {
  constructor(
    readonly code: RequestErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

/**
 * HTTP status of each code (the `score` direct method answers the same). image_too_large is 413 rather
 * than 400: the request is well formed but carries more than the service agreed to process, and 413
 * tells a client to shrink the image rather than fix its encoding.
 */
export const HTTP_STATUS = {
  invalid_image: 400,
  invalid_tensor: 400,
  image_too_large: 413,
  overloaded: 503,
  model_not_ready: 503,
  inference_failed: 500,
  model_integrity: 500,
  invalid_model_card: 500,
  invalid_request: 400,
  invalid_base64: 400,
  no_image: 400,
  too_many_images: 413,
  model_not_found: 404,
} as const satisfies Record<ProblemCode, number>;

/** A problem as a caller sees it: 5xx other than "busy" say nothing about internals. */
export interface Problem {
  status: number;
  code: ProblemCode | 'internal_error';
  message: string;
  /** For 503s: when to try again. */
  retryAfterSeconds?: number;
}

export const INTERNAL_PROBLEM: Readonly<Problem> = { status: 500, code: 'internal_error', message: 'internal error' };

/** A model still loading is usually ready within seconds; an overloaded queue says itself when. */
const MODEL_NOT_READY_RETRY_SECONDS = 5;

/** The problem of a core or request error; undefined for any other error (the adapter decides). */
export function problemOf(error: unknown): Problem | undefined {
  if (error instanceof RequestError) return { status: HTTP_STATUS[error.code], code: error.code, message: error.message };
  if (!(error instanceof InferenceError)) return undefined;
  const status = HTTP_STATUS[error.code];
  if (error instanceof OverloadedError) {
    return { status, code: error.code, message: error.message, retryAfterSeconds: Math.max(1, Math.ceil(error.retryAfterSeconds)) };
  }
  if (error.code === 'model_not_ready') return { status, code: error.code, message: error.message, retryAfterSeconds: MODEL_NOT_READY_RETRY_SECONDS };
  if (status >= 500) return { ...INTERNAL_PROBLEM };
  return { status, code: error.code, message: error.message };
}

/**
 * Re-raises a core error about one image with `context` in front of its message (e.g. the file name
 * of the one bad image among several), as the same class; server-side errors pass through unchanged.
 */
export function withContext(error: unknown, context: string): unknown {
  if (!(error instanceof InferenceError) || !error.clientError) return error;
  return inferenceErrorFrom(error.code, `${context}: ${error.message}`, { cause: error });
}

/** The predictions in request order, or the first image's failure with `contextOf(its index)` in front. */
export function predictionsOf(outcomes: readonly ClassifyResult[], contextOf: (index: number) => string): Prediction[] {
  return outcomes.map((outcome, i) => {
    if (!outcome.ok) throw withContext(outcome.error, contextOf(i));
    return outcome.prediction;
  });
}

/** The one wording of "too many images", for every route and message format. */
export function tooManyImages(max: number, where: { unit: 'request' | 'message'; setting: string; count?: number }): string {
  const count = where.count === undefined ? '' : `${where.count}, `;
  return `too many images in one ${where.unit}: ${count}at most ${max} (${where.setting}); split the ${where.unit}`;
}

/** The HTTP services' limit, as the scoring service's configuration names it. */
export function tooManyImagesInRequest(max: number): RequestError {
  return new RequestError('too_many_images', tooManyImages(max, { unit: 'request', setting: 'MAX_IMAGES_PER_REQUEST' }));
}

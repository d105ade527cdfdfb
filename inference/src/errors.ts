/**
 * Typed errors of the inference core. Each has a stable `code` that adapters map to protocol
 * statuses (HTTP 4xx/5xx, an IoT `errors` output), and a message that is safe to show a caller:
 * internal details travel only in `cause`.
 */
export type InferenceErrorCode =
  | 'invalid_image'
  | 'image_too_large'
  | 'invalid_tensor'
  | 'overloaded'
  | 'model_not_ready'
  | 'inference_failed'
  | 'model_integrity'
  | 'invalid_model_card';

export abstract class InferenceError extends Error {
  abstract readonly code: InferenceErrorCode;
  /** True when the caller sent something wrong (4xx); false when the service is at fault or busy. */
  abstract readonly clientError: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The bytes are not an image this core can decode (unknown format, corrupt, truncated). */
export class InvalidImageError extends InferenceError {
  readonly code = 'invalid_image';
  readonly clientError = true;
}

/** The image is over the byte limit, or its header declares more pixels than allowed (checked before decoding). */
export class ImageTooLargeError extends InferenceError {
  readonly code = 'image_too_large';
  readonly clientError = true;
}

/** A pre-processed tensor has the wrong length or holds values that are not finite. */
export class InvalidTensorError extends InferenceError {
  readonly code = 'invalid_tensor';
  readonly clientError = true;
}

/** The bounded queue is full: the caller should retry after `retryAfterSeconds`. */
export class OverloadedError extends InferenceError {
  readonly code = 'overloaded';
  readonly clientError = false;
  constructor(
    message: string,
    readonly retryAfterSeconds = 1,
  ) {
    super(message);
  }
}

/** The model is not loaded yet, or the classifier is shutting down. */
export class ModelNotReadyError extends InferenceError {
  readonly code = 'model_not_ready';
  readonly clientError = false;
}

/** onnxruntime failed on a batch; the cause is attached, the message stays generic. */
export class InferenceFailedError extends InferenceError {
  readonly code = 'inference_failed';
  readonly clientError = false;
}

/** The model file's sha256 is not the one its card declares. */
export class ModelIntegrityError extends InferenceError {
  readonly code = 'model_integrity';
  readonly clientError = false;
}

/** card.json is missing, unreadable or does not describe a model this core can serve. */
export class InvalidModelCardError extends InferenceError {
  readonly code = 'invalid_model_card';
  readonly clientError = false;
}

/**
 * The class behind each code. Typed on the union, so a new code does not compile until it names its
 * class here, and an error that crossed a thread boundary as `{code, message}` comes back as itself.
 */
const CLASS_BY_CODE = {
  invalid_image: InvalidImageError,
  image_too_large: ImageTooLargeError,
  invalid_tensor: InvalidTensorError,
  overloaded: OverloadedError,
  model_not_ready: ModelNotReadyError,
  inference_failed: InferenceFailedError,
  model_integrity: ModelIntegrityError,
  invalid_model_card: InvalidModelCardError,
} satisfies Record<InferenceErrorCode, abstract new (...args: never[]) => InferenceError>;

export function isInferenceErrorCode(code: unknown): code is InferenceErrorCode {
  return typeof code === 'string' && Object.hasOwn(CLASS_BY_CODE, code);
}

/** Re-creates the core error of `code` with `message` (e.g. from a worker thread's answer, or with context in front). */
export function inferenceErrorFrom(code: InferenceErrorCode, message: string, details: { retryAfterSeconds?: number; cause?: unknown } = {}): InferenceError {
  if (code === 'overloaded') return new OverloadedError(message, details.retryAfterSeconds);
  const ErrorClass = CLASS_BY_CODE[code] as new (message: string, options?: { cause?: unknown }) => InferenceError;
  return new ErrorClass(message, details.cause === undefined ? undefined : { cause: details.cause });
}

/**
 * The module's message formats: what an `images` input may hold, and the JSON of the `predictions` and
 * `errors` outputs. A JSON body is the seed's scoring format, read per image by @model-deploy/codecs.
 */
import { InferenceError, type InferenceErrorCode, type Prediction } from '@model-deploy/inference';
import { decodeScoreEntries, readSeedBody, RequestError, tooManyImages, type ProblemCode } from '@model-deploy/codecs';
import { property, type InputRecord } from './input-record.js';
import { UNCERTAIN_LABEL, type ModuleSettings } from './settings.js';

/** Problems of a message as a whole, which only the edge module's input can have. */
export type MessageProblemCode = 'empty_message' | 'invalid_json' | 'unknown_input';

/** A problem with one input or one image: `code` is stable, `message` names the problem for people. */
export interface InputProblem {
  code: ProblemCode | MessageProblemCode | 'internal_error';
  message: string;
}

/**
 * What the module does with each core error: `wait` (the core is busy or loading, which is not the
 * input's fault: classify the input again later) or `report` (its code and message, which the core keeps
 * safe to show, go to the errors output). Typed on the core's code union, so a new code does not
 * compile until the edge module decides about it. Errors that are not the core's are reported as
 * `internal_error` without their message.
 */
export const CORE_ERROR_HANDLING = {
  invalid_image: 'report',
  image_too_large: 'report',
  invalid_tensor: 'report',
  overloaded: 'wait',
  model_not_ready: 'wait',
  inference_failed: 'report',
  model_integrity: 'report',
  invalid_model_card: 'report',
} as const satisfies Record<InferenceErrorCode, 'wait' | 'report'>;

/** True for the core's "busy" errors, after which the same input is classified again. */
export function isTransient(error: unknown): error is InferenceError {
  return error instanceof InferenceError && CORE_ERROR_HANDLING[error.code] === 'wait';
}

export type DecodedImage = { name: string; bytes: Buffer } | { name: string; problem: InputProblem };

export type DecodedInput = { ok: true; images: DecodedImage[] } | { ok: false; problem: InputProblem };

const OPEN_BRACE = 0x7b;

/** JSON bodies are recognised by their content type or by a leading "{" (no image format starts with one). */
function looksLikeJson(record: InputRecord): boolean {
  if (record.contentType?.toLowerCase().includes('json')) return true;
  for (const byte of record.body) {
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09 || byte === 0xef || byte === 0xbb || byte === 0xbf) continue;
    return byte === OPEN_BRACE;
  }
  return false;
}

/** Name of a binary image: the `fileName` application property, else the message id, else `message-<seq>`. */
function binaryName(record: InputRecord, seq: number): string {
  return property(record, 'fileName') ?? record.messageId ?? `message-${seq}`;
}

/**
 * Splits an `images` input into its images: a body that is an encoded image file, or a JSON body in the
 * seed's scoring format `{"<file name>": "<base64 image>", ...}`. A JSON body that cannot be read as a
 * whole is one problem; a bad image inside it is a problem of that image only.
 */
export function decodeImagesInput(record: InputRecord, seq: number, settings: ModuleSettings): DecodedInput {
  if (record.body.length === 0) {
    return { ok: false, problem: { code: 'empty_message', message: 'the message body is empty (expected an image file, or JSON {"<file name>": "<base64 image>", ...})' } };
  }
  if (!looksLikeJson(record)) return { ok: true, images: [{ name: binaryName(record, seq), bytes: record.body }] };

  // A body of base64 images only is taken apart from its bytes, its images decoded once (codecs'
  // readSeedBody: no photo-sized strings); any other JSON body is parsed as text, which words the problems.
  const seed = readSeedBody(record.body);
  if (seed) {
    const names = Object.keys(seed.body);
    if (names.length > settings.maxImagesPerMessage) return tooManyInMessage(settings, names.length);
    return { ok: true, images: names.map((name) => ({ name, bytes: seed.images.get(name) as Buffer })) };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(record.body.toString('utf8').replace(/^\ufeff/, ''));
  } catch (error) {
    return { ok: false, problem: { code: 'invalid_json', message: `the message body is not valid JSON (${(error as Error).message})` } };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, problem: { code: 'invalid_request', message: 'the JSON body must be an object mapping file names to base64-encoded images: {"<file name>": "<base64>", ...}' } };
  }
  const body = parsed as Record<string, unknown>;
  const count = Object.keys(body).length;
  if (count === 0) {
    return { ok: false, problem: { code: 'no_image', message: 'the JSON body holds no image: send {"<file name>": "<base64-encoded image>", ...}' } };
  }
  if (count > settings.maxImagesPerMessage) return tooManyInMessage(settings, count);
  const images = decodeScoreEntries(body).map((entry): DecodedImage => ('bytes' in entry ? entry : { name: entry.name, problem: problemOf(entry.problem) }));
  return { ok: true, images };
}

function tooManyInMessage(settings: ModuleSettings, count: number): DecodedInput {
  const message = tooManyImages(settings.maxImagesPerMessage, { unit: 'message', setting: 'twin property maxImagesPerMessage', count });
  return { ok: false, problem: { code: 'too_many_images', message } };
}

/** The code and user-facing message of a core or request error; anything else is an internal error. */
export function problemOf(error: unknown): InputProblem {
  if (error instanceof RequestError || error instanceof InferenceError) return { code: error.code, message: error.message };
  return { code: 'internal_error', message: 'the image could not be classified because of an internal error' };
}

export interface ModelInfo {
  name: string;
  version: string;
}

export interface PredictionContext {
  model: ModelInfo;
  record: InputRecord;
  /** Position of the image in its message and the number of images in it. */
  index: number;
  count: number;
  replayed: boolean;
}

/** The JSON of one `predictions` message. */
export function predictionBody(name: string, prediction: Prediction, settings: ModuleSettings, labels: readonly string[], ctx: PredictionContext): Record<string, unknown> {
  const uncertain = prediction.confidence < settings.confidenceThreshold;
  const body: Record<string, unknown> = {
    fileName: name,
    label: uncertain ? UNCERTAIN_LABEL : prediction.label,
    confidence: prediction.confidence,
    uncertain,
  };
  if (uncertain) body.bestGuess = prediction.label;
  // Multi-label models: every label at or above the model's threshold (the label above stays the top one).
  if (prediction.labels) body.labels = prediction.labels;
  if (settings.topK > 1) body.top = prediction.top.slice(0, settings.topK);
  if (settings.includeProbabilities) {
    body.probabilities = Object.fromEntries(labels.map((label, i) => [label, prediction.probabilities[i] ?? 0]));
  }
  Object.assign(body, contextFields(ctx));
  return body;
}

/** The JSON of one `errors` message. */
export function errorBody(problem: InputProblem, name: string | undefined, ctx: PredictionContext): Record<string, unknown> {
  const body: Record<string, unknown> = { error: problem.code, message: problem.message };
  if (name !== undefined) body.fileName = name;
  Object.assign(body, contextFields(ctx));
  return body;
}

function contextFields(ctx: PredictionContext): Record<string, unknown> {
  return {
    modelName: ctx.model.name,
    modelVersion: ctx.model.version,
    inputMessageId: ctx.record.messageId ?? null,
    imageIndex: ctx.index,
    imageCount: ctx.count,
    receivedAt: new Date(ctx.record.receivedAt).toISOString(),
    replayed: ctx.replayed,
  };
}

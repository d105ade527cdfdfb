/**
 * The module's message formats: what an `images` input may hold, and the JSON of the `predictions` and
 * `errors` outputs. The base64 decoding of the seed's JSON format is the scoring service's own code.
 */
import type { Prediction } from '@model-deploy/inference';
import { decodeBase64Image, quoteName } from '@model-deploy/scoring-service';
import { property, type InputRecord } from './input-record.js';
import { UNCERTAIN_LABEL, type ModuleSettings } from './settings.js';

/** A problem with one input or one image: `code` is stable, `message` names the problem for people. */
export interface InputProblem {
  code: string;
  message: string;
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

  let parsed: unknown;
  try {
    parsed = JSON.parse(record.body.toString('utf8').replace(/^\ufeff/, ''));
  } catch (error) {
    return { ok: false, problem: { code: 'invalid_json', message: `the message body is not valid JSON (${(error as Error).message})` } };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, problem: { code: 'invalid_request', message: 'the JSON body must be an object mapping file names to base64-encoded images: {"<file name>": "<base64>", ...}' } };
  }
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.length === 0) {
    return { ok: false, problem: { code: 'no_image', message: 'the JSON body holds no image: send {"<file name>": "<base64-encoded image>", ...}' } };
  }
  if (entries.length > settings.maxImagesPerMessage) {
    return {
      ok: false,
      problem: {
        code: 'too_many_images',
        message: `too many images in one message: ${entries.length}, at most ${settings.maxImagesPerMessage} (twin property maxImagesPerMessage); split the message`,
      },
    };
  }
  const images = entries.map(([name, value]): DecodedImage => {
    if (typeof value !== 'string') {
      return { name, problem: { code: 'invalid_request', message: `${quoteName(name)}: the value must be a string holding a base64-encoded image` } };
    }
    try {
      return { name, bytes: decodeBase64Image(value, quoteName(name)) };
    } catch (error) {
      return { name, problem: problemOf(error) };
    }
  });
  return { ok: true, images };
}

/** The code and user-facing message of an error from the core or the scoring service; anything else is generic. */
export function problemOf(error: unknown): InputProblem {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (error instanceof Error && typeof code === 'string' && !code.startsWith('ERR_')) return { code, message: error.message };
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

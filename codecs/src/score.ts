/**
 * The seed's scoring contract, which users' apps depend on:
 *   {"<file name>": "<base64 image>", ...}  →  [{"<file name>": "<label>"}, ...]
 * one entry per image, in request order. With top-k each label becomes the k most probable labels and
 * their probabilities; a multi-label model answers each file with the labels at or above its threshold.
 * `POST /score` and the edge module's `score` direct method both speak it through this file; the edge
 * module's `images` input reads the same body per image (decodeScoreEntries).
 */
import type { ClassifyResult, Prediction } from '@model-deploy/inference';
import { decodeBase64Image, quoteName } from './base64.js';
import { predictionsOf, RequestError, tooManyImagesInRequest } from './problems.js';

/** The seed's wording of what is wrong with a body (also what the HTTP route's schema errors say). */
export const SCORE_PROBLEMS = {
  notAnObject: (): RequestError =>
    new RequestError('invalid_request', 'the request body must be a JSON object mapping file names to base64-encoded images: {"<file name>": "<base64>", ...}'),
  noImage: (): RequestError => new RequestError('no_image', 'the request body holds no image: send {"<file name>": "<base64-encoded image>", ...}'),
  notAString: (name: string): RequestError => new RequestError('invalid_request', `${quoteName(name)}: the value must be a string holding a base64-encoded image`),
  tooManyImages: tooManyImagesInRequest,
};

export interface ScoreRequest {
  names: string[];
  images: Buffer[];
}

export type ScoreEntry = { name: string; bytes: Buffer } | { name: string; problem: RequestError };

/** Each entry of a seed body on its own: a bad one is a problem of that image only. */
export function decodeScoreEntries(body: Record<string, unknown>): ScoreEntry[] {
  return Object.entries(body).map(([name, value]): ScoreEntry => {
    if (typeof value !== 'string') return { name, problem: SCORE_PROBLEMS.notAString(name) };
    try {
      return { name, bytes: decodeBase64Image(value, quoteName(name)) };
    } catch (error) {
      if (error instanceof RequestError) return { name, problem: error };
      throw error;
    }
  });
}

/** A whole seed request, as POST /score takes it: the first problem fails the request. */
export function decodeScoreRequest(body: unknown, maxImages: number): ScoreRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw SCORE_PROBLEMS.notAnObject();
  const names = Object.keys(body);
  if (names.length === 0) throw SCORE_PROBLEMS.noImage();
  if (names.length > maxImages) throw SCORE_PROBLEMS.tooManyImages(maxImages);
  const images = new Array<Buffer>(names.length);
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    const value = (body as Record<string, unknown>)[name];
    if (typeof value !== 'string') throw SCORE_PROBLEMS.notAString(name);
    images[i] = decodeBase64Image(value, quoteName(name));
  }
  return { names, images };
}

/** top_k as the core takes it: more than the number of classes means all of them. */
export function coreTopK(topK: number | undefined, classes: number): number | undefined {
  return topK === undefined ? undefined : Math.min(topK, classes);
}

/** The predictions in request order, or the first image's failure with its file name in front. */
export function scorePredictions(names: readonly string[], outcomes: readonly ClassifyResult[]): Prediction[] {
  return predictionsOf(outcomes, (i) => quoteName(names[i] as string));
}

// Labels are JSON-encoded once per label, not once per response.
const labelJson = new Map<string, string>();
function jsonLabel(label: string): string {
  let json = labelJson.get(label);
  if (json === undefined) {
    json = JSON.stringify(label);
    labelJson.set(label, json);
  }
  return json;
}

/** The answer's JSON text. Built by hand: the default shape is a few string concatenations, cheaper than any serializer. */
export function encodeScoreAnswer(names: readonly string[], predictions: readonly Prediction[], topK: number | undefined): string {
  let json = '[';
  for (let i = 0; i < predictions.length; i++) {
    const prediction = predictions[i]!;
    const answer = topK !== undefined ? JSON.stringify(prediction.top) : prediction.labels ? JSON.stringify(prediction.labels) : jsonLabel(prediction.label);
    json += `${i === 0 ? '' : ','}{${JSON.stringify(names[i])}:${answer}}`;
  }
  return `${json}]`;
}

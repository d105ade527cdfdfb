/**
 * Open Inference Protocol (V2): the model metadata answer, an infer request decoded into the core's
 * inputs, and the predictions encoded into the infer answer. The model takes either encoded image
 * files as a BYTES input named "image" (base64 strings in JSON) or an already-preprocessed tensor under
 * the model's own input name, datatype and shape (from the model description: NHWC stays NHWC, FP16
 * and UINT8 inputs are FP16 and UINT8). It answers the scores after the activation (FP32 [N,classes])
 * and the labels (BYTES [N]: the predicted label, or for a multi-label model a JSON array of the labels
 * at or above the threshold).
 */
import { InvalidTensorError, type ClassifyResult, type ModelCard, type Prediction } from '@model-deploy/inference';
import { decodeBase64Image } from './base64.js';
import { predictionsOf, RequestError, tooManyImagesInRequest } from './problems.js';

/** Name of the BYTES input carrying encoded image files. */
export const IMAGE_INPUT = 'image';
/** Name of the BYTES output carrying the predicted labels. */
export const LABEL_OUTPUT = 'label';

/** The protocol's datatype for each input dtype the core takes. */
export const V2_DATATYPE = { float32: 'FP32', float16: 'FP16', uint8: 'UINT8' } as const;

export interface ModelRef {
  name: string;
  version?: string;
}

export interface InferInput {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Record<string, unknown>;
  data: unknown[];
}

export interface InferBody {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: InferInput[];
  outputs?: Array<{ name: string; parameters?: Record<string, unknown> }>;
}

export interface InferOutput {
  name: string;
  datatype: string;
  shape: number[];
  data: Array<number | string>;
}

/** What the core is asked: image files, or a tensor of `count` images; and which outputs to answer. */
export type InferRequest = { id: string | undefined; wanted: ReadonlySet<string> } & (
  | { kind: 'images'; images: Buffer[] }
  | { kind: 'tensor'; tensor: Float32Array; count: number }
);

const quote = (text: string): string => JSON.stringify(text.slice(0, 100));
const datatypeFound = (datatype: unknown): string => JSON.stringify(String(datatype).slice(0, 20));

/** 404 unless `ref` names the served model (and, if given, its version). */
export function checkModel(card: ModelCard, ref: ModelRef): void {
  if (ref.name !== card.name) {
    throw new RequestError('model_not_found', `model ${quote(ref.name)} not found; this server serves ${JSON.stringify(card.name)}`);
  }
  if (ref.version !== undefined && ref.version !== card.version) {
    throw new RequestError(
      'model_not_found',
      `version ${quote(ref.version)} of model ${JSON.stringify(card.name)} not found; this server serves version ${JSON.stringify(card.version)}`,
    );
  }
}

export function serverMetadata(name: string, version: string): { name: string; version: string; extensions: string[] } {
  return { name, version, extensions: [] };
}

export function modelMetadata(card: ModelCard): Record<string, unknown> {
  return {
    name: card.name,
    versions: [card.version],
    platform: 'onnxruntime_onnx',
    inputs: [
      { name: IMAGE_INPUT, datatype: 'BYTES', shape: [-1] },
      { name: card.input.name, datatype: V2_DATATYPE[card.input.dtype], shape: [...card.input.shape] },
    ],
    outputs: [
      { name: card.output.name, datatype: 'FP32', shape: [-1, card.labels.length] },
      { name: LABEL_OUTPUT, datatype: 'BYTES', shape: [-1] },
    ],
    parameters: {
      labels: [...card.labels],
      sha256: card.sha256,
      task: card.output.task,
      ...(card.output.task === 'multi-label' ? { threshold: card.output.threshold } : {}),
    },
  };
}

function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major flattening; V2 allows nested arrays as well as flat ones. */
function flatten(data: unknown[]): unknown[] {
  return data.some(Array.isArray) ? (data.flat(Infinity) as unknown[]) : data;
}

function countImages(n: number, inputName: string, maxImages: number): void {
  if (n === 0) throw new RequestError('no_image', `input "${inputName}" holds no image`);
  if (n > maxImages) throw tooManyImagesInRequest(maxImages);
}

function wantedOutputs(card: ModelCard, body: InferBody): Set<string> {
  const wanted = new Set<string>();
  for (const output of body.outputs ?? []) {
    if (output.name !== card.output.name && output.name !== LABEL_OUTPUT) {
      throw new RequestError('invalid_request', `unknown output ${quote(output.name)}; this model has "${card.output.name}" and "${LABEL_OUTPUT}"`);
    }
    wanted.add(output.name);
  }
  if (wanted.size === 0) return new Set([card.output.name, LABEL_OUTPUT]);
  return wanted;
}

function decodeImages(input: InferInput, maxImages: number): Buffer[] {
  if (input.datatype !== 'BYTES') {
    throw new RequestError('invalid_request', `input "${IMAGE_INPUT}" must have datatype BYTES, got ${datatypeFound(input.datatype)}`);
  }
  const data = flatten(input.data);
  const n = data.length;
  const shapeOk = (input.shape.length === 1 || (input.shape.length === 2 && input.shape[1] === 1)) && input.shape[0] === n;
  if (!shapeOk) {
    throw new RequestError('invalid_request', `input "${IMAGE_INPUT}": shape ${JSON.stringify(input.shape)} does not match ${n} data elements (expected [${n}])`);
  }
  countImages(n, IMAGE_INPUT, maxImages);
  const images = new Array<Buffer>(n);
  for (let i = 0; i < n; i++) {
    const value = data[i];
    const what = `input "${IMAGE_INPUT}" element ${i}`;
    if (typeof value !== 'string') throw new RequestError('invalid_request', `${what}: must be a string holding a base64-encoded image`);
    images[i] = decodeBase64Image(value, what);
  }
  return images;
}

function decodeTensor(card: ModelCard, input: InferInput, maxImages: number): { tensor: Float32Array; count: number } {
  const name = card.input.name;
  const datatype = V2_DATATYPE[card.input.dtype];
  if (input.datatype !== datatype) {
    throw new RequestError('invalid_request', `input "${name}" must have datatype ${datatype}, got ${datatypeFound(input.datatype)}`);
  }
  const expected = card.input.shape;
  const shape = input.shape;
  const shapeOk = shape.length === expected.length && expected.every((d, i) => d < 0 || d === shape[i]);
  if (!shapeOk) {
    throw new RequestError('invalid_request', `input "${name}": shape ${JSON.stringify(shape)} does not match the model's ${JSON.stringify(expected)}`);
  }
  const count = shape[0] as number;
  countImages(count, name, maxImages);
  const data = flatten(input.data);
  if (data.length !== product(shape)) {
    throw new RequestError('invalid_request', `input "${name}": shape ${JSON.stringify(shape)} needs ${product(shape)} values, got ${data.length}`);
  }
  const tensor = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v !== 'number') throw new InvalidTensorError(`input "${name}" element ${i}: must be a number`);
    tensor[i] = v;
  }
  return { tensor, count };
}

/** An infer request (already checked against the protocol's JSON schema) as the core's inputs. */
export function decodeInferRequest(card: ModelCard, body: InferBody, maxImages: number): InferRequest {
  const wanted = wantedOutputs(card, body);
  if (body.inputs.length !== 1) {
    throw new RequestError('invalid_request', `expected exactly one input ("${IMAGE_INPUT}" or "${card.input.name}"), got ${body.inputs.length}`);
  }
  const input = body.inputs[0] as InferInput;
  const id = body.id;
  // A model may name its own input "image" too: then BYTES means image files, anything else the tensor.
  if (input.name === IMAGE_INPUT && (input.datatype === 'BYTES' || card.input.name !== IMAGE_INPUT)) {
    return { id, wanted, kind: 'images', images: decodeImages(input, maxImages) };
  }
  if (input.name === card.input.name) return { id, wanted, kind: 'tensor', ...decodeTensor(card, input, maxImages) };
  throw new RequestError(
    'invalid_request',
    `unknown input ${quote(input.name)}; this model takes "${IMAGE_INPUT}" (BYTES, base64 image files) or "${card.input.name}" (${V2_DATATYPE[card.input.dtype]} tensor)`,
  );
}

/** The predictions for the "image" input's elements, or the first failure naming its element. */
export function imagePredictions(outcomes: readonly ClassifyResult[]): Prediction[] {
  return predictionsOf(outcomes, (i) => `input "${IMAGE_INPUT}" element ${i}`);
}

/** The infer answer: the wanted outputs over all predictions, in request order. */
export function encodeInferResponse(card: ModelCard, request: Pick<InferRequest, 'id' | 'wanted'>, predictions: readonly Prediction[]): Record<string, unknown> {
  const n = predictions.length;
  const classes = card.labels.length;
  const outputs: InferOutput[] = [];
  if (request.wanted.has(card.output.name)) {
    const data = new Array<number>(n * classes);
    for (let i = 0; i < n; i++) {
      const p = predictions[i]!.probabilities;
      for (let j = 0; j < classes; j++) data[i * classes + j] = p[j] as number;
    }
    outputs.push({ name: card.output.name, datatype: 'FP32', shape: [n, classes], data });
  }
  if (request.wanted.has(LABEL_OUTPUT)) {
    outputs.push({ name: LABEL_OUTPUT, datatype: 'BYTES', shape: [n], data: predictions.map((p) => (p.labels ? JSON.stringify(p.labels) : p.label)) });
  }
  return { model_name: card.name, model_version: card.version, ...(request.id === undefined ? {} : { id: request.id }), outputs };
}

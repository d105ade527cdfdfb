// The codecs alone: no model, no HTTP server. Bad calls first, then the answers they encode.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  InferenceError,
  inferenceErrorFrom,
  InvalidImageError,
  isInferenceErrorCode,
  OverloadedError,
  type ModelCard,
  type Prediction,
} from '@model-deploy/inference';
import {
  decodeInferRequest,
  decodeScoreEntries,
  decodeScoreRequest,
  encodeInferResponse,
  encodeScoreAnswer,
  HTTP_STATUS,
  problemOf,
  RequestError,
  scorePredictions,
  tooManyImages,
  withContext,
} from '../src/index.js';

const card = {
  name: 'shoes',
  version: '2',
  sha256: 'ab'.repeat(32),
  labels: ['boot', 'sandal', 'sneaker'],
  input: { name: 'pixels', dtype: 'float32', shape: [-1, 1, 2, 2] },
  output: { name: 'scores', task: 'single-label' },
} as unknown as ModelCard;

const png = Buffer.from('\x89PNG fake').toString('base64');

function prediction(label: string, index: number): Prediction {
  const probabilities = new Float32Array([0.1, 0.1, 0.1]);
  probabilities[index] = 0.8;
  return { label, index, confidence: 0.8, top: [{ label, probability: 0.8 }], probabilities };
}

function rejects(fn: () => unknown, code: string, status: number, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    const problem = problemOf(error);
    assert.ok(problem, `a problem the codecs know, got ${String(error)}`);
    assert.equal(problem.code, code);
    assert.equal(problem.status, status);
    if (message) assert.match(problem.message, message);
    return true;
  });
}

describe('codecs: error codes and statuses', () => {
  it('every core code rebuilds its own class and has an HTTP status', () => {
    const coreCodes = Object.keys(HTTP_STATUS).filter(isInferenceErrorCode);
    assert.equal(coreCodes.length, 8);
    for (const code of coreCodes) {
      const error = inferenceErrorFrom(code, 'why');
      assert.ok(error instanceof InferenceError, code);
      assert.equal(error.code, code);
      assert.equal(error.name.endsWith('Error'), true);
      assert.equal(problemOf(error)!.status, HTTP_STATUS[code]);
    }
  });

  it('5xx hide their message; "busy" ones say when to come back', () => {
    assert.deepEqual(problemOf(inferenceErrorFrom('inference_failed', 'onnxruntime: bad alloc at 0x1')), { status: 500, code: 'internal_error', message: 'internal error' });
    assert.equal(problemOf(new OverloadedError('queue full', 2.2))!.retryAfterSeconds, 3);
    assert.equal(problemOf(inferenceErrorFrom('model_not_ready', 'loading'))!.retryAfterSeconds, 5);
    assert.equal(problemOf(new Error('anything else')), undefined);
    assert.equal(problemOf(Object.assign(new Error('looks like one'), { code: 'invalid_image' })), undefined, 'a code alone does not make a core error');
  });

  it('context goes in front of a client error and keeps its class; server errors pass unchanged', () => {
    const wrapped = withContext(new InvalidImageError('unsupported image format'), '"a.png"');
    assert.ok(wrapped instanceof InvalidImageError);
    assert.equal(wrapped.message, '"a.png": unsupported image format');
    const failed = inferenceErrorFrom('inference_failed', 'x');
    assert.equal(withContext(failed, '"a.png"'), failed);
  });

  it('"too many images" has one wording, with the setting that limits it', () => {
    assert.equal(tooManyImages(64, { unit: 'request', setting: 'MAX_IMAGES_PER_REQUEST' }), 'too many images in one request: at most 64 (MAX_IMAGES_PER_REQUEST); split the request');
    assert.equal(tooManyImages(2, { unit: 'message', setting: 'twin property maxImagesPerMessage', count: 3 }), 'too many images in one message: 3, at most 2 (twin property maxImagesPerMessage); split the message');
  });
});

describe('codecs: the seed /score format', () => {
  it('refuses what is not a request, naming the problem', () => {
    rejects(() => decodeScoreRequest(null, 4), 'invalid_request', 400, /JSON object mapping file names/);
    rejects(() => decodeScoreRequest(['x'], 4), 'invalid_request', 400);
    rejects(() => decodeScoreRequest({}, 4), 'no_image', 400);
    rejects(() => decodeScoreRequest({ a: png, b: png, c: png }, 2), 'too_many_images', 413, /at most 2 \(MAX_IMAGES_PER_REQUEST\)/);
    rejects(() => decodeScoreRequest({ 'a.png': 42 }, 4), 'invalid_request', 400, /^"a\.png": the value must be a string/);
    rejects(() => decodeScoreRequest({ 'a.png': 'no!base64' }, 4), 'invalid_base64', 400, /^"a\.png": not valid base64/);
  });

  it('per entry, a bad image is a problem of that image only', () => {
    const entries = decodeScoreEntries({ 'a.png': png, 'b.png': 7, 'c.png': '' });
    assert.ok('bytes' in entries[0]!);
    assert.equal((entries[1] as { problem: RequestError }).problem.code, 'invalid_request');
    assert.equal((entries[2] as { problem: RequestError }).problem.code, 'invalid_base64');
  });

  it('answers in request order; the first failed image fails the request with its name', () => {
    const names = ['b.png', 'a.png'];
    const predictions = [prediction('sandal', 1), prediction('boot', 0)];
    assert.deepEqual(JSON.parse(encodeScoreAnswer(names, predictions, undefined)), [{ 'b.png': 'sandal' }, { 'a.png': 'boot' }]);
    assert.deepEqual(JSON.parse(encodeScoreAnswer(names, predictions, 1)), [{ 'b.png': [{ label: 'sandal', probability: 0.8 }] }, { 'a.png': [{ label: 'boot', probability: 0.8 }] }]);
    const outcomes = [{ ok: true as const, prediction: predictions[0]! }, { ok: false as const, error: new InvalidImageError('truncated') }];
    rejects(() => scorePredictions(names, outcomes), 'invalid_image', 400, /^"a\.png": truncated$/);
  });
});

describe('codecs: Open Inference Protocol V2', () => {
  const images = (data: unknown[], shape = [data.length]) => ({ inputs: [{ name: 'image', datatype: 'BYTES', shape, data }] });

  it('refuses a request the model cannot take, naming the input or output', () => {
    rejects(() => decodeInferRequest(card, { ...images([png]), outputs: [{ name: 'probs' }] }, 4), 'invalid_request', 400, /unknown output "probs"; this model has "scores" and "label"/);
    rejects(() => decodeInferRequest(card, { inputs: [...images([png]).inputs, ...images([png]).inputs] }, 4), 'invalid_request', 400, /exactly one input/);
    rejects(() => decodeInferRequest(card, images([png], [2]), 4), 'invalid_request', 400, /does not match 1 data elements/);
    rejects(() => decodeInferRequest(card, images([]), 4), 'no_image', 400);
    rejects(() => decodeInferRequest(card, images([png, png, png]), 2), 'too_many_images', 413, /at most 2 \(MAX_IMAGES_PER_REQUEST\)/);
    rejects(() => decodeInferRequest(card, images([3]), 4), 'invalid_request', 400, /element 0: must be a string/);
    const tensor = (data: unknown[], shape: number[], datatype = 'FP32') => ({ inputs: [{ name: 'pixels', datatype, shape, data }] });
    rejects(() => decodeInferRequest(card, tensor([1, 2, 3, 4], [1, 1, 2, 2], 'INT8'), 4), 'invalid_request', 400, /must have datatype FP32, got "INT8"/);
    rejects(() => decodeInferRequest(card, tensor([1, 2, 3, 4], [1, 2, 2]), 4), 'invalid_request', 400, /does not match the model's \[-1,1,2,2\]/);
    rejects(() => decodeInferRequest(card, tensor([1, 2, 3], [1, 1, 2, 2]), 4), 'invalid_request', 400, /needs 4 values, got 3/);
    rejects(() => decodeInferRequest(card, tensor([1, 2, 'x', 4], [1, 1, 2, 2]), 4), 'invalid_tensor', 400, /element 2: must be a number/);
    rejects(() => decodeInferRequest(card, { inputs: [{ name: 'x', datatype: 'BYTES', shape: [1], data: [png] }] }, 4), 'invalid_request', 400, /unknown input "x"/);
  });

  it('decodes images and nested tensors, and encodes only the outputs asked for', () => {
    const decodedImages = decodeInferRequest(card, { id: '7', ...images([png, png]) }, 4);
    assert.equal(decodedImages.kind, 'images');
    const decoded = decodeInferRequest(card, { inputs: [{ name: 'pixels', datatype: 'FP32', shape: [1, 1, 2, 2], data: [[[[0, 0.25], [0.5, 1]]]] }], outputs: [{ name: 'label' }] }, 4);
    assert.ok(decoded.kind === 'tensor');
    assert.deepEqual([...decoded.tensor], [0, 0.25, 0.5, 1]);
    assert.equal(decoded.count, 1);
    assert.deepEqual(encodeInferResponse(card, decoded, [prediction('sneaker', 2)]), {
      model_name: 'shoes',
      model_version: '2',
      outputs: [{ name: 'label', datatype: 'BYTES', shape: [1], data: ['sneaker'] }],
    });
    const both = encodeInferResponse(card, decodedImages, [prediction('boot', 0), prediction('sandal', 1)]) as { id: string; outputs: Array<{ name: string; shape: number[] }> };
    assert.equal(both.id, '7');
    assert.deepEqual(both.outputs.map((o) => [o.name, o.shape]), [['scores', [2, 3]], ['label', [2]]]);
  });
});

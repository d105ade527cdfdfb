/**
 * Both contracts carry any model the core can read: a multi-label Hugging Face export, a Keras-style
 * NHWC export whose graph ends in Softmax, and a uint8 NHWC card (the inference core's export-folder
 * fixtures, real ONNX models). Expected scores come from the fixtures' numpy reference.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { Classifier } from '@model-deploy/inference';
import { buildApp, KeyRing } from '../src/index.js';
import { repoRoot } from './helpers.js';

const KEY = 'test-any-model-key-1234';
const headers = { 'content-type': 'application/json', authorization: `Bearer ${KEY}` };
const folders = join(repoRoot, 'inference/test/fixtures/folders');
const expected = JSON.parse(await readFile(join(folders, 'expected.json'), 'utf8')) as Record<string, number[]> & { colour: number[] };
const [r, g, b] = expected.colour as [number, number, number];
const solid = (await sharp({ create: { width: 30, height: 20, channels: 3, background: { r, g, b } } }).png().toBuffer()).toString('base64');

const open: Array<{ app: FastifyInstance; classifier: Classifier }> = [];
async function serve(folder: string): Promise<{ app: FastifyInstance; classifier: Classifier }> {
  const classifier = await Classifier.load({ modelDir: join(folders, folder), intraOpThreads: 1 });
  const app = await buildApp({ classifier, auth: { mode: 'bearer', keys: new KeyRing([KEY]) } });
  open.push({ app, classifier });
  return { app, classifier };
}
after(async () => {
  for (const { app, classifier } of open) {
    await app.close();
    await classifier.close();
  }
});

describe('a multi-label Hugging Face export', () => {
  it('/score answers the labels at or above the threshold; V2 answers the sigmoid scores and the labels as JSON', async () => {
    const { app, classifier } = await serve('hf-multilabel');
    const want = classifier.card.labels.filter((_, i) => expected['hf-multilabel']![i]! >= 0.5);
    const score = await app.inject({ method: 'POST', url: '/score', headers, payload: { 'a.png': solid } });
    assert.equal(score.statusCode, 200);
    const answer = score.json() as Array<Record<string, string[]>>;
    assert.deepEqual([...answer[0]!['a.png']!].sort(), [...want].sort());

    const meta = await app.inject({ method: 'GET', url: '/v2/models/hf-multilabel', headers });
    assert.equal(meta.statusCode, 200);
    const m = meta.json() as { name: string; inputs: unknown[]; parameters: Record<string, unknown> };
    assert.equal(m.name, 'hf-multilabel', 'the V2 name defaults to the folder name');
    assert.deepEqual(m.inputs, [
      { name: 'image', datatype: 'BYTES', shape: [-1] },
      { name: 'pixel_values', datatype: 'FP32', shape: [-1, 3, 16, 16] },
    ]);
    assert.equal(m.parameters.task, 'multi-label');
    assert.equal(m.parameters.threshold, 0.5);

    const infer = await app.inject({
      method: 'POST',
      url: '/v2/models/hf-multilabel/infer',
      headers,
      payload: { inputs: [{ name: 'image', datatype: 'BYTES', shape: [2], data: [solid, solid] }] },
    });
    assert.equal(infer.statusCode, 200);
    const outputs = (infer.json() as { outputs: Array<{ name: string; datatype: string; shape: number[]; data: Array<number | string> }> }).outputs;
    const [scores, labels] = outputs;
    assert.equal(scores!.name, 'logits');
    assert.deepEqual(scores!.shape, [2, 4]);
    (scores!.data as number[]).forEach((s, i) => assert.ok(Math.abs(s - expected['hf-multilabel']![i % 4]!) < 1e-5, `score ${i}`));
    assert.deepEqual(labels, { name: 'label', datatype: 'BYTES', shape: [2], data: [JSON.stringify(answer[0]!['a.png']), JSON.stringify(answer[0]!['a.png'])] });
  });
});

describe('a Keras-style NHWC export ending in Softmax', () => {
  it('V2 metadata keeps NHWC and the real names; scores are the graph\'s own probabilities (no second softmax)', async () => {
    const { app } = await serve('hf-keras-nhwc');
    const meta = (await app.inject({ method: 'GET', url: '/v2/models/hf-keras-nhwc', headers })).json() as { inputs: unknown[]; outputs: unknown[] };
    assert.deepEqual(meta.inputs[1], { name: 'input_1', datatype: 'FP32', shape: [-1, 16, 16, 3] });
    assert.deepEqual(meta.outputs[0], { name: 'dense', datatype: 'FP32', shape: [-1, 3] });
    const infer = await app.inject({
      method: 'POST',
      url: '/v2/models/hf-keras-nhwc/infer',
      headers,
      payload: { inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [solid] }], outputs: [{ name: 'dense' }] },
    });
    assert.equal(infer.statusCode, 200);
    const data = (infer.json() as { outputs: Array<{ data: number[] }> }).outputs[0]!.data;
    data.forEach((s, i) => assert.ok(Math.abs(s - expected['hf-keras-nhwc']![i]!) < 1e-5, `score ${i}: ${s}`));
  });
});

describe('a uint8 NHWC card', () => {
  it('takes a UINT8 tensor in the model\'s layout, and refuses FP32 or out-of-range values with a 400 naming the problem', async () => {
    const { app } = await serve('card-v2-uint8');
    const meta = (await app.inject({ method: 'GET', url: '/v2/models/tiny-uint8', headers })).json() as { inputs: unknown[] };
    assert.deepEqual(meta.inputs[1], { name: 'uint8_input', datatype: 'UINT8', shape: [-1, 16, 16, 3] });
    // The BGR pixels of the solid image, as the card's preprocessing gives them, in NHWC order.
    const pixel = [b, g, r];
    const data = Array.from({ length: 16 * 16 * 3 }, (_, i) => pixel[i % 3]!);
    const infer = (datatype: string, values: number[]) =>
      app.inject({
        method: 'POST',
        url: '/v2/models/tiny-uint8/versions/3/infer',
        headers,
        payload: { inputs: [{ name: 'uint8_input', datatype, shape: [1, 16, 16, 3], data: values }] },
      });
    const ok = await infer('UINT8', data);
    assert.equal(ok.statusCode, 200);
    const scores = (ok.json() as { outputs: Array<{ data: number[] }> }).outputs[0]!.data;
    scores.forEach((s, i) => assert.ok(Math.abs(s - expected['card-v2-uint8']![i]!) < 1e-5, `score ${i}: ${s}`));

    const fp32 = await infer('FP32', data);
    assert.equal(fp32.statusCode, 400);
    assert.deepEqual(fp32.json(), { error: 'input "uint8_input" must have datatype UINT8, got "FP32"' });
    const outOfRange = await infer('UINT8', [300, ...data.slice(1)]);
    assert.equal(outOfRange.statusCode, 400);
    assert.match((outOfRange.json() as { error: string }).error, /tensor value at index 0 is 300; the model's input is uint8: expected an integer from 0 to 255/);
  });
});

describe('a model whose own input is named "image"', () => {
  it('takes BYTES "image" as image files and a tensor "image" as the tensor', async () => {
    const { app } = await serve('hf-input-named-image');
    const url = '/v2/models/hf-input-named-image/infer';
    const files = await app.inject({ method: 'POST', url, headers, payload: { inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [solid] }] } });
    assert.equal(files.statusCode, 200);
    const fromFile = (files.json() as { outputs: Array<{ data: number[] }> }).outputs[0]!.data;
    // The same solid colour as a preprocessed tensor (rescale only): the same scores.
    const data = Array.from({ length: 3 * 16 * 16 }, (_, i) => [r, g, b][Math.floor(i / 256)]! / 255);
    const tensor = await app.inject({ method: 'POST', url, headers, payload: { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 3, 16, 16], data }] } });
    assert.equal(tensor.statusCode, 200);
    const fromTensor = (tensor.json() as { outputs: Array<{ data: number[] }> }).outputs[0]!.data;
    fromTensor.forEach((s, i) => {
      assert.ok(Math.abs(s - expected['hf-input-named-image']![i]!) < 1e-5, `tensor score ${i}`);
      assert.ok(Math.abs(s - fromFile[i]!) < 1e-5, `file score ${i}`);
    });
  });
});

/**
 * The service with the second bundled model, a Hugging Face-style folder with no card of ours
 * (model/fashion-rgb-keras: the 2018 tutorial's network on 32x32 RGB, NHWC input, Softmax at the end
 * of the graph, as a Keras export gives it): /score and V2 answer what PyTorch predicted at training
 * time for each sample, and V2 metadata shows the model as it is.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Classifier } from '@model-deploy/inference';
import { buildApp, KeyRing } from '../src/index.js';
import { repoRoot } from './helpers.js';

const KEY = 'test-second-model-key-42';
const headers = { 'content-type': 'application/json', authorization: `Bearer ${KEY}` };
const modelDir = join(repoRoot, 'model/fashion-rgb-keras');
const training = JSON.parse(await readFile(join(modelDir, 'training.json'), 'utf8')) as { samples: Record<string, { predicted: string }> };

let classifier: Classifier;
let app: FastifyInstance;
before(async () => {
  classifier = await Classifier.load({ modelDir, intraOpThreads: 1 });
  app = await buildApp({ classifier, auth: { mode: 'bearer', keys: new KeyRing([KEY]) } });
});
after(async () => {
  await app.close();
  await classifier.close();
});

describe('the second bundled model (Keras-style NHWC export, Hugging Face folder)', () => {
  it('is described from its folder and graph: NHWC, no second softmax, named after the folder', () => {
    const d = classifier.card;
    assert.equal(d.name, 'fashion-rgb-keras');
    assert.deepEqual(d.input.shape, [-1, 32, 32, 3]);
    assert.equal(d.input.layout, 'NHWC');
    assert.equal(d.output.activation, 'none');
    assert.equal(d.output.graphEndsIn, 'Softmax');
  });

  it('/score labels every sample as PyTorch did', async () => {
    const files = Object.keys(training.samples);
    const body: Record<string, string> = {};
    for (const f of files) body[f] = (await readFile(join(modelDir, 'samples', f))).toString('base64');
    const res = await app.inject({ method: 'POST', url: '/score', headers, payload: body });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), files.map((f) => ({ [f]: training.samples[f]!.predicted })));
  });

  it('V2 metadata lists the raw input as the model has it, and infer answers probabilities that sum to 1', async () => {
    const meta = (await app.inject({ method: 'GET', url: '/v2/models/fashion-rgb-keras', headers })).json() as { inputs: unknown[] };
    assert.deepEqual(meta.inputs[1], { name: 'input_1', datatype: 'FP32', shape: [-1, 32, 32, 3] });
    const file = Object.keys(training.samples)[0]!;
    const image = (await readFile(join(modelDir, 'samples', file))).toString('base64');
    const infer = await app.inject({
      method: 'POST',
      url: '/v2/models/fashion-rgb-keras/infer',
      headers,
      payload: { inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [image] }] },
    });
    assert.equal(infer.statusCode, 200);
    const [scores, labels] = (infer.json() as { outputs: Array<{ name: string; data: Array<number | string> }> }).outputs;
    assert.equal(scores!.name, 'dense_1');
    const sum = (scores!.data as number[]).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5, `sum ${sum}`);
    assert.deepEqual(labels!.data, [training.samples[file]!.predicted]);
  });
});

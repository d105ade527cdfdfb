// The `score` direct method answers what POST /score answers, status and body, for good and bad
// payloads alike: both go through @model-deploy/codecs, one without HTTP. Real model, real app.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Classifier } from '@model-deploy/inference';
import { buildApp } from '@model-deploy/scoring-service';
import type { FastifyInstance } from 'fastify';
import { scoreMethod } from '../src/direct-methods.js';
import type { ScoreHandler } from '../src/module-client.js';

const MODEL_DIR = join(import.meta.dirname, '../../model');
const sample = (file: string): string => readFileSync(join(MODEL_DIR, 'samples', file)).toString('base64');
const MAX = 3;

let classifier: Classifier;
let app: FastifyInstance;
let score: ScoreHandler;

before(async () => {
  classifier = await Classifier.load({ modelDir: MODEL_DIR, intraOpThreads: 1 });
  app = await buildApp({ classifier, auth: { mode: 'disabled' }, limits: { maxImagesPerRequest: MAX } });
  score = scoreMethod(classifier, MAX);
});
after(async () => {
  await app?.close();
  await classifier?.close();
});

async function overHttp(payload: unknown, topK: number): Promise<{ status: number; body: unknown }> {
  const response = await app.inject({
    method: 'POST',
    url: topK > 1 ? `/score?top_k=${topK}` : '/score',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(payload),
  });
  return { status: response.statusCode, body: response.json() };
}

describe('score direct method', () => {
  const cases: Array<[string, unknown, number]> = [
    ['two images', { 'ankle-boot.png': sample('ankle-boot.png'), 'dress.png': sample('dress.png') }, 1],
    ['top-k from the twin', { 'bag.png': sample('bag.png') }, 3],
    ['top-k above the number of classes', { 'bag.png': sample('bag.png') }, 10],
    ['no image', {}, 1],
    ['not an object', null, 1],
    ['an array', ['x'], 1],
    ['too many images', { a: sample('bag.png'), b: sample('bag.png'), c: sample('bag.png'), d: sample('bag.png') }, 1],
    ['a value that is not a string', { 'a.png': 42 }, 1],
    ['invalid base64', { 'a.png': '***' }, 1],
    ['bytes that are not an image', { 'ok.png': sample('bag.png'), 'x.png': 'AAAA' }, 1],
  ];
  for (const [what, payload, topK] of cases) {
    it(`answers as POST /score: ${what}`, async () => {
      const expected = await overHttp(payload, topK);
      assert.deepEqual(await score(payload, topK), expected);
    });
  }
});

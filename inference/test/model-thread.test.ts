/**
 * Classifier.load({ modelThreads }): the model runs on threads of its own (model-thread.ts), each with
 * its own session and batches, and answers exactly what the in-process session answers; a thread's
 * session is opened on the verified file only, and a thread that dies is replaced at the next run.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { AUTO_MODEL_THREADS_BYTES, autoModelThreads } from '../src/classifier.js';
import { Classifier, InferenceFailedError, type ClassifyResult } from '../src/index.js';
import { ModelThread } from '../src/model-thread.js';
import sharp from 'sharp';
import { fixturesDir, modelDir } from './helpers.js';

const samples = JSON.parse(await readFile(join(modelDir, 'samples/labels.json'), 'utf8')) as Record<string, string>;
const files = Object.keys(samples).filter((f) => f.endsWith('.png'));
const images = await Promise.all(files.map((f) => readFile(join(modelDir, 'samples', f))));

describe('Classifier with modelThreads', () => {
  let threaded: Classifier;
  let inProcess: Classifier;
  let batches: number[] = [];
  before(async () => {
    threaded = await Classifier.load({ modelDir, modelThreads: 2, intraOpThreads: 1, preprocessThreads: 0, observer: { onBatch: (size) => batches.push(size) } });
    inProcess = await Classifier.load({ modelDir, intraOpThreads: 1, preprocessThreads: 0 });
  });
  after(async () => {
    await threaded.close();
    await inProcess.close();
  });

  it('answers the same labels and probabilities as the in-process session, one call and batched over both threads', async () => {
    batches = [];
    const [a, b] = await Promise.all([threaded.classifyAll(images, { topK: 3 }), inProcess.classifyAll(images, { topK: 3 })]);
    assert.equal(a.length, images.length);
    a.forEach((result, i) => {
      assert.ok(result.ok && b[i]!.ok);
      assert.equal(result.prediction.label, samples[files[i]!]);
      assert.deepEqual(result.prediction.top, b[i]!.ok ? b[i]!.prediction.top : undefined);
      assert.deepEqual([...result.prediction.probabilities], b[i]!.ok ? [...b[i]!.prediction.probabilities] : undefined);
    });
    // The images went to both threads: two runs at least, none above the batch size.
    assert.ok(batches.length >= 2, `expected runs on both threads, got batches ${JSON.stringify(batches)}`);
    assert.equal(batches.reduce((n, size) => n + size, 0), images.length);
    const one = await threaded.classify(images[0]!);
    assert.equal(one.label, samples[files[0]!]);
  });

  it('classifies a tensor given by the caller without taking the caller\'s copy away', async () => {
    const tensor = new Float32Array(threaded.geometry.size).fill(0.25);
    const [p] = await threaded.classifyTensor(tensor, 1);
    const [q] = await inProcess.classifyTensor(tensor, 1);
    assert.equal(tensor.length, threaded.geometry.size);
    assert.deepEqual([...p!.probabilities], [...q!.probabilities]);
  });
});

describe('Classifier with a model thread, on every input and output type of the export-folder fixtures', () => {
  const dir = join(fixturesDir, 'folders');
  for (const folder of ['card-v2-uint8', 'card-v2-float16', 'hf-keras-nhwc', 'hf-multilabel']) {
    it(`${folder}: the same scores as in-process`, async () => {
      const expected = JSON.parse(await readFile(join(dir, 'expected.json'), 'utf8')) as { colour: [number, number, number] };
      const [r, g, b] = expected.colour;
      const solid = await sharp({ create: { width: 21, height: 14, channels: 3, background: { r, g, b } } }).png().toBuffer();
      const [threaded, inProcess] = await Promise.all([
        Classifier.load({ modelDir: join(dir, folder), modelThreads: 1, intraOpThreads: 1, preprocessThreads: 0 }),
        Classifier.load({ modelDir: join(dir, folder), intraOpThreads: 1, preprocessThreads: 0 }),
      ]);
      try {
        const [[a], [b2]] = (await Promise.all([threaded.classifyAll([solid]), inProcess.classifyAll([solid])])) as [[ClassifyResult], [ClassifyResult]];
        assert.ok(a!.ok && b2!.ok, JSON.stringify([a, b2]));
        assert.deepEqual([...a.prediction.probabilities], [...b2.prediction.probabilities]);
        assert.deepEqual(a.prediction.labels, b2.prediction.labels);
      } finally {
        await Promise.all([threaded.close(), inProcess.close()]);
      }
    });
  }
});

describe('ModelThread', () => {
  it('refuses a model file whose sha256 is not the one verified', async () => {
    await assert.rejects(
      ModelThread.start({ modelPath: join(modelDir, 'model.onnx'), sha256: '0'.repeat(64), sessionOptions: { intraOpNumThreads: 1 } }),
      /changed since it was verified/,
    );
  });

  it('fails the runs of a thread that died, and starts a new thread for the next run', async () => {
    const classifier = await Classifier.load({ modelDir, modelThreads: 1, intraOpThreads: 1, preprocessThreads: 0 });
    try {
      const lanes = (classifier as unknown as { lanes: Array<{ session: { worker: Promise<Worker> } }> }).lanes;
      const worker = await lanes[0]!.session.worker;
      const running = classifier.classify(images[0]!);
      await worker.terminate();
      const first = await running.then(() => 'answered', (e: unknown) => (e instanceof InferenceFailedError ? 'failed' : `other: ${String(e)}`));
      // Terminated before or after its run: either way the caller hears of it, with the core's error.
      assert.ok(first === 'answered' || first === 'failed', first);
      const again = await classifier.classify(images[1]!);
      assert.equal(again.label, samples[files[1]!]);
    } finally {
      await classifier.close();
    }
  });
});

describe("modelThreads 'auto'", () => {
  it('is one per CPU, at most 4, and at most as many model copies as fit in 256 MiB, at least 1', () => {
    const MB = 1024 * 1024;
    assert.equal(autoModelThreads(2, 1.6 * MB), 2);
    assert.equal(autoModelThreads(16, 14 * MB), 4);
    assert.equal(autoModelThreads(4, 100 * MB), 2);
    assert.equal(autoModelThreads(4, 330 * MB), 1);
    assert.equal(autoModelThreads(1, 1 * MB), 1);
    assert.equal(AUTO_MODEL_THREADS_BYTES, 256 * MB);
  });

  it('loads and answers with the threads it chose', async () => {
    const classifier = await Classifier.load({ modelDir, modelThreads: 'auto', preprocessThreads: 0 });
    try {
      const results = await classifier.classifyAll(images.slice(0, 4));
      results.forEach((r, i) => assert.ok(r.ok && r.prediction.label === samples[files[i]!]));
    } finally {
      await classifier.close();
    }
  });

  it('refuses a modelThreads that is neither a non-negative integer nor auto', async () => {
    await assert.rejects(Classifier.load({ modelDir, modelThreads: -1 }), /modelThreads must be a non-negative integer or 'auto' \(got -1\)/);
  });
});

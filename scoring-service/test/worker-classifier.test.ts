/**
 * The core hosted in a worker thread answers exactly like the core in-process: same predictions,
 * same error codes (which the error handler maps), batch metrics, load failures and close().
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Classifier, WorkerClassifier } from '@model-deploy/inference';
import { buildApp } from '../src/index.js';
import { loadSamples, modelDir, type Sample } from './helpers.js';

let samples: Sample[];
let inProcess: Classifier;
let remote: WorkerClassifier;
const batches: number[] = [];

before(async () => {
  samples = await loadSamples();
  inProcess = await Classifier.load({ modelDir, intraOpThreads: 1 });
  remote = await WorkerClassifier.load({ modelDir, intraOpThreads: 1, maxQueue: 16, observer: { onBatch: (size) => batches.push(size) } });
});
after(async () => {
  await inProcess.close();
  await remote.close();
});

describe('WorkerClassifier', () => {
  it('predicts what the in-process core predicts, in order, with top-k', async () => {
    assert.deepEqual(remote.card, inProcess.card);
    const images = samples.map((s) => s.bytes);
    const [a, b] = await Promise.all([remote.classifyAll(images, { topK: 3 }), inProcess.classifyAll(images, { topK: 3 })]);
    assert.equal(a.length, samples.length);
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!;
      const y = b[i]!;
      assert.ok(x.ok && y.ok);
      assert.equal(x.prediction.label, y.prediction.label);
      assert.deepEqual(x.prediction.top.map((t) => t.label), y.prediction.top.map((t) => t.label));
      assert.ok(x.prediction.probabilities instanceof Float32Array);
      assert.deepEqual([...x.prediction.probabilities], [...y.prediction.probabilities]);
    }
    assert.ok(batches.length > 0 && batches.reduce((s, n) => s + n, 0) >= samples.length, 'batch sizes reach the observer');
    assert.equal(remote.queueDepth, 0);

    const tensor = new Float32Array(2 * 784).map((_, i) => (i % 13) / 13);
    const [t1, t2] = await Promise.all([remote.classifyTensor(tensor, 2), inProcess.classifyTensor(tensor, 2)]);
    assert.deepEqual(t1.map((p) => p.label), t2.map((p) => p.label));
  });

  it('with transfer, moves the images that own their memory to the thread (once each) and copies the others', async () => {
    const own = new Uint8Array(samples[0]!.bytes);
    const shared = Buffer.concat([samples[1]!.bytes, Buffer.from('more')]).subarray(0, samples[1]!.bytes.length);
    const expected = await inProcess.classifyAll([samples[0]!.bytes, samples[1]!.bytes, samples[0]!.bytes]);
    // The same image twice: its buffer is moved once (a transfer list naming it twice would throw).
    const results = await remote.classifyAll([own, shared, own], { transfer: true });
    assert.deepEqual(results.map((r) => r.ok && r.prediction.label), expected.map((r) => r.ok && r.prediction.label));
    assert.equal(own.byteLength, 0, 'moved: the caller\'s view is detached');
    assert.equal(shared.byteLength, samples[1]!.bytes.length, 'shares its memory: copied');
    const kept = new Uint8Array(samples[0]!.bytes);
    await remote.classifyAll([kept]);
    assert.equal(kept.byteLength, samples[0]!.bytes.length, 'not handed over: copied');
  });

  it('carries the core errors across with their codes', async () => {
    const results = await remote.classifyAll([Buffer.from('not an image'), samples[0]!.bytes]);
    assert.equal(results[0]!.ok, false);
    assert.equal((results[0] as { error: { code: string; message: string } }).error.code, 'invalid_image');
    assert.equal(results[1]!.ok, true);

    await assert.rejects(remote.classifyAll(Array.from({ length: 17 }, () => samples[0]!.bytes)), (err: Error & { code?: string; retryAfterSeconds?: number }) => {
      assert.equal(err.code, 'overloaded');
      assert.equal(err.retryAfterSeconds, 1);
      return true;
    });
    await assert.rejects(remote.classifyTensor(new Float32Array(3), 1), { code: 'invalid_tensor' });
  });

  it('serves the app', async () => {
    const app = await buildApp({ classifier: remote, auth: { mode: 'disabled' } });
    try {
      const s = samples[0]!;
      const res = await app.inject({ method: 'POST', url: '/score', payload: { [s.name]: s.base64, 'bad.png': 'AAAA' } });
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), { error: '"bad.png": unsupported image format: expected PNG, JPEG, GIF, WebP, AVIF or TIFF', code: 'invalid_image' });
      const ok = await app.inject({ method: 'POST', url: '/score', payload: { [s.name]: s.base64 } });
      assert.deepEqual(ok.json(), [{ [s.name]: (await inProcess.classify(s.bytes)).label }]);
    } finally {
      await app.close();
    }
  });

  it('rejects load with the core error when the model cannot be loaded', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'scoring-empty-model-'));
    try {
      await assert.rejects(WorkerClassifier.load({ modelDir: empty }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'invalid_model_card');
        assert.match(err.message, /card\.json/);
        return true;
      });
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('after close(): not ready, and calls answer model_not_ready', async () => {
    const c = await WorkerClassifier.load({ modelDir, intraOpThreads: 1 });
    const running = c.classifyAll([samples[0]!.bytes]);
    const closing = c.close();
    assert.equal(c.ready, false);
    assert.equal((await running)[0]!.ok, true, 'work admitted before close() completes');
    await closing;
    await assert.rejects(c.classifyAll([samples[0]!.bytes]), { code: 'model_not_ready' });
  });
});

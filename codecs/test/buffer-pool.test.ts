/**
 * BufferPool's shared mode: buffers over SharedArrayBuffers, so a worker thread handed a view reads (and
 * could write) the lender's memory instead of a copy. The pool's sizing and budget are tested with the
 * service's body reader (scoring-service/test/body-buffers.test.ts).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { BufferPool, MIN_POOLED_BYTES } from '../src/index.js';

describe('BufferPool, shared', () => {
  it('lends buffers over SharedArrayBuffers, reused like the others; a plain pool lends plain ones', () => {
    const shared = new BufferPool(1 << 20, 4 << 20, true);
    const buffer = shared.take(300_000)!;
    assert.ok(buffer.buffer instanceof SharedArrayBuffer);
    assert.equal(buffer.length, 512 << 10);
    shared.give(buffer);
    assert.equal(shared.take(400_000), buffer, 'the idle buffer is lent again');
    assert.equal(shared.take(MIN_POOLED_BYTES - 1), undefined, 'small payloads are not pooled');
    assert.ok(new BufferPool().take(300_000)!.buffer instanceof ArrayBuffer);
  });

  it('a worker thread handed a view reads and writes the same memory: nothing is copied', async () => {
    const pool = new BufferPool(1 << 20, 4 << 20, true);
    const payload = pool.take(250_000)!.subarray(0, 250_000);
    payload.fill(7);
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       parentPort.once('message', (view) => { const sum = view.reduce((a, b) => a + b, 0); view[0] = 42; parentPort.postMessage(sum); });`,
      { eval: true },
    );
    try {
      worker.postMessage(payload);
      const [sum] = await once(worker, 'message');
      assert.equal(sum, 7 * 250_000, 'the worker saw the bytes');
      assert.equal(payload[0], 42, "the worker's write is in the lender's buffer");
      assert.equal(payload.length, 250_000, 'not detached');
    } finally {
      await worker.terminate();
    }
  });
});

/**
 * BufferPool's shared mode: buffers over SharedArrayBuffers, so a worker thread handed a view reads (and
 * could write) the lender's memory instead of a copy. The pool's sizing and budget are tested with the
 * service's body reader (scoring-service/test/body-buffers.test.ts).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { BufferPool, MIN_POOLED_BYTES, readSeedBody } from '../src/index.js';

describe('BufferPool, shared', () => {
  it('lends buffers over SharedArrayBuffers, reused like the others; a plain pool lends plain ones', () => {
    const shared = new BufferPool({ largest: 1 << 20, keepBytes: 4 << 20, shared: true });
    const buffer = shared.take(300_000)!;
    assert.ok(buffer.buffer instanceof SharedArrayBuffer);
    assert.equal(buffer.length, 512 << 10);
    shared.give(buffer);
    assert.equal(shared.take(400_000), buffer, 'the idle buffer is lent again');
    assert.equal(shared.take(MIN_POOLED_BYTES - 1), undefined, 'small payloads are not pooled');
    assert.ok(new BufferPool().take(300_000)!.buffer instanceof ArrayBuffer);
  });

  it('a worker thread handed a view reads and writes the same memory: nothing is copied', async () => {
    const pool = new BufferPool({ largest: 1 << 20, keepBytes: 4 << 20, shared: true });
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

  it('readSeedBody decodes photo-sized images into the pool\'s buffers, small ones not; a body it does not take gives them back', () => {
    const pool = new BufferPool({ largest: 1 << 20, keepBytes: 4 << 20, shared: true });
    const photo = Buffer.from(Array.from({ length: 200_000 }, (_, k) => (k * 7) & 0xff));
    const small = Buffer.from('a small image');
    const seed = readSeedBody(Buffer.from(`{"big": "${photo.toString('base64')}", "small": "${small.toString('base64')}"}`), pool)!;
    assert.deepEqual(seed.images.get('big'), photo);
    assert.deepEqual(seed.images.get('small'), small);
    assert.equal(seed.lent.length, 1);
    assert.equal(seed.images.get('big')!.buffer, seed.lent[0]!.buffer, 'the image views the lent buffer');
    assert.ok(seed.images.get('big')!.buffer instanceof SharedArrayBuffer);
    assert.equal(pool.lent, 1);
    for (const buffer of seed.lent) pool.give(buffer);
    // Decoded, then refused (a second value that is not base64): nothing stays lent.
    assert.equal(readSeedBody(Buffer.from(`{"big": "${photo.toString('base64')}", "x": "not base64!"}`), pool), undefined);
    assert.equal(pool.lent, 0);
    assert.equal(pool.idle, 256 << 10);
    // Without a pool: fresh buffers, nothing lent.
    assert.deepEqual(readSeedBody(Buffer.from(`{"big": "${photo.toString('base64')}"}`))!.lent, []);
  });
});

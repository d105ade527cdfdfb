/**
 * intraOpSpinning: false must reach onnxruntime. With its default, the intra-op threads keep spinning
 * for a while after every run (35-43 ms of CPU after one classify on the 2-core machine), which a
 * container's CPU limit counts; with spinning off an idle classifier burns nothing. Its own file so
 * that no other session in this process adds CPU time. CPU time is counted, not wall-clock time.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { Classifier } from '../src/index.js';
import { modelDir } from './helpers.js';

describe('intraOpSpinning', () => {
  it('false: an idle classifier uses no CPU after a run (2 intra-op threads)', async () => {
    const png = await readFile(join(modelDir, 'samples/bag.png'));
    // No preprocessing threads: their start-up (tsx compiling the worker under test) would be counted.
    const classifier = await Classifier.load({ modelDir, intraOpThreads: 2, intraOpSpinning: false, preprocessThreads: 0 });
    try {
      await classifier.classify(png); // first call: lazy initialisation on this side
      await sleep(200);
      const prediction = await classifier.classify(png);
      const before = process.cpuUsage(); // from the end of a run: that is when spinning happens
      await sleep(300);
      const used = process.cpuUsage(before);
      const ms = (used.user + used.system) / 1000;
      assert.equal(prediction.label, 'Bag');
      assert.ok(ms < 10, `expected (almost) no CPU while idle, used ${ms.toFixed(1)} ms`);
    } finally {
      await classifier.close();
    }
  });
});

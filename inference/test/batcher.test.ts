/**
 * The micro-batcher's timing rules, with a model run the test controls: an idle model waits for company,
 * a busy one takes everything waiting when its run ends, and a run that ends while images are still being
 * decoded by the pool waits for them (up to maxBatchWaitMs), so photos are not run in ones and twos; and
 * an idle wait that gathers nobody stops the next ones, until requests overlap again.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Batcher } from '../src/batcher.js';

/** A batcher whose runs end when the test says; `incoming` is what the preprocessing pool would report. */
function harness(maxBatchSize: number, maxBatchWaitMs: number, withIncoming = true) {
  const runs: number[][] = [];
  const ends: (() => void)[] = [];
  const state = { incoming: 0 };
  const batcher = new Batcher<number, number>({
    maxBatchSize,
    maxBatchWaitMs,
    ...(withIncoming ? { incoming: () => state.incoming } : {}),
    run: (inputs) => {
      runs.push(inputs);
      return new Promise((resolve) => ends.push(() => resolve(inputs.map((x) => x * 10))));
    },
  });
  /** Ends the oldest unfinished run and lets the batcher react. */
  const endRun = async (): Promise<void> => {
    ends.shift()!();
    await sleep(0);
  };
  return { batcher, runs, state, endRun };
}

describe('Batcher', () => {
  it('an idle model waits up to maxBatchWaitMs for company, then runs what came', async () => {
    const { batcher, runs, endRun } = harness(8, 30);
    const answers = [batcher.submit(1), batcher.submit(2)];
    await sleep(5);
    assert.deepEqual(runs, []);
    await sleep(60);
    assert.deepEqual(runs, [[1, 2]]);
    await endRun();
    assert.deepEqual(await Promise.all(answers), [10, 20]);
  });

  it('after a run, takes everything waiting at once when no image is on its way', async () => {
    const { batcher, runs, endRun } = harness(8, 1000);
    const answers = [batcher.submit(1)];
    await sleep(1100);
    answers.push(batcher.submit(2), batcher.submit(3));
    await endRun();
    assert.deepEqual(runs, [[1], [2, 3]], 'the second run starts as soon as the first ends, without the 1 s wait');
    await endRun();
    assert.deepEqual(await Promise.all(answers), [10, 20, 30]);
  });

  it('after a run, waits for images still being decoded and runs as soon as the last one arrives', async () => {
    const { batcher, runs, state, endRun } = harness(8, 1000);
    const answers = [batcher.submit(1)];
    await sleep(1100);
    answers.push(batcher.submit(2));
    state.incoming = 2;
    await endRun();
    await sleep(20);
    assert.deepEqual(runs, [[1]], 'held: two images are on their way');
    state.incoming = 1;
    answers.push(batcher.submit(3));
    await sleep(20);
    assert.deepEqual(runs, [[1]], 'held: one image is still on its way');
    state.incoming = 0;
    answers.push(batcher.submit(4));
    assert.deepEqual(runs, [[1], [2, 3, 4]], 'runs on the last arrival, not at the end of the wait');
    await endRun();
    assert.deepEqual(await Promise.all(answers), [10, 20, 30, 40]);
  });

  it('holds no longer than maxBatchWaitMs, and not past a full batch', async () => {
    const { batcher, runs, state, endRun } = harness(3, 40);
    const answers = [batcher.submit(1)];
    await sleep(60);
    answers.push(batcher.submit(2));
    state.incoming = 5; // an image that never arrives (it failed to decode) must not hold the batch for ever
    await endRun();
    await sleep(10);
    assert.deepEqual(runs, [[1]]);
    await sleep(60);
    assert.deepEqual(runs, [[1], [2]]);
    answers.push(batcher.submit(3), batcher.submit(4), batcher.submit(5), batcher.submit(6));
    await endRun();
    assert.deepEqual(runs, [[1], [2], [3, 4, 5]], 'a full batch runs at once, images still on their way or not');
    await endRun();
    await sleep(60);
    await endRun();
    assert.deepEqual(runs.at(-1), [6]);
    assert.deepEqual(await Promise.all(answers), [10, 20, 30, 40, 50, 60]);
  });

  it('without a pool to wait for (or with maxBatchWaitMs 0), a run never holds', async () => {
    for (const [wait, withIncoming] of [[1000, false], [0, true]] as const) {
      const { batcher, runs, state, endRun } = harness(8, wait, withIncoming);
      state.incoming = 3;
      const answers = [batcher.submit(1)];
      await sleep(wait === 0 ? 5 : 1100);
      answers.push(batcher.submit(2));
      await endRun();
      assert.deepEqual(runs, [[1], [2]]);
      await endRun();
      assert.deepEqual(await Promise.all(answers), [10, 20]);
    }
  });

  it('drained() waits for a held batch', async () => {
    const { batcher, runs, state, endRun } = harness(8, 30);
    const answers = [batcher.submit(1)];
    await sleep(50);
    answers.push(batcher.submit(2));
    state.incoming = 1;
    await endRun();
    let drained = false;
    void batcher.drained().then(() => (drained = true));
    await sleep(60);
    assert.deepEqual(runs, [[1], [2]]);
    assert.equal(drained, false);
    await endRun();
    await sleep(0);
    assert.equal(drained, true);
    assert.deepEqual(await Promise.all(answers), [10, 20]);
  });

  it('stops waiting for company that does not come: one request at a time runs on the next turn', async () => {
    const { batcher, runs, endRun } = harness(8, 200);
    const answers = [batcher.submit(1)];
    await sleep(20);
    assert.deepEqual(runs, [], 'the first idle item waits for company');
    assert.equal(batcher.oneAtATime, false);
    await sleep(250);
    assert.deepEqual(runs, [[1]]);
    assert.equal(batcher.oneAtATime, true, 'nobody joined and nothing was on its way');
    await endRun();
    answers.push(batcher.submit(2));
    await sleep(20);
    assert.deepEqual(runs, [[1], [2]], 'the next lone item runs without the 200 ms wait');
    await endRun();
    // Several images submitted in one turn (one request with several files) still share a run.
    answers.push(batcher.submit(3), batcher.submit(4));
    await sleep(20);
    assert.deepEqual(runs, [[1], [2], [3, 4]]);
    await endRun();
    assert.deepEqual(await Promise.all(answers), [10, 20, 30, 40]);
  });

  it('an item that arrives during a run brings the idle wait back', async () => {
    const { batcher, runs, endRun } = harness(8, 200);
    const answers = [batcher.submit(1)];
    await sleep(250);
    await endRun();
    assert.equal(batcher.oneAtATime, true);
    answers.push(batcher.submit(2));
    await sleep(20);
    assert.deepEqual(runs, [[1], [2]]);
    answers.push(batcher.submit(3)); // while [2] runs: requests overlap
    assert.equal(batcher.oneAtATime, false);
    await endRun();
    assert.deepEqual(runs, [[1], [2], [3]], 'taken at once when the run ends, as before');
    await endRun();
    answers.push(batcher.submit(4));
    await sleep(20);
    assert.deepEqual(runs, [[1], [2], [3]], 'the next idle item waits for company again');
    answers.push(batcher.submit(5));
    await sleep(250);
    assert.deepEqual(runs, [[1], [2], [3], [4, 5]]);
    assert.equal(batcher.oneAtATime, false, 'that wait gathered company');
    await endRun();
    assert.deepEqual(await Promise.all(answers), [10, 20, 30, 40, 50]);
  });

  it('images on their way keep the idle wait, even one request at a time', async () => {
    const { batcher, runs, state, endRun } = harness(8, 200);
    const answers = [batcher.submit(1)];
    await sleep(250);
    await endRun();
    assert.equal(batcher.oneAtATime, true);
    state.incoming = 1; // the request's other photo is still being decoded
    answers.push(batcher.submit(2));
    await sleep(20);
    assert.deepEqual(runs, [[1]], 'waits for the image on its way');
    answers.push(batcher.submit(3));
    await sleep(250);
    assert.deepEqual(runs, [[1], [2, 3]]);
    await endRun();
    assert.deepEqual(await Promise.all(answers), [10, 20, 30]);
  });

  it('an idle wait that ends with an image still on its way does not count as alone', async () => {
    const { batcher, runs, state, endRun } = harness(8, 100);
    state.incoming = 1; // an image that never arrives (it failed to decode)
    const answers = [batcher.submit(1)];
    await sleep(150);
    assert.deepEqual(runs, [[1]]);
    assert.equal(batcher.oneAtATime, false);
    await endRun();
    assert.deepEqual(await Promise.all(answers), [10]);
  });
});

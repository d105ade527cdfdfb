/**
 * The reduced decode's rule, the worker pool (same tensors as on the calling thread, typed errors
 * across the thread boundary, a dead worker fails its callers and is replaced) and the memory bound of
 * a 12-megapixel photo. Photos are made here with libvips, so no download is needed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { decode, jpegSize, reducedSize, REDUCE_TO_MULTIPLE } from '../src/decode.js';
import { ImagePreprocessor, ImageTooLargeError, InferenceFailedError, InvalidImageError, readModelCard, type ModelDescription } from '../src/index.js';
import { PreprocessPool, SLOTS } from '../src/preprocess-pool.js';
import { fitBox } from '../src/resample.js';
import { fixturesDir, modelDir, repoRoot } from './helpers.js';
import { imagenetLike } from './support/descriptions.js';
import { photoLikeJpeg } from './support/photo-like.js';

const limits = { maxImageBytes: 32 << 20, maxImagePixels: 40e6 };
const card = await readModelCard(modelDir);

describe('reducedSize: how small the decoder may deliver an image', () => {
  it('keeps at least REDUCE_TO_MULTIPLE x the output across the box read (ImageOps.fit on a 1920x1080 photo)', () => {
    const box = fitBox(1920, 1080, 28, 28);
    const size = reducedSize({ width: 1920, height: 1080 }, box, { width: 28, height: 28 })!;
    const boxWidth = ((box[2] - box[0]) * size.width) / 1920;
    const boxHeight = ((box[3] - box[1]) * size.height) / 1080;
    assert.ok(boxWidth >= REDUCE_TO_MULTIPLE * 28 && boxHeight >= REDUCE_TO_MULTIPLE * 28, `${boxWidth} x ${boxHeight}`);
    assert.ok(boxHeight < REDUCE_TO_MULTIPLE * 28 + 1, 'no more than needed');
  });

  it('holds for any box: a stretch (whole image), a letterbox and an off-centre crop', () => {
    const source = { width: 4032, height: 3024 };
    const output = { width: 224, height: 160 };
    for (const box of [[0, 0, 4032, 3024], [0, 0, 4032, 3024 * 0.75], [1000, 500, 3000, 2000]] as const) {
      const size = reducedSize(source, [...box], output, 2)!;
      assert.ok(size, `box ${box.join(',')} is reduced`);
      assert.ok(((box[2] - box[0]) * size.width) / source.width >= 2 * output.width);
      assert.ok(((box[3] - box[1]) * size.height) / source.height >= 2 * output.height);
    }
  });

  it('does not reduce images that are not at least 4 times larger than the kept size (inputs near the model size stay exact)', () => {
    for (const side of [28, 56, 112, 224, 447]) {
      assert.equal(reducedSize({ width: side, height: side }, [0, 0, side, side], { width: 28, height: 28 }), undefined, `${side}px`);
    }
    assert.ok(reducedSize({ width: 448, height: 448 }, [0, 0, 448, 448], { width: 28, height: 28 }));
  });
});

describe('jpegSize (frame header) agrees with libvips', () => {
  it('on the fixture JPEGs and a progressive one', async () => {
    const files = await Promise.all(['rgb-112.jpg', 'rgb-640x480.jpg', 'rgb-90x160.jpg'].map((f) => readFile(join(fixturesDir, 'preprocess', f))));
    files.push(await sharp(files[1]!).jpeg({ progressive: true }).toBuffer());
    for (const bytes of files) {
      const meta = await sharp(bytes).metadata();
      assert.deepEqual(jpegSize(bytes), { width: meta.width, height: meta.height });
    }
    assert.equal(jpegSize(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8])), undefined);
  });
});

describe('PreprocessPool', () => {
  let pool: PreprocessPool;
  let local: PreprocessPool;
  let photo: Buffer;
  before(async () => {
    pool = new PreprocessPool(card, limits, { threads: 2 });
    local = new PreprocessPool(card, limits, { threads: 0 });
    await pool.ready();
    photo = await photoLikeJpeg(1920, 1080);
  });
  after(async () => {
    await pool.close();
    await local.close();
  });

  it('gives the same tensors in a worker as on the calling thread, fast and exact', async () => {
    const exactPool = new PreprocessPool(card, limits, { threads: 1, exact: true });
    const exactLocal = new PreprocessPool(card, limits, { threads: 0, exact: true });
    try {
      const jpeg640 = await readFile(join(fixturesDir, 'preprocess/rgb-640x480.jpg'));
      for (const bytes of [photo, jpeg640]) {
        assert.deepEqual(await pool.preprocess(bytes), await local.preprocess(bytes));
        assert.deepEqual(await exactPool.preprocess(bytes), await exactLocal.preprocess(bytes));
      }
    } finally {
      await exactPool.close();
      await exactLocal.close();
    }
  });

  it('answers many images at once, in order, each with its own tensor', async () => {
    const photos = await Promise.all([1, 2, 3, 4, 5, 6].map((seed) => photoLikeJpeg(800, 600, seed)));
    const tensors = await Promise.all(photos.map((p) => pool.preprocess(p)));
    for (let i = 0; i < photos.length; i++) assert.deepEqual(tensors[i], await local.preprocess(photos[i]!));
  });

  it('takes shared images in the order they came, from one queue: a free thread claims the oldest, and none is done twice', async () => {
    // Photo 1 is a 24 MP one: the thread that takes it is busy while the other does ~7 photos. From one
    // queue, the free thread takes photos 2-8 in order; assigned to threads in turn (as piscina did), 3, 5
    // and 7 would wait behind it and be answered after later ones.
    const photos = await Promise.all(Array.from({ length: 9 }, (_, i) => (i === 1 ? photoLikeJpeg(6000, 4000, 2) : photoLikeJpeg(1920, 1080, i + 1))));
    const shared = photos.map(toShared);
    // Each answer is stamped with the event-loop turn it arrived in. Two threads answer on two ports, and
    // answers that wait for the same turn (a busy or starved main thread) are delivered port by port,
    // not in the order the threads posted them (seen once on CI: 0,2,3,5,1,6,4,7,8): within a turn they
    // count as simultaneous.
    // (No check of pool.waiting right after the calls: the threads claim concurrently, and a main thread
    // descheduled for a few ms sees them through photo 0 and on to the next ones. Seen once on CI.)
    let turn = 0;
    let ticking = true;
    const tick = (): void => {
      turn++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const answers: [turn: number, index: number][] = [];
    let tensors: Float32Array[];
    try {
      tensors = await Promise.all(shared.map((p, i) => pool.preprocess(p).then((t) => (answers.push([turn, i]), t))));
    } finally {
      // Whatever fails, the ticker stops, or the test process never exits.
      ticking = false;
    }
    assert.equal(pool.waiting, 0);
    assert.equal(pool.inFlight, 0);
    for (let i = 0; i < photos.length; i++) assert.deepEqual(tensors[i], await local.preprocess(photos[i]!));
    // Two threads, oldest first: no photo is answered (in an earlier turn) after one announced two or more places later.
    const order = answers.sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, i]) => i);
    const shown = answers.map(([t, i]) => `${i}@${t}`).join(',');
    for (let k = 0; k < order.length; k++) assert.ok(order[k]! <= k + 1, `answered in order ${shown}`);
  });

  it('keeps images beyond its claim ring waiting in order, and answers every one', async () => {
    const png = await sharp(photo).resize(240, 135).png().toBuffer();
    const shared = toShared(png);
    const expected = await local.preprocess(png);
    const n = SLOTS + 50;
    const pending = Array.from({ length: n }, () => pool.preprocess(shared));
    assert.equal(pool.inFlight, n);
    const tensors = await Promise.all(pending);
    assert.equal(pool.inFlight, 0);
    for (const t of [tensors[0], tensors[SLOTS], tensors[n - 1]]) assert.deepEqual(t, expected);
  });

  it('counts the images in the threads\' hands (inFlight), which the batcher waits for', async () => {
    const photos = await Promise.all([1, 2, 3].map((seed) => photoLikeJpeg(1280, 960, seed)));
    const png = await readFile(join(modelDir, 'samples/bag.png'));
    const pending = [...photos.map((p) => pool.preprocess(p)), pool.preprocess(png)];
    assert.equal(pool.inFlight, 3, 'the small PNG is preprocessed in place, not counted');
    await Promise.all(pending);
    assert.equal(pool.inFlight, 0);
    await assert.rejects(pool.preprocess(photo.subarray(0, photo.length >> 1)), InvalidImageError);
    assert.equal(pool.inFlight, 0, 'a failed image is no longer on its way');
  });

  it('moves an image it is handed over (transfer) to the thread, and copies one it is not or one that shares its memory', async () => {
    const expected = await local.preprocess(photo);
    // Buffer.from(photo) makes a Buffer of its own memory (larger than Node's 4 KB pool slices).
    const handedOver = Buffer.from(photo);
    assert.deepEqual(await pool.preprocess(handedOver, true), expected);
    assert.equal(handedOver.byteLength, 0, 'moved: the caller\'s view is detached');
    const kept = Buffer.from(photo);
    assert.deepEqual(await pool.preprocess(kept), expected);
    assert.equal(kept.byteLength, photo.byteLength, 'not handed over: copied');
    // A view of part of a larger buffer must not take the rest with it.
    const larger = Buffer.concat([photo, Buffer.from('the rest of the buffer')]);
    const part = larger.subarray(0, photo.length);
    assert.deepEqual(await pool.preprocess(part, true), expected);
    assert.equal(part.byteLength, photo.byteLength);
    assert.equal(larger.subarray(photo.length).toString(), 'the rest of the buffer');
  });

  it('reads an image over a SharedArrayBuffer in place (the edge module\'s payloads): the same tensors from every decoder', async () => {
    const jpeg640 = await readFile(join(fixturesDir, 'preprocess/rgb-640x480.jpg'));
    // A PNG and a WebP too large to stay on the calling thread: spng and libvips read the shared bytes.
    const png = await sharp(photo).resize(640, 360).png().toBuffer();
    const webp = await sharp(photo).webp().toBuffer();
    for (const bytes of [photo, jpeg640, png, webp]) {
      const shared = Buffer.from(new SharedArrayBuffer(bytes.length + 4096)).subarray(0, bytes.length);
      bytes.copy(shared);
      assert.deepEqual(await pool.preprocess(shared, true), await local.preprocess(bytes));
      assert.equal(shared.byteLength, bytes.length, 'shared memory is never detached, even when handed over');
    }
  });

  it('carries the core\'s typed errors across the thread boundary', async () => {
    const truncated = photo.subarray(0, photo.length >> 1);
    await assert.rejects(pool.preprocess(truncated), (e) => e instanceof InvalidImageError && /could not decode image: .*premature end/.test(e.message));
    const small = new PreprocessPool(card, { ...limits, maxImagePixels: 1_000_000 }, { threads: 1 });
    try {
      await assert.rejects(small.preprocess(photo), (e) => e instanceof ImageTooLargeError && /1920x1080 = 2073600 pixels; the limit is 1000000/.test(e.message));
    } finally {
      await small.close();
    }
  });

  it('a worker that dies fails the image it was decoding with InferenceFailedError, and the pool replaces it', async () => {
    const one = new PreprocessPool(card, limits, { threads: 1 });
    try {
      await one.ready();
      const big = await photoLikeJpeg(4032, 3024);
      const pending = one.preprocess(big);
      await one.workers[0]!.terminate();
      await assert.rejects(pending, (e) => e instanceof InferenceFailedError && /worker thread stopped/.test(e.message));
      assert.deepEqual(await one.preprocess(photo), await local.preprocess(photo));
    } finally {
      await one.close();
    }
  });

  it('a worker that dies leaves the shared images it had not claimed to the other thread and its replacement', async () => {
    const two = new PreprocessPool(card, limits, { threads: 2 });
    try {
      await two.ready();
      const photos = await Promise.all([1, 2, 3, 4, 5, 6].map((seed) => photoLikeJpeg(1920, 1080, seed)));
      const outcomes = photos.map(toShared).map((p) => two.preprocess(p).then((t) => ({ t }), (e: unknown) => ({ e })));
      // Let the threads claim photos, then stop one: at most the one it held fails.
      while (two.waiting > 4) await new Promise((r) => setTimeout(r, 1));
      await two.workers[0]!.terminate();
      const settled = await Promise.all(outcomes);
      const failed = settled.filter((o) => 'e' in o);
      assert.ok(failed.length <= 1, `${failed.length} failed`);
      for (const o of failed) assert.ok(o.e instanceof InferenceFailedError && /worker thread stopped/.test(o.e.message));
      for (let i = 0; i < photos.length; i++) {
        const o = settled[i]!;
        if ('t' in o) assert.deepEqual(o.t, await local.preprocess(photos[i]!));
      }
      // The other one stopped too: its replacement and the first one's answer.
      await two.workers[1]!.terminate();
      const again = await Promise.all(photos.slice(0, 3).map(toShared).map((p) => two.preprocess(p)));
      for (let i = 0; i < again.length; i++) assert.deepEqual(again[i], await local.preprocess(photos[i]!));
    } finally {
      await two.close();
    }
  });

  it('close() stops a thread still loading only once it has loaded: at start-up and a replacement (terminating a worker inside a native addon\'s initialisation aborts the process)', async () => {
    /** What each of `workers` reports from now on: its 'loaded' message and its exit, in order. */
    const watch = (workers: readonly Worker[]): string[][] =>
      workers.map((worker) => {
        const seen: string[] = [];
        worker.on('message', (message: { kind?: string }) => message.kind === 'loaded' && seen.push('loaded'));
        worker.once('exit', () => seen.push('exit'));
        return seen;
      });
    const fresh = new PreprocessPool(card, limits, { threads: 2 });
    const atStart = watch(fresh.workers);
    await fresh.close();
    assert.deepEqual(atStart, [['loaded', 'exit'], ['loaded', 'exit']]);

    const one = new PreprocessPool(card, limits, { threads: 1 });
    await one.ready();
    const first = one.workers[0]!;
    await first.terminate();
    while (one.workers[0] === first) await new Promise((r) => setTimeout(r, 1));
    const replacement = watch(one.workers);
    await one.close();
    assert.deepEqual(replacement, [['loaded', 'exit']]);
  });

  it('fails what it held once closed, and answers later images with InferenceFailedError', async () => {
    const one = new PreprocessPool(card, limits, { threads: 1 });
    await one.ready();
    const failed = assert.rejects(one.preprocess(photo), (e) => e instanceof InferenceFailedError && /closed/.test(e.message));
    await one.close();
    await failed;
    await assert.rejects(one.preprocess(photo), (e) => e instanceof InferenceFailedError && /closed/.test(e.message));
  });

  it('decodes a photo of up to 1920x1080 on the calling thread when the caller is idle and the threads hold nothing; a larger one, or any with images in flight, goes to the threads', async () => {
    const twelve = await photoLikeJpeg(4032, 3024);
    const expected = await local.preprocess(photo);
    const here = pool.preprocess(photo, false, true);
    assert.equal(pool.inFlight, 0, 'idle: decoded on the calling thread');
    const big = pool.preprocess(twelve, false, true);
    assert.equal(pool.inFlight, 1, 'idle, but 12 MP: to a thread');
    const behind = pool.preprocess(photo, false, true);
    assert.equal(pool.inFlight, 2, 'an image in the threads\' hands: to a thread');
    const tensors = await Promise.all([here, big, behind]);
    assert.deepEqual(tensors[0], expected);
    assert.deepEqual(tensors[2], expected);
    const busy = pool.preprocess(photo, false, false);
    assert.equal(pool.inFlight, 1, 'not idle: to a thread');
    await busy;
  });

  it('keeps small images on the calling thread: a 28x28 PNG never reaches a worker', async () => {
    const png = await readFile(join(modelDir, 'samples/bag.png'));
    const one = new PreprocessPool(card, limits, { threads: 1 });
    try {
      await one.ready();
      await one.workers[0]!.terminate();
      // With its only worker gone, an image sent to a worker would fail; this one is answered in place.
      assert.deepEqual(await one.preprocess(png), await local.preprocess(png));
    } finally {
      await one.close();
    }
  });
});

describe('reducingGap (REDUCING_GAP): how much of the reduction the model\'s own filter keeps', () => {
  let hf: ModelDescription;
  let frame: Buffer;
  before(async () => {
    hf = imagenetLike(await readModelCard(join(fixturesDir, 'folders/timm')));
    frame = await photoLikeJpeg(1920, 1080);
  });

  it('decides the DCT scale: a 1920x1080 frame for a 256-px resize is decoded whole at the default 4, at 1/2 with 2', async () => {
    assert.equal((await new ImagePreprocessor(hf, limits).decode(frame)).width, 1920, '1/2 would keep 540 < 4 x 256 rows');
    assert.equal((await new ImagePreprocessor(hf, limits, { reducingGap: 2 }).decode(frame)).width, 960);
    assert.equal((await new ImagePreprocessor(hf, limits, { reducingGap: 2, exact: true }).decode(frame)).width, 1920, 'exact mode ignores it');
  });

  it('reaches the worker threads and the calling thread alike', async () => {
    const expected = await new ImagePreprocessor(hf, limits, { reducingGap: 2 }).preprocess(frame);
    const pools = [new PreprocessPool(hf, limits, { threads: 1, reducingGap: 2 }), new PreprocessPool(hf, limits, { threads: 0, reducingGap: 2 }), new PreprocessPool(hf, limits, { threads: 1 })];
    try {
      await Promise.all(pools.map((p) => p.ready()));
      const [worker, local, byDefault] = await Promise.all(pools.map((p) => p.preprocess(frame)));
      // Counted, not deepEqual: assert's diff of two 150,528-value tensors takes minutes.
      const differing = (a: Float32Array): number => a.reduce((n, v, i) => n + (v === expected[i] ? 0 : 1), 0);
      assert.equal(worker!.length, expected.length);
      assert.equal(differing(worker!), 0, 'worker thread');
      assert.equal(differing(local!), 0, 'calling thread');
      assert.ok(differing(byDefault!) > 0, 'the default decodes at full size');
    } finally {
      await Promise.all(pools.map((p) => p.close()));
    }
  });

  it('refuses a gap under 1, naming it', () => {
    for (const gap of [0.5, 0, Number.NaN]) assert.throws(() => new PreprocessPool(hf, limits, { threads: 0, reducingGap: gap }), new RegExp(`reducingGap must be a number of at least 1 \\(got ${gap}\\)`));
  });
});

describe('a 12-megapixel photo', () => {
  it('is decoded reduced: libvips delivers the box at REDUCE_TO_MULTIPLE x the model size, not 12 M pixels', async () => {
    const big = await photoLikeJpeg(4032, 3024);
    const plan = (s: { width: number; height: number }): { box: [number, number, number, number]; output: { width: number; height: number } } => ({
      box: fitBox(s.width, s.height, 28, 28),
      output: { width: 28, height: 28 },
    });
    const decoded = await decode(big, { limits, plan });
    assert.deepEqual(decoded.source, { width: 4032, height: 3024 });
    assert.ok(decoded.height === Math.ceil((3024 * REDUCE_TO_MULTIPLE * 28) / 3024), `decoded ${decoded.width}x${decoded.height}`);
    assert.equal(decoded.data.length, decoded.width * decoded.height * 3);
  });

  it('memory: preprocessing one grows the process by less than 16 MB (progressive JPEG and exact mode: ~3 bytes per pixel)', () => {
    // A fresh process, so that nothing else in this one moves its resident size.
    const script = join(import.meta.dirname, 'support/decode-memory.ts');
    const run = (mode: string): { rssGrowthMb: number; libvipsHighMb: number } => {
      const child = spawnSync(process.execPath, ['--import', 'tsx', script, mode], { cwd: repoRoot, encoding: 'utf8' });
      assert.equal(child.status, 0, child.stderr);
      return JSON.parse(child.stdout) as { rssGrowthMb: number; libvipsHighMb: number };
    };
    const fast = run('fast');
    const progressive = run('progressive');
    const exact = run('exact');
    assert.ok(fast.rssGrowthMb < 16, `reduced decode grew the process by ${fast.rssGrowthMb} MB`);
    assert.ok(fast.libvipsHighMb <= 4, `libvips held up to ${fast.libvipsHighMb} MB`);
    // Progressive: libjpeg's coefficient buffer, 2 bytes per luma sample and half that again for 4:2:0
    // chroma (~37 MB for 12 MP), is the bound, about exact mode's.
    assert.ok(progressive.rssGrowthMb < 3 * 12.2 + 16, `progressive reduced decode grew the process by ${progressive.rssGrowthMb} MB`);
    // The exact path holds the full-size RGB (3 bytes per pixel, ~36 MB; no full-size grey plane since
    // the resample converts colour strip by strip): the bound that MAX_IMAGE_PIXELS puts on it.
    // Checked so the fast figure above is known to measure something.
    assert.ok(exact.rssGrowthMb > 20 && exact.rssGrowthMb < 5 * 12.2 + 16, `exact decode grew the process by ${exact.rssGrowthMb} MB`);
  });
});

/** A copy of `bytes` in shared memory, as the service's and the edge module's pooled buffers hold photos. */
function toShared(bytes: Buffer): Buffer {
  const shared = Buffer.from(new SharedArrayBuffer(bytes.length));
  bytes.copy(shared);
  return shared;
}

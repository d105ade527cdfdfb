import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import {
  Classifier,
  ImagePreprocessor,
  ImageTooLargeError,
  InvalidImageError,
  InvalidModelCardError,
  InvalidTensorError,
  ModelIntegrityError,
  ModelNotReadyError,
  OverloadedError,
  sniffFormat,
  type ModelCardV1 as ModelCard,
  type Prediction,
} from '../src/index.js';
import { copyModelDir, encodeGrayPng, modelDir, readIdx } from './helpers.js';
import { photoLikeJpeg } from './support/photo-like.js';

const card = JSON.parse(await readFile(join(modelDir, 'card.json'), 'utf8')) as ModelCard;
const evalSet = await readIdx(join(modelDir, card.metrics!.evaluationSet!.images), join(modelDir, card.metrics!.evaluationSet!.labels));
const evalPngs = evalSet.images.map((px) => encodeGrayPng(px, evalSet.width, evalSet.height));
const samples = JSON.parse(await readFile(join(modelDir, 'samples/labels.json'), 'utf8')) as Record<string, string>;

/** A PNG whose header declares width x height; the IDAT holds that many zero rows, deflated. */
function bigPng(width: number, height: number): Buffer {
  const crc = (buf: Buffer) => {
    let c = ~0;
    for (const b of buf) {
      c ^= b;
      for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
    }
    return ~c >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  // Only the first rows are really stored: a decoder that trusted the header would still allocate
  // width x height before finding the data short.
  const rows = deflateSync(Buffer.alloc((width + 1) * 64), { level: 9 });
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', rows), chunk('IEND', Buffer.alloc(0))]);
}

/** A real JPEG with its SOF header patched to declare width x height. */
async function jpegDeclaring(width: number, height: number): Promise<Buffer> {
  const jpeg = Buffer.from(await sharp(evalSet.images[0]!, { raw: { width: 28, height: 28, channels: 1 } }).jpeg().toBuffer());
  for (let i = 2; i < jpeg.length - 9; ) {
    if (jpeg[i] !== 0xff) throw new Error('unexpected JPEG layout');
    const marker = jpeg[i + 1]!;
    if (marker >= 0xc0 && marker <= 0xc2) {
      jpeg.writeUInt16BE(height, i + 5);
      jpeg.writeUInt16BE(width, i + 7);
      return jpeg;
    }
    i += 2 + jpeg.readUInt16BE(i + 2);
  }
  throw new Error('no SOF marker');
}

describe('Classifier — happy paths on the real model', () => {
  let classifier: Classifier;
  before(async () => {
    classifier = await Classifier.load({ modelDir, maxQueue: 2048 });
  });
  after(() => classifier.close());

  it('is ready after load, with the card it verified', () => {
    assert.equal(classifier.ready, true);
    assert.equal(classifier.card.sha256, card.sha256);
    assert.deepEqual(classifier.card.labels, card.labels);
  });

  it(`reaches the card's accuracy on the ${evalSet.images.length}-image evaluation set (within one point)`, async () => {
    const results = await classifier.classifyAll(evalPngs);
    let correct = 0;
    results.forEach((r, i) => {
      assert.ok(r.ok, `image ${i}`);
      if (r.prediction.index === evalSet.labels[i]) correct++;
    });
    const accuracy = correct / results.length;
    const expected = card.metrics!.evaluationSet!.accuracy;
    assert.ok(Math.abs(accuracy - expected) <= 0.01, `accuracy ${accuracy} vs card ${expected}`);
  });

  it('labels every bundled sample as model/samples/labels.json says', async () => {
    for (const [file, label] of Object.entries(samples)) {
      const prediction = await classifier.classify(await readFile(join(modelDir, 'samples', file)));
      assert.equal(prediction.label, label, file);
    }
  });

  it('returns top-k labels, most probable first, with probabilities that sum to 1', async () => {
    const p = await classifier.classify(evalPngs[0]!, { topK: 3 });
    assert.equal(p.top.length, 3);
    assert.equal(p.top[0]!.label, p.label);
    assert.ok(p.top[0]!.probability >= p.top[1]!.probability && p.top[1]!.probability >= p.top[2]!.probability);
    assert.equal(p.probabilities.length, card.labels.length);
    assert.ok(Math.abs(p.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-4);
    assert.equal(p.confidence, p.probabilities[p.index]);
  });

  it('classifies a preprocessed tensor exactly like the encoded image', async () => {
    const tensor = Float32Array.from(evalSet.images[3]!, (v) => v / 255);
    const [fromTensor] = await classifier.classifyTensor(tensor, 1);
    const fromImage = await classifier.classify(evalPngs[3]!);
    assert.deepEqual(fromTensor!.probabilities, fromImage.probabilities);
  });

  it('answers each image of classifyAll on its own: one bad image does not fail the others', async () => {
    const results = await classifier.classifyAll([evalPngs[0]!, Buffer.from('not an image'), evalPngs[1]!]);
    assert.equal(results[0]!.ok, true);
    assert.equal(results[1]!.ok, false);
    assert.ok(!results[1]!.ok && results[1]!.error instanceof InvalidImageError);
    assert.equal(results[2]!.ok, true);
  });
});

describe('Classifier — batching', () => {
  it('classifyAll with transfer moves the photos to the decoding threads and answers as without it', async () => {
    const sizes: number[] = [];
    const classifier = await Classifier.load({ modelDir, maxBatchSize: 32, maxBatchWaitMs: 5, preprocessThreads: 2, observer: { onBatch: (n) => sizes.push(n) } });
    try {
      const photos = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((seed) => photoLikeJpeg(1280, 960, seed)));
      const handedOver = photos.map((p) => Buffer.from(p));
      const together = await classifier.classifyAll(handedOver, { transfer: true });
      const alone = await Promise.all(photos.map((p) => classifier.classify(p)));
      assert.ok(handedOver.every((b) => b.byteLength === 0), 'handed over: moved to the decoding threads');
      assert.ok(photos.every((b) => b.byteLength > 0), 'not handed over: copied');
      together.forEach((r, i) => assert.ok(r.ok && r.prediction.label === alone[i]!.label));
      assert.equal(sizes.reduce((a, b) => a + b, 0), 16);
    } finally {
      await classifier.close();
    }
  });

  it('decodes a lone photo on the calling thread once the model serves one request at a time; overlapping ones go to the pool', async () => {
    const classifier = await Classifier.load({ modelDir, preprocessThreads: 1, maxBatchWaitMs: 1 });
    try {
      // The pool is private; its count of images in the threads' hands is what tells where a photo went.
      const pool = (classifier as unknown as { preprocessor: { inFlight: number } }).preprocessor;
      const photo = await photoLikeJpeg(1920, 1080);
      const firstEver = classifier.classify(photo);
      assert.equal(pool.inFlight, 1, 'the first photo goes to the pool: nothing says yet that requests come one at a time');
      const label = (await firstEver).label; // its idle wait gathers nobody: one at a time from here
      const lone = classifier.classify(photo);
      assert.equal(pool.inFlight, 0, 'a lone photo is decoded on the calling thread');
      assert.equal((await lone).label, label);
      const loneAll = classifier.classifyAll([photo]);
      assert.equal(pool.inFlight, 0, "so is a one-photo classifyAll (the service's call)");
      await loneAll;
      const [first, second] = [classifier.classify(photo), classifier.classify(photo)];
      assert.equal(pool.inFlight, 1, 'the second of two overlapping photos goes to the pool');
      const both = classifier.classifyAll([photo, photo]);
      assert.equal(pool.inFlight, 3, 'a two-photo call goes to the pool');
      await Promise.all([first, second, both]);
    } finally {
      await classifier.close();
    }
  });

  it('forms batches larger than one under concurrent calls, never above maxBatchSize, results in order', async () => {
    const sizes: number[] = [];
    const classifier = await Classifier.load({ modelDir, maxBatchSize: 8, maxBatchWaitMs: 5, observer: { onBatch: (n) => sizes.push(n) } });
    try {
      const images = evalPngs.slice(0, 200);
      // Reference: each image alone, one after another (batches of one).
      const alone: Prediction[] = [];
      for (const img of images) alone.push(await classifier.classify(img));
      assert.ok(sizes.every((n) => n === 1));
      sizes.length = 0;
      const together = await Promise.all(images.map((img) => classifier.classify(img)));
      assert.ok(Math.max(...sizes) > 1, `batch sizes ${sizes.join(',')}`);
      assert.ok(Math.max(...sizes) <= 8);
      assert.equal(sizes.reduce((a, b) => a + b, 0), images.length);
      together.forEach((p, i) => {
        assert.equal(p.index, alone[i]!.index, `image ${i}`);
        p.probabilities.forEach((v, c) => assert.ok(Math.abs(v - alone[i]!.probabilities[c]!) < 1e-5));
      });
    } finally {
      await classifier.close();
    }
  });
});

describe('Classifier — AVIF (what browsers save and image CDNs serve)', () => {
  it('classifies an AVIF as the PNG of the same pixels, through libvips (lossless AVIF: identical tensors)', async () => {
    const classifier = await Classifier.load({ modelDir, preprocessThreads: 0 });
    try {
      const rgb = await sharp(await photoLikeJpeg(640, 480)).raw().toBuffer();
      const png = await sharp(rgb, { raw: { width: 640, height: 480, channels: 3 } }).png().toBuffer();
      const avif = await sharp(rgb, { raw: { width: 640, height: 480, channels: 3 } }).avif({ lossless: true, effort: 0 }).toBuffer();
      assert.equal(sniffFormat(avif), 'avif');
      const pre = new ImagePreprocessor(classifier.card, { maxImageBytes: 1 << 24, maxImagePixels: 40e6 });
      const [fromAvif, fromPng] = [await pre.preprocess(avif), await pre.preprocess(png)];
      assert.deepEqual(fromAvif, fromPng);
      assert.equal((await classifier.classify(avif)).label, (await classifier.classify(png)).label);
    } finally {
      await classifier.close();
    }
  });
});

describe('Classifier — expected failures with real bad inputs', () => {
  let classifier: Classifier;
  before(async () => {
    classifier = await Classifier.load({ modelDir, maxImageBytes: 1 << 20, maxImagePixels: 4_000_000 });
  });
  after(() => classifier.close());

  const invalid: Array<[string, () => Buffer | Promise<Buffer>]> = [
    ['empty bytes', () => Buffer.alloc(0)],
    ['text', () => Buffer.from('hello, world')],
    ['an SVG (refused by format, never parsed)', () => Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"/>')],
    ['a PDF', () => Buffer.from('%PDF-1.4\n%âãÏÓ\n')],
    ['a PNG truncated after its header (in-process path)', () => evalPngs[0]!.subarray(0, 40)],
    ['a PNG with a corrupted data chunk', () => { const b = Buffer.from(evalPngs[0]!); b.fill(0x55, 41, 60); return b; }],
    ['a larger PNG truncated (libvips path)', async () => (await sharp({ create: { width: 200, height: 100, channels: 3, background: '#336699' } }).png().toBuffer()).subarray(0, 60)],
    ['a JPEG truncated in its data', async () => { const j = await sharp(evalSet.images[0]!, { raw: { width: 28, height: 28, channels: 1 } }).jpeg().toBuffer(); return j.subarray(0, j.length - 100); }],
    ['random bytes behind a PNG signature', () => Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)])],
  ];
  for (const [name, make] of invalid) {
    it(`InvalidImageError for ${name}`, async () => {
      await assert.rejects(classifier.classify(await make()), (e: unknown) => {
        assert.ok(e instanceof InvalidImageError, `got ${String(e)}`);
        assert.equal(e.code, 'invalid_image');
        return true;
      });
    });
  }

  it('InvalidImageError for an iPhone HEIC photo, naming the format and how to get JPEGs', async () => {
    // The ftyp box an iPhone writes (major brand heic; mif1, miaf, MiHB, heic compatible); the refusal is made from it.
    const ftyp = Buffer.concat([Buffer.from([0, 0, 0, 36]), Buffer.from('ftypheic'), Buffer.from([0, 0, 0, 0]), Buffer.from('mif1MiHEmiafMiHBheic')]);
    const heic = Buffer.concat([ftyp, Buffer.alloc(2048, 0x11)]);
    await assert.rejects(classifier.classify(heic), (e: unknown) => {
      assert.ok(e instanceof InvalidImageError, `got ${String(e)}`);
      assert.match(e.message, /^unsupported image format: HEIC\/HEIF \(an iPhone camera's default\); expected PNG, JPEG, GIF, WebP, AVIF or TIFF\. On iOS, Settings > Camera > Formats > Most Compatible makes JPEGs$/);
      return true;
    });
  });

  it('ImageTooLargeError for an AVIF over maxImagePixels, from its header', async () => {
    const avif = await sharp({ create: { width: 2100, height: 2000, channels: 3, background: '#336699' } }).avif({ effort: 0 }).toBuffer();
    await assert.rejects(classifier.classify(avif), (e: unknown) => e instanceof ImageTooLargeError && /4000000 pixels/.test(e.message));
  });

  it('ImageTooLargeError for bytes over maxImageBytes, naming the limit', async () => {
    await assert.rejects(classifier.classify(Buffer.alloc((1 << 20) + 1, 0xff)), (e: unknown) => e instanceof ImageTooLargeError && /1048576 bytes/.test(e.message));
  });

  it('ImageTooLargeError for a 20,000 x 20,000 PNG of a few hundred bytes, without allocating it', async () => {
    const bomb = bigPng(20_000, 20_000);
    assert.ok(bomb.length < 400_000);
    const before = process.memoryUsage().rss;
    await assert.rejects(classifier.classify(bomb), (e: unknown) => e instanceof ImageTooLargeError && /20000x20000/.test(e.message));
    assert.ok(process.memoryUsage().rss - before < 100 * 1024 * 1024, 'memory grew by more than 100 MB');
  });

  it('ImageTooLargeError for a JPEG whose header declares 30,000 x 30,000, before decoding', async () => {
    const before = process.memoryUsage().rss;
    await assert.rejects(classifier.classify(await jpegDeclaring(30_000, 30_000)), ImageTooLargeError);
    assert.ok(process.memoryUsage().rss - before < 100 * 1024 * 1024, 'memory grew by more than 100 MB');
  });

  it('InvalidTensorError for a tensor of the wrong length or with a non-finite value', async () => {
    await assert.rejects(classifier.classifyTensor(new Float32Array(100), 1), (e: unknown) => e instanceof InvalidTensorError && /784/.test(e.message));
    const nan = new Float32Array(784);
    nan[5] = Number.NaN;
    await assert.rejects(classifier.classifyTensor(nan, 1), (e: unknown) => e instanceof InvalidTensorError && /index 5/.test(e.message));
    await assert.rejects(classifier.classifyTensor(new Float32Array(0), 0), InvalidTensorError);
  });

  it('RangeError for a topK outside 1..labels', async () => {
    await assert.rejects(classifier.classify(evalPngs[0]!, { topK: 0 }), RangeError);
    await assert.rejects(classifier.classify(evalPngs[0]!, { topK: 11 }), RangeError);
  });
});

describe('Classifier — overload, shutdown, integrity', () => {
  it('OverloadedError beyond maxQueue, all-or-nothing for classifyAll, accepting again once drained', async () => {
    let rejected = 0;
    const classifier = await Classifier.load({ modelDir, maxQueue: 4, observer: { onRejected: (_r, n) => (rejected += n) } });
    try {
      await assert.rejects(classifier.classifyAll(evalPngs.slice(0, 5)), (e: unknown) => e instanceof OverloadedError && e.retryAfterSeconds >= 1);
      assert.equal(classifier.queueDepth, 0, 'a refused classifyAll admits nothing');
      const inFlight = evalPngs.slice(0, 4).map((img) => classifier.classify(img));
      await assert.rejects(classifier.classify(evalPngs[4]!), OverloadedError);
      assert.equal(rejected, 6);
      await Promise.all(inFlight);
      assert.equal(classifier.queueDepth, 0);
      await classifier.classify(evalPngs[4]!);
    } finally {
      await classifier.close();
    }
  });

  it('close() finishes admitted work, then refuses with ModelNotReadyError', async () => {
    const classifier = await Classifier.load({ modelDir });
    const inFlight = Promise.all(evalPngs.slice(0, 64).map((img) => classifier.classify(img)));
    const closed = classifier.close();
    assert.equal(classifier.ready, false);
    await assert.rejects(classifier.classify(evalPngs[0]!), ModelNotReadyError);
    assert.equal((await inFlight).length, 64);
    await closed;
  });

  it('ModelIntegrityError naming both hashes when the model file is not the one the card describes', async () => {
    const copy = await copyModelDir();
    try {
      const file = join(copy.dir, 'model.onnx');
      const bytes = await readFile(file);
      bytes[bytes.length - 1]! ^= 0xff;
      await writeFile(file, bytes);
      await assert.rejects(Classifier.load({ modelDir: copy.dir }), (e: unknown) => {
        assert.ok(e instanceof ModelIntegrityError);
        assert.match(e.message, new RegExp(card.sha256));
        assert.match(e.message, /sha256 [0-9a-f]{64}/);
        assert.ok(!e.message.includes(`sha256 ${card.sha256},`), 'the actual hash differs from the declared one');
        return true;
      });
    } finally {
      await copy.cleanup();
    }
  });

  it('InvalidModelCardError naming the field for a card that does not describe the model', async () => {
    const copy = await copyModelDir();
    try {
      const bad = { ...card, labels: card.labels.slice(0, 9) };
      await writeFile(join(copy.dir, 'card.json'), JSON.stringify(bad));
      await assert.rejects(Classifier.load({ modelDir: copy.dir }), (e: unknown) => e instanceof InvalidModelCardError && /output.shape/.test(e.message));
      await writeFile(join(copy.dir, 'card.json'), '{ not json');
      await assert.rejects(Classifier.load({ modelDir: copy.dir }), (e: unknown) => e instanceof InvalidModelCardError && /not valid JSON/.test(e.message));
    } finally {
      await copy.cleanup();
    }
  });

  it('InvalidModelCardError at load, before any image, when the card\'s size is not the model\'s', async () => {
    const copy = await copyModelDir();
    try {
      const bad = structuredClone(card);
      bad.input.shape = [-1, 1, 32, 32];
      bad.preprocessing.resize = { ...bad.preprocessing.resize, width: 32, height: 32 };
      await writeFile(join(copy.dir, 'card.json'), JSON.stringify(bad));
      await assert.rejects(Classifier.load({ modelDir: copy.dir }), (e: unknown) => {
        assert.ok(e instanceof InvalidModelCardError, `got ${String(e)}`);
        assert.equal(e.message, 'card.json: input.shape height is 32; expected 28, the height of the model\'s input "input" [N, 1, 28, 28]');
        return true;
      });
    } finally {
      await copy.cleanup();
    }
  });
});

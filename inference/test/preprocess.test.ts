// The core must feed the model what the seed's Pillow pipeline fed it in training:
// ImageOps.fit(Image.open(f).convert('L'), (28, 28), Image.LANCZOS). The fixtures were made by
// Pillow 9.4 (model/make_fixtures.py); this checks our pixels against them.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { ImagePreprocessor, readModelCard } from '../src/index.js';
import { fitBox, resampleLanczos } from '../src/resample.js';
import { fixturesDir, modelDir, readIdx, encodeGrayPng } from './helpers.js';

/**
 * Stated tolerance: at most 1 grey level on any pixel (room for another JPEG decoder build's IDCT
 * rounding), and a mean under 0.1 level. Measured today: 0 on every fixture.
 */
const MAX_LEVELS = 1;
const MEAN_LEVELS = 0.1;

interface FixtureEntry {
  source: string;
  expected: string;
  expectedScaled?: string;
  description: string;
}

const dir = join(fixturesDir, 'preprocess');
const card = await readModelCard(modelDir);
// Exact mode: these fixtures state Pillow's pixels; the reduced decode of large images is measured
// against this path in photo-fidelity.test.ts.
const preprocessor = new ImagePreprocessor(card, { maxImageBytes: 8 << 20, maxImagePixels: 40e6 }, { exact: true });
const fastPreprocessor = new ImagePreprocessor(card, { maxImageBytes: 8 << 20, maxImagePixels: 40e6 });
const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as FixtureEntry[];

async function grayPixels(file: string): Promise<Buffer> {
  return sharp(join(dir, file)).extractChannel(0).raw().toBuffer();
}

describe('preprocessing matches Pillow (ImageOps.fit + LANCZOS on convert("L"))', () => {
  it('has fixtures to compare with', () => assert.ok(manifest.length >= 8));

  for (const entry of manifest) {
    // For 16-bit PNGs Pillow 9.4 clamps values to 0..255 instead of scaling them (a Pillow quirk that
    // saturates the image); libvips scales 16 to 8 bits, which is what `expectedScaled` holds.
    const expectedFile = entry.expectedScaled ?? entry.expected;
    it(`${entry.source} → ${expectedFile}`, async () => {
      const tensor = await preprocessor.preprocess(await readFile(join(dir, entry.source)));
      const expected = await grayPixels(expectedFile);
      assert.equal(tensor.length, expected.length);
      let max = 0;
      let sum = 0;
      for (let i = 0; i < tensor.length; i++) {
        const diff = Math.abs(Math.round(tensor[i]! * 255) - expected[i]!);
        max = Math.max(max, diff);
        sum += diff;
      }
      assert.ok(max <= MAX_LEVELS, `${entry.source}: max difference ${max} levels (allowed ${MAX_LEVELS})`);
      assert.ok(sum / tensor.length <= MEAN_LEVELS, `${entry.source}: mean difference ${sum / tensor.length} levels`);
    });
  }

  it('the default (fast) configuration gives the exact pixels for every fixture it does not reduce (all but the 640x480 JPEG)', async () => {
    for (const entry of manifest.filter((e) => e.source !== 'rgb-640x480.jpg')) {
      const bytes = await readFile(join(dir, entry.source));
      assert.deepEqual(await fastPreprocessor.preprocess(bytes), await preprocessor.preprocess(bytes), entry.source);
    }
  });

  it('scales 8-bit values by the card\'s factor (1/255) into [0, 1]', async () => {
    const tensor = await preprocessor.preprocess(await readFile(join(dir, 'gray-28.png')));
    const expected = await grayPixels('gray-28.expected.png');
    expected.forEach((v, i) => assert.ok(Math.abs(tensor[i]! - v / 255) < 1e-6, `pixel ${i}`));
  });

  it('the in-process PNG path and the libvips path give identical tensors at the model size', async () => {
    const { images, width, height } = await readIdx(join(modelDir, 'eval/images-idx3-ubyte.gz'), join(modelDir, 'eval/labels-idx1-ubyte.gz'));
    for (const pixels of images.slice(0, 40)) {
      const viaPng = await preprocessor.preprocess(encodeGrayPng(pixels, width, height));
      const tiff = await sharp(pixels, { raw: { width, height, channels: 1 } }).tiff({ compression: 'lzw' }).toBuffer();
      const viaSharp = await preprocessor.preprocess(tiff);
      assert.deepEqual(viaSharp, viaPng);
    }
  });
});

describe('resampleLanczos / fitBox (Pillow Resample.c, ImageOps.fit)', () => {
  it('is the identity at the same size', () => {
    const src = Uint8Array.from({ length: 28 * 28 }, (_, i) => i % 251);
    assert.deepEqual(resampleLanczos(src, 28, 28, 28, 28), src);
  });

  it('keeps a flat image flat at any scale', () => {
    for (const [w, h] of [[20, 20], [300, 200], [90, 160], [1000, 7]] as const) {
      const src = new Uint8Array(w * h).fill(137);
      const [x0, y0, x1, y1] = fitBox(w, h, 28, 28);
      const out = resampleLanczos(src, w, h, 28, 28, [x0, y0, x1, y1]);
      assert.ok(out.every((v) => v === 137), `${w}x${h}`);
    }
  });

  it('crops the centre to the output aspect, as ImageOps.fit does', () => {
    assert.deepEqual(fitBox(300, 200, 28, 28), [50, 0, 250, 200]);
    assert.deepEqual(fitBox(90, 160, 28, 28), [0, 35, 90, 125]);
    assert.deepEqual(fitBox(64, 64, 28, 28), [0, 0, 64, 64]);
  });
});

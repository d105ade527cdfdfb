/**
 * EXIF orientation against Pillow (model/make_exif_fixtures.py: a real photograph saved with each
 * orientation tag 1-8; the expected windows are ImageOps.exif_transpose + ImageOps.fit in Pillow
 * 9.4), the option that turns it off, and the reduced decode on a rotated-tagged photo (the box is
 * planned in oriented coordinates).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import pngjs from 'pngjs';
import sharp from 'sharp';
import { jpegOrientation, orientedSize } from '../src/decode.js';
import { ImagePreprocessor, type ModelDescription } from '../src/index.js';
import { fixturesDir } from './helpers.js';
import { photoLikeJpeg } from './support/photo-like.js';

interface Manifest {
  width: number;
  height: number;
  cases: Array<{ source: string; orientation: number; expected: string; expectedIgnoringOrientation?: string }>;
}

const dir = join(fixturesDir, 'exif');
const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
const limits = { maxImageBytes: 32 << 20, maxImagePixels: 40e6 };

function description(width: number, height: number, interpolation: ModelDescription['preprocessing']['resize']['interpolation']): ModelDescription {
  return {
    schemaVersion: 2,
    name: 'exif',
    version: '1',
    file: 'model.onnx',
    sha256: '0'.repeat(64),
    labels: ['a', 'b'],
    input: { name: 'x', dtype: 'uint8', layout: 'NHWC', channels: 3, height, width, shape: [-1, height, width, 3] },
    output: { name: 'y', shape: [-1, 2], activation: 'softmax', task: 'single-label', threshold: 0.5 },
    preprocessing: { colour: 'rgb', resize: { mode: 'fit', interpolation }, rescale: 1, mean: [0, 0, 0], std: [1, 1, 1], invert: false },
    source: { format: 'card-v2', files: [] },
  };
}

async function expectedWindow(file: string): Promise<Uint8Array> {
  const png = pngjs.PNG.sync.read(await readFile(join(dir, file)));
  const out = new Uint8Array(png.width * png.height * 3);
  for (let i = 0; i < png.width * png.height; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = png.data[i * 4 + c]!;
  return out;
}

/** Largest |difference|; JPEG decoders of the same libjpeg-turbo agree to the level (measured 0). */
function maxDifference(a: Float32Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe('EXIF orientation (Pillow ImageOps.exif_transpose)', () => {
  const d = description(manifest.width, manifest.height, 'bilinear');
  const oriented = new ImagePreprocessor(d, limits);
  const asStored = new ImagePreprocessor(d, limits, { exifOrientation: false });

  it('has a fixture for every orientation, 3, 6 and 8 among them', () => {
    assert.deepEqual(manifest.cases.map((c) => c.orientation), [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  for (const c of manifest.cases) {
    it(`orientation ${c.orientation}: the same window as Pillow after exif_transpose`, async () => {
      const bytes = await readFile(join(dir, c.source));
      assert.equal(jpegOrientation(bytes), c.orientation);
      const values = await oriented.preprocess(bytes);
      assert.ok(maxDifference(values, await expectedWindow(c.expected)) <= 1);
      // Exact mode turns the same way.
      assert.deepEqual(await new ImagePreprocessor(d, limits, { exact: true }).preprocess(bytes), values);
    });
  }

  it('exifOrientation: false preprocesses the pixels as stored, as a plain Image.open does', async () => {
    const c = manifest.cases.find((e) => e.expectedIgnoringOrientation)!;
    const bytes = await readFile(join(dir, c.source));
    const values = await asStored.preprocess(bytes);
    assert.ok(maxDifference(values, await expectedWindow(c.expectedIgnoringOrientation!)) <= 1);
    assert.ok(maxDifference(values, await expectedWindow(c.expected)) > 16, 'turning must change this window');
  });

  it('reads no orientation from a JPEG without EXIF or with a malformed segment', () => {
    assert.equal(jpegOrientation(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0, 2])), 1);
    assert.equal(jpegOrientation(Buffer.from([0xff, 0xd8, 0xff, 0xe1, 0, 16, 0x45, 0x78, 0x69, 0x66, 0, 0, 0x49, 0x49, 0x2a, 0, 0xff, 0xff, 0xff, 0x7f])), 1);
  });
});

describe('reduced decode of a rotated-tagged photo plans its box in oriented coordinates', () => {
  let tagged: Buffer;
  let upright: Buffer;
  before(async () => {
    // A 1600x1200 photo stored sideways and tagged 6 (turn 90° clockwise), as a phone held upright writes it.
    upright = await photoLikeJpeg(1200, 1600, 5);
    const sideways = await sharp(upright).rotate(-90).jpeg({ quality: 95 }).toBuffer();
    tagged = await sharp(sideways).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
  });

  it('decodes reduced, in portrait, within a level of the exact path', async () => {
    assert.equal(jpegOrientation(tagged), 6);
    const d = description(24, 32, 'lanczos');
    const fast = new ImagePreprocessor(d, limits);
    const decoded = await fast.decode(tagged);
    assert.deepEqual(decoded.source, orientedSize({ width: 1600, height: 1200 }, 6));
    assert.ok(decoded.height > decoded.width && decoded.height < 1600 / 4, `decoded ${decoded.width}x${decoded.height}`);
    const a = await fast.preprocess(tagged);
    const b = await new ImagePreprocessor(d, limits, { exact: true }).preprocess(tagged);
    let sum = 0;
    for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
    assert.ok(sum / a.length <= 1, `mean difference ${(sum / a.length).toFixed(3)} levels`);
    // And both see the photo upright: close to the untagged upright original.
    const reference = await new ImagePreprocessor(d, limits, { exact: true }).preprocess(upright);
    let ref = 0;
    for (let i = 0; i < a.length; i++) ref += Math.abs(a[i]! - reference[i]!);
    assert.ok(ref / a.length <= 2, `mean difference from the upright photo ${(ref / a.length).toFixed(3)} levels`);
  });
});

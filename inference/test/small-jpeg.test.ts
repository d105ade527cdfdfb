/**
 * The in-process WebAssembly decoder for small JPEGs (small-jpeg.ts) against libvips: the same
 * pixels on every JPEG it takes, and the JPEGs it must leave to libvips (truncated, corrupt, tagged
 * with an orientation or an ICC profile, CMYK, too large) still answered as libvips answers them.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { decode, jpegSize } from '../src/decode.js';
import { ImagePreprocessor, InvalidImageError, readModelCard } from '../src/index.js';
import { decodeSmallJpeg, eligible, SMALL_JPEG_MAX_PIXELS } from '../src/small-jpeg.js';
import { fixturesDir, modelDir } from './helpers.js';
import { photoLikeJpeg } from './support/photo-like.js';

const limits = { maxImageBytes: 8 << 20, maxImagePixels: 40e6 };

async function viaLibvips(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array((await decode(bytes, { limits })).data);
}

function rgb(rgba: Uint8ClampedArray): Uint8Array {
  const out = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) out.set(rgba.subarray(i, i + 3), j);
  return out;
}

describe('small JPEGs decoded in-process (WebAssembly libjpeg-turbo)', () => {
  it('gives libvips\' pixels: fixtures, 4:4:4 and 4:2:0, progressive, grayscale, odd sizes', async () => {
    const base = await readFile(join(fixturesDir, 'preprocess/rgb-112.jpg'));
    const cases = [
      base,
      await readFile(join(fixturesDir, 'preprocess/rgb-90x160.jpg')),
      await sharp(base).jpeg({ progressive: true }).toBuffer(),
      await sharp(base).jpeg({ chromaSubsampling: '4:4:4', quality: 70 }).toBuffer(),
      await sharp(base).greyscale().jpeg().toBuffer(),
      await photoLikeJpeg(255, 257, 3),
    ];
    for (const [k, bytes] of cases.entries()) {
      assert.ok(eligible(bytes, jpegSize(bytes)!, true), `case ${k} is eligible`);
      const d = await decodeSmallJpeg(bytes);
      assert.ok(d, `case ${k} decoded`);
      assert.deepEqual(rgb(d.data), await viaLibvips(bytes), `case ${k}`);
    }
  });

  it('leaves to libvips what it would not decode exactly as libvips does', async () => {
    const base = await readFile(join(fixturesDir, 'preprocess/rgb-112.jpg'));
    const size = jpegSize(base)!;
    assert.equal(eligible(base.subarray(0, base.length >> 1), size, true), false, 'truncated (no EOI)');
    // Pillow wrote this one with an EXIF segment and nothing else (model/make_exif_fixtures.py).
    const tagged = await readFile(join(fixturesDir, 'exif/chelsea-o6.jpg'));
    assert.equal(eligible(tagged, jpegSize(tagged)!, true), false, 'EXIF orientation to apply');
    assert.equal(eligible(tagged, jpegSize(tagged)!, false), true, 'EXIF ignored when orientation is off');
    const upright = await readFile(join(fixturesDir, 'exif/chelsea-o1.jpg'));
    assert.equal(eligible(upright, jpegSize(upright)!, true), true, 'EXIF saying orientation 1 (nothing to turn)');
    const icc = await sharp(base).withIccProfile('p3').jpeg().toBuffer();
    assert.equal(eligible(icc, size, true), false, 'ICC profile');
    const cmyk = await sharp(base).toColourspace('cmyk').jpeg().toBuffer();
    assert.equal(eligible(cmyk, jpegSize(cmyk)!, true), false, 'Adobe (CMYK) segment');
    const big = await photoLikeJpeg(257, 256);
    assert.equal(eligible(big, jpegSize(big)!, true), false, `over ${SMALL_JPEG_MAX_PIXELS} pixels`);
  });

  it('a truncated or corrupt small JPEG is still refused with libvips\' 4xx error', async () => {
    const card = await readModelCard(modelDir);
    const preprocessor = new ImagePreprocessor(card, limits);
    const base = await readFile(join(fixturesDir, 'preprocess/rgb-112.jpg'));
    await assert.rejects(preprocessor.preprocess(base.subarray(0, base.length >> 1)), (e) => e instanceof InvalidImageError && /could not decode image/.test(e.message));
    const corrupt = Buffer.concat([base.subarray(0, 200), Buffer.alloc(500, 7), Buffer.from([0xff, 0xd9])]);
    await assert.rejects(preprocessor.preprocess(corrupt), (e) => e instanceof InvalidImageError);
  });
});

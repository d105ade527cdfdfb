/**
 * JPEG decoding through libjpeg-turbo's TurboJPEG (turbojpeg.ts): loaded here (scripts/debian-lib.sh
 * installs it for the tests), Pillow's / libvips' exact pixels at full size, the DCT scale chosen for
 * the model's box, and everything it must leave to libvips (CMYK, truncated, corrupt) still answered
 * as libvips answers it.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { decode } from '../src/decode.js';
import { ImagePreprocessor, InvalidImageError, ImageTooLargeError, readModelCard, type ModelDescription } from '../src/index.js';
import { jpegDecoder, scaled, turboJpeg } from '../src/turbojpeg.js';
import { fixturesDir, modelDir } from './helpers.js';
import { photoLikeJpeg } from './support/photo-like.js';

const limits = { maxImageBytes: 32 << 20, maxImagePixels: 40e6 };

async function viaLibvips(bytes: Uint8Array, options: { ignoreIcc?: boolean } = {}): Promise<Uint8Array> {
  const { data } = await sharp(bytes, { ignoreIcc: options.ignoreIcc ?? false }).autoOrient().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return new Uint8Array(data);
}

const rgbModel = (width: number, height: number, interpolation: ModelDescription['preprocessing']['resize']['interpolation'] = 'bilinear'): ModelDescription => ({
  schemaVersion: 2,
  name: 'tj',
  version: '1',
  file: 'model.onnx',
  sha256: '0'.repeat(64),
  labels: ['a', 'b'],
  input: { name: 'x', dtype: 'float32', layout: 'NCHW', channels: 3, height, width, shape: [-1, 3, height, width] },
  output: { name: 'y', shape: [-1, 2], activation: 'softmax', task: 'single-label', threshold: 0.5 },
  preprocessing: { colour: 'rgb', resize: { mode: 'fit', interpolation }, rescale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], invert: false },
  source: { format: 'card-v2', files: [] },
});

describe('JPEG decoding by libjpeg-turbo (TurboJPEG)', () => {
  it('is loaded in this environment (scripts/debian-lib.sh installs Debian\'s libturbojpeg0)', () => {
    const info = jpegDecoder();
    assert.equal(info.decoder, 'libjpeg-turbo', `JPEGs fall back to libvips: ${info.reason}`);
    assert.deepEqual(turboJpeg()!.factors.map((f) => `${f.num}/${f.denom}`), ['1/1', '1/2', '1/4', '1/8']);
  });

  it('gives libvips\' (and so Pillow\'s) pixels at full size: 4:2:0, 4:4:4, progressive, grey, odd sizes, a large photo', async () => {
    const base = await readFile(join(fixturesDir, 'preprocess/rgb-112.jpg'));
    const cases = [
      base,
      await readFile(join(fixturesDir, 'preprocess/rgb-90x160.jpg')),
      await sharp(base).jpeg({ progressive: true }).toBuffer(),
      await sharp(base).jpeg({ chromaSubsampling: '4:4:4', quality: 70 }).toBuffer(),
      await sharp(base).greyscale().jpeg().toBuffer(),
      await photoLikeJpeg(255, 257, 3),
      await photoLikeJpeg(1921, 1083, 5),
    ];
    const exact = new ImagePreprocessor(rgbModel(32, 32), limits, { exact: true });
    for (const [k, bytes] of cases.entries()) {
      const d = await exact.decode(bytes);
      assert.equal(d.stride, 3, `case ${k}`);
      assert.deepEqual(new Uint8Array(d.data), await viaLibvips(bytes), `case ${k}`);
    }
  });

  it('decodes at the smallest DCT scale keeping 4x the model input across the box, and planned on the stored size', async () => {
    const photo = await photoLikeJpeg(1920, 1080, 7);
    const tj = turboJpeg()!;
    // 1080 px across the crop box; 4 x 28 = 112 needs 1/8 (135 px).
    const d28 = await new ImagePreprocessor(rgbModel(28, 28), limits).decode(photo);
    assert.deepEqual([d28.width, d28.height, d28.source], [240, 135, { width: 1920, height: 1080 }]);
    // 4 x 224 = 896 is more than 1/2 keeps (540 px): decoded at full size. 4 x 112 = 448 takes 1/2.
    const d224 = await new ImagePreprocessor(rgbModel(224, 224), limits).decode(photo);
    assert.deepEqual([d224.width, d224.height], [1920, 1080]);
    const d112 = await new ImagePreprocessor(rgbModel(112, 112), limits).decode(photo);
    assert.deepEqual([d112.width, d112.height], [scaled(1920, { num: 1, denom: 2 }), scaled(1080, { num: 1, denom: 2 })]);
    // The same bytes TurboJPEG gives for that factor directly.
    assert.deepEqual(new Uint8Array(d28.data), tj.decodeRgb(photo, { num: 1, denom: 8 })!.data);
    // Exact mode, nearest and box never scale.
    for (const p of [new ImagePreprocessor(rgbModel(28, 28), limits, { exact: true }), new ImagePreprocessor(rgbModel(28, 28, 'nearest'), limits), new ImagePreprocessor(rgbModel(28, 28, 'box'), limits)]) {
      assert.equal((await p.decode(photo)).width, 1920);
    }
  });

  it('decodes luma only for a greyscale model when it scales (Pillow\'s draft(\'L\')), within a level of convert(\'L\'); a grey JPEG is one plane, identical', async () => {
    const card = await readModelCard(modelDir);
    const tj = turboJpeg()!;
    const photo = await photoLikeJpeg(1920, 1080, 7);
    const d = await new ImagePreprocessor(card, limits).decode(photo);
    assert.deepEqual([d.stride, d.width, d.height], [1, 240, 135]);
    assert.deepEqual(new Uint8Array(d.data), tj.decodeGrey(photo, { num: 1, denom: 8 })!.data);
    // libjpeg's Y against Pillow's convert('L') of libjpeg's RGB at the same scale.
    const rgb = tj.decodeRgb(photo, { num: 1, denom: 8 })!.data;
    let max = 0;
    let sum = 0;
    for (let i = 0; i < d.data.length; i++) {
      const l = (rgb[3 * i]! * 19595 + rgb[3 * i + 1]! * 38470 + rgb[3 * i + 2]! * 7471 + 0x8000) >> 16;
      const diff = Math.abs(l - d.data[i]!);
      max = Math.max(max, diff);
      sum += diff;
    }
    assert.ok(max <= 2 && sum / d.data.length < 0.6, `max ${max}, mean ${(sum / d.data.length).toFixed(3)} levels`);
    // Exact mode, and an image it does not scale, decode RGB and convert as Pillow does.
    assert.equal((await new ImagePreprocessor(card, limits, { exact: true }).decode(photo)).stride, 3);
    const small = await readFile(join(fixturesDir, 'preprocess/rgb-112.jpg'));
    assert.equal((await new ImagePreprocessor(card, limits).decode(small)).stride, 3);
    // A one-component JPEG: one plane in every mode, the same tensor as its RGB decode converted.
    const grey = await sharp(small).toColourspace('b-w').jpeg().toBuffer();
    assert.equal(tj.header(grey)!.colorspace, 2);
    for (const exact of [false, true]) {
      const p = new ImagePreprocessor(card, limits, { exact });
      const g = await p.decode(grey);
      assert.equal(g.stride, 1);
      const viaRgb = tj.decodeRgb(grey)!;
      assert.deepEqual(p.toTensor(g), p.toTensor({ data: viaRgb.data, width: viaRgb.width, height: viaRgb.height, stride: 3 }));
    }
    // The RGB model keeps three bands for the grey JPEG.
    assert.equal((await new ImagePreprocessor(rgbModel(28, 28), limits).decode(grey)).stride, 3);
  });

  it('turns the scaled pixels upright with the EXIF orientation, the box planned on the upright size', async () => {
    const card = rgbModel(28, 28);
    const photo = await photoLikeJpeg(1600, 900, 9);
    for (const orientation of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const tagged = await sharp(photo).withMetadata({ orientation }).jpeg({ quality: 90 }).toBuffer();
      const d = await new ImagePreprocessor(card, limits).decode(tagged);
      const upright = orientation >= 5 ? { width: 900, height: 1600 } : { width: 1600, height: 900 };
      assert.deepEqual(d.source, upright, `orientation ${orientation}`);
      assert.equal(d.width > d.height, upright.width > upright.height, `orientation ${orientation}`);
      // At full size (exact mode) the pixels are libvips' autoOrient()'s.
      const e = await new ImagePreprocessor(card, limits, { exact: true }).decode(tagged);
      assert.deepEqual(new Uint8Array(e.data), await viaLibvips(tagged), `orientation ${orientation}, exact`);
    }
  });

  it('ignores an embedded ICC profile, as Pillow does (the reference models are trained with)', async () => {
    const base = await readFile(join(fixturesDir, 'preprocess/rgb-112.jpg'));
    const icc = await sharp(base).withIccProfile('p3').jpeg().toBuffer();
    const d = await new ImagePreprocessor(rgbModel(32, 32), limits, { exact: true }).decode(icc);
    assert.deepEqual(new Uint8Array(d.data), await viaLibvips(icc, { ignoreIcc: true }));
  });

  it('leaves CMYK to libvips, and truncated or corrupt JPEGs are refused with libvips\' 4xx error', async () => {
    const card = await readModelCard(modelDir);
    const preprocessor = new ImagePreprocessor(card, limits);
    const base = await readFile(join(fixturesDir, 'preprocess/rgb-112.jpg'));
    const cmyk = await sharp(base).toColourspace('cmyk').jpeg().toBuffer();
    assert.ok(turboJpeg()!.header(cmyk)!.colorspace >= 3, 'CMYK/YCCK colour space');
    const viaCore = await preprocessor.decode(cmyk);
    assert.deepEqual(new Uint8Array(viaCore.data), new Uint8Array((await decode(cmyk, { limits })).data));
    for (const bad of [base.subarray(0, base.length >> 1), Buffer.concat([base.subarray(0, 200), Buffer.alloc(500, 7), Buffer.from([0xff, 0xd9])])]) {
      assert.equal(turboJpeg()!.decodeRgb(bad), undefined);
      await assert.rejects(preprocessor.preprocess(bad), (e) => e instanceof InvalidImageError && /could not decode image/.test(e.message));
    }
  });

  it('checks the pixel limit from the header before decoding', async () => {
    const photo = await photoLikeJpeg(1000, 1000, 2);
    const small = new ImagePreprocessor(await readModelCard(modelDir), { maxImageBytes: 32 << 20, maxImagePixels: 999_999 });
    await assert.rejects(small.preprocess(photo), ImageTooLargeError);
  });
});

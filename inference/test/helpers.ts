import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import pngjs from 'pngjs';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const modelDir = join(repoRoot, 'model');
export const fixturesDir = join(import.meta.dirname, 'fixtures');

/** Reads an IDX file pair (gzip'd, as Fashion-MNIST ships) into 28x28 uint8 images and labels. */
export async function readIdx(imagesPath: string, labelsPath: string): Promise<{ images: Uint8Array[]; labels: number[]; width: number; height: number }> {
  const img = gunzipSync(await readFile(imagesPath));
  const lab = gunzipSync(await readFile(labelsPath));
  const iv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const lv = new DataView(lab.buffer, lab.byteOffset, lab.byteLength);
  if (iv.getUint32(0) !== 2051 || lv.getUint32(0) !== 2049) throw new Error('not an IDX image/label pair');
  const count = iv.getUint32(4);
  const height = iv.getUint32(8);
  const width = iv.getUint32(12);
  if (lv.getUint32(4) !== count) throw new Error('image and label counts differ');
  const images = Array.from({ length: count }, (_, i) => img.subarray(16 + i * width * height, 16 + (i + 1) * width * height));
  const labels = Array.from(lab.subarray(8, 8 + count));
  return { images, labels, width, height };
}

/** Encodes a grayscale image as an 8-bit grayscale PNG. */
export function encodeGrayPng(pixels: Uint8Array, width: number, height: number): Buffer {
  const png = new pngjs.PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
  png.data = Buffer.from(pixels);
  return pngjs.PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
}

/** A private copy of the bundled model folder, for tests that tamper with it. */
export async function copyModelDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'model-deploy-model-'));
  await cp(join(modelDir, 'card.json'), join(dir, 'card.json'));
  await cp(join(modelDir, 'model.onnx'), join(dir, 'model.onnx'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

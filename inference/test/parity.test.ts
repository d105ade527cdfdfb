// Description v2's preprocessing against the Python reference (model/make_parity_fixtures.py:
// Pillow 9.4, torchvision 0.14, numpy). Geometry and colour are compared as 8-bit pixels and must be
// identical (Pillow's resampling is integer arithmetic). Values are compared per dtype: uint8
// identical; float16 identical bits; float32 within 1e-6 (numpy and this core both compute in
// float64 and round once to float32, so the two may differ only where float64 arithmetic orders
// differ — measured 0 today).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pngjs from 'pngjs';
import { ImagePreprocessor, type ModelDescription } from '../src/index.js';
import { toFloat16Bits } from '../src/float16.js';
import { fixturesDir } from './helpers.js';

const FLOAT32_TOLERANCE = 1e-6;

interface Case {
  kind: 'pixels' | 'tensor';
  id: string;
  source: string;
  expected: string;
  mode: ModelDescription['preprocessing']['resize']['mode'];
  interpolation: ModelDescription['preprocessing']['resize']['interpolation'];
  width: number;
  height: number;
  colour: ModelDescription['preprocessing']['colour'];
  stretchWidth?: number;
  stretchHeight?: number;
  shortestEdge?: number;
  crop?: 'floor' | 'round';
  fill?: number[];
  layout?: 'NCHW' | 'NHWC';
  dtype?: 'float32' | 'float16' | 'uint8';
  rescale?: number;
  mean?: number[];
  std?: number[];
  invert?: boolean;
}

const dir = join(fixturesDir, 'parity');
const cases = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Case[];

function description(c: Case): ModelDescription {
  const channels = c.colour === 'grayscale' ? 1 : 3;
  const layout = c.layout ?? 'NHWC';
  const resize: ModelDescription['preprocessing']['resize'] = { mode: c.mode, interpolation: c.interpolation };
  if (c.stretchWidth !== undefined) Object.assign(resize, { width: c.stretchWidth, height: c.stretchHeight });
  if (c.shortestEdge !== undefined) resize.shortestEdge = c.shortestEdge;
  if (c.crop !== undefined) resize.crop = c.crop;
  if (c.fill !== undefined) resize.fill = c.fill;
  return {
    schemaVersion: 2,
    name: c.id,
    version: '1',
    file: 'model.onnx',
    sha256: '0'.repeat(64),
    labels: ['a', 'b'],
    input: {
      name: 'x',
      dtype: c.dtype ?? 'float32',
      layout,
      channels,
      height: c.height,
      width: c.width,
      shape: layout === 'NCHW' ? [-1, channels, c.height, c.width] : [-1, c.height, c.width, channels],
    },
    output: { name: 'y', shape: [-1, 2], activation: 'softmax', task: 'single-label', threshold: 0.5 },
    preprocessing: {
      colour: c.colour,
      resize,
      rescale: c.rescale ?? 1,
      mean: c.mean ?? new Array<number>(channels).fill(0),
      std: c.std ?? new Array<number>(channels).fill(1),
      invert: c.invert ?? false,
    },
    source: { format: 'card-v2', files: [] },
  };
}

const limits = { maxImageBytes: 1 << 20, maxImagePixels: 1 << 20 };

describe('description v2 preprocessing matches Pillow / torchvision / numpy', () => {
  it('covers every interpolation x resize mode, both crop roundings, grayscale, BGR, NHWC, float16 and uint8', () => {
    const pixels = cases.filter((c) => c.kind === 'pixels');
    for (const interp of ['nearest', 'box', 'bilinear', 'hamming', 'bicubic', 'lanczos']) {
      for (const mode of ['fit', 'stretch', 'shortest-edge', 'letterbox']) {
        assert.ok(pixels.some((c) => c.interpolation === interp && c.mode === mode), `${interp} x ${mode}`);
      }
    }
    assert.ok(pixels.some((c) => c.crop === 'round') && pixels.some((c) => c.crop === 'floor'));
    const tensors = cases.filter((c) => c.kind === 'tensor');
    for (const want of ['bgr', 'grayscale']) assert.ok(tensors.some((c) => c.colour === want), want);
    for (const want of ['float16', 'uint8']) assert.ok(tensors.some((c) => c.dtype === want), want);
    assert.ok(tensors.some((c) => c.layout === 'NHWC'));
  });

  for (const c of cases) {
    it(`${c.expected}`, async () => {
      const d = description(c);
      const values = await new ImagePreprocessor(d, limits).preprocess(await readFile(join(dir, c.source)));
      const expectedBytes = await readFile(join(dir, c.expected));
      if (c.kind === 'pixels') {
        const png = pngjs.PNG.sync.read(expectedBytes);
        const channels = d.input.channels;
        const expected = new Uint8Array(c.width * c.height * channels);
        for (let i = 0; i < c.width * c.height; i++) for (let k = 0; k < channels; k++) expected[i * channels + k] = png.data[i * 4 + k]!;
        const mismatches: string[] = [];
        values.forEach((v, i) => {
          if (v !== expected[i]) mismatches.push(`#${i}: ${v} vs ${expected[i]}`);
        });
        assert.deepEqual(mismatches.slice(0, 5), [], `${mismatches.length} of ${values.length} values differ`);
      } else if (c.dtype === 'uint8') {
        assert.deepEqual(Uint8Array.from(values), new Uint8Array(expectedBytes));
      } else if (c.dtype === 'float16') {
        const expected = new Uint16Array(expectedBytes.buffer.slice(expectedBytes.byteOffset, expectedBytes.byteOffset + expectedBytes.byteLength));
        assert.deepEqual(toFloat16Bits(values), expected);
      } else {
        const expected = new Float32Array(expectedBytes.buffer.slice(expectedBytes.byteOffset, expectedBytes.byteOffset + expectedBytes.byteLength));
        assert.equal(values.length, expected.length);
        let max = 0;
        values.forEach((v, i) => (max = Math.max(max, Math.abs(v - expected[i]!))));
        assert.ok(max <= FLOAT32_TOLERANCE, `max difference ${max}`);
      }
    });
  }
});

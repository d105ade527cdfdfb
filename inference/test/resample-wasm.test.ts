// The WebAssembly passes (src/resample-wasm.ts, assembly/resample.ts) against the JavaScript ones
// (resampleJs, resamplePlanesJs: the reference, itself checked against Pillow in parity.test.ts and
// preprocess.test.ts): identical bytes on random sizes, fractional boxes, every filter, up- and
// down-scaling, one-pixel images, and luma / colour bands from RGB and RGBA.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { INTERPOLATIONS, type Interpolation } from '../src/filters.js';
import { resample, resampleJs, resamplePlanes, resamplePlanesJs, type Box } from '../src/resample.js';
import { resampleWasm, resampleWasmStatus } from '../src/resample-wasm.js';
import { FILTERS } from '../src/filters.js';

const SMOOTH = INTERPOLATIONS.filter((i): i is Exclude<Interpolation, 'nearest'> => i !== 'nearest');

/** Deterministic (mulberry32), so a failure names a case that reproduces. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Noise with edges: the values that make fixed-point rounding and clipping differ if anything is off. */
function pixels(rand: () => number, count: number): Uint8Array {
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = rand() < 0.2 ? (rand() < 0.5 ? 0 : 255) : Math.floor(rand() * 256);
  return out;
}

const size = (rand: () => number, max: number): number => 1 + Math.floor(rand() ** 2 * max);

/** A box inside the image (fractional edges, as shortest-edge and fit produce), or the whole image. */
function box(rand: () => number, w: number, h: number): Box {
  if (rand() < 0.3) return [0, 0, w, h];
  const x0 = rand() * w * 0.4;
  const y0 = rand() * h * 0.4;
  return [x0, y0, x0 + Math.max(0.5, rand() * (w - x0)), y0 + Math.max(0.5, rand() * (h - y0))];
}

describe('resample in WebAssembly', () => {
  it('is built and loaded (npm run build compiles assembly/ into dist/resample.wasm)', () => {
    const status = resampleWasmStatus();
    assert.equal(status.loaded, true, status.reason);
  });

  it('gives the JavaScript passes\' bytes on 600 random resizes (every filter, boxes, up and down)', () => {
    const rand = random(16);
    for (let n = 0; n < 600; n++) {
      const filter = SMOOTH[n % SMOOTH.length]!;
      // Every tenth image is wide enough that only the box's columns are copied in (resample-wasm.ts' byRow).
      const w = size(rand, n % 10 === 0 ? 2500 : 90);
      const h = size(rand, n % 10 === 5 ? 700 : 90);
      const outW = size(rand, 64);
      const outH = size(rand, 64);
      const b = box(rand, w, h);
      const src = pixels(rand, w * h);
      const expected = resampleJs(src, w, h, outW, outH, filter, b);
      const got = resampleWasm(src, w, h, 1, 'plane', outW, outH, FILTERS[filter], b);
      assert.ok(got, 'WebAssembly declined');
      assert.deepEqual(got[0], expected, `case ${n}: ${w}x${h} -> ${outW}x${outH} ${filter} box ${b.join(',')}`);
    }
  });

  it('gives the same bytes for one-pixel images and one-pixel outputs, and for one pass only', () => {
    const rand = random(1);
    const cases: [number, number, number, number, Box?][] = [
      [1, 1, 1, 1, [0, 0, 0.5, 0.5]], [1, 1, 7, 5], [1, 1, 40, 1], [1, 9, 3, 3], [9, 1, 3, 3], [300, 1, 28, 1],
      [1, 300, 1, 28], [50, 40, 1, 1], [50, 40, 50, 13], [50, 40, 17, 40], [64, 64, 64, 64, [0.5, 0.25, 63.5, 64]],
      [33, 20, 33, 20, [0, 1, 33, 19]], [20, 33, 20, 33, [1, 0, 19, 33]],
    ];
    for (const filter of SMOOTH) {
      for (const [w, h, outW, outH, b] of cases) {
        const src = pixels(rand, w * h);
        const expected = resampleJs(src, w, h, outW, outH, filter, b);
        assert.deepEqual(resample(src, w, h, outW, outH, filter, b), expected, `${w}x${h} -> ${outW}x${outH} ${filter} ${b ?? ''}`);
      }
    }
  });

  it('converts to luma or colour bands as the JavaScript does, from RGB and RGBA', () => {
    const rand = random(7);
    for (let n = 0; n < 240; n++) {
      const filter = INTERPOLATIONS[n % INTERPOLATIONS.length]!;
      const stride = n % 2 ? 3 : 4;
      const kind = n % 3 ? 'rgb' : 'luma';
      const w = n % 8 === 0 ? 600 + size(rand, 900) : size(rand, 160);
      const h = size(rand, 160);
      const outW = size(rand, 48);
      const outH = size(rand, 48);
      const b = box(rand, w, h);
      const src = pixels(rand, w * h * stride);
      const expected = resamplePlanesJs(src, w, h, stride, kind, outW, outH, filter, b);
      const got = resamplePlanes(src, w, h, stride, kind, outW, outH, filter, b);
      assert.equal(got.length, kind === 'rgb' ? 3 : 1);
      assert.deepEqual(got, expected, `case ${n}: ${w}x${h}x${stride} ${kind} -> ${outW}x${outH} ${filter} box ${b.join(',')}`);
    }
  });

  it('keeps its memory to a strip of the source: a 40-megapixel plane to 28x28 stays under 8 MB, reused by the next call', () => {
    const w = 7300;
    const h = 5480;
    const src = new Uint8Array(w * h * 3);
    for (let i = 0; i < src.length; i += 4099) src[i] = 255;
    const b: Box = [(w - h) / 2, 0, (w + h) / 2, h];
    const before = resampleWasmStatus().peakMemoryBytes;
    const first = resamplePlanes(src, w, h, 3, 'luma', 28, 28, 'lanczos', b);
    const peak = resampleWasmStatus().peakMemoryBytes;
    assert.ok(peak < 8 << 20, `peak ${peak} bytes`);
    assert.ok(peak >= before);
    const again = resamplePlanes(src, w, h, 3, 'luma', 28, 28, 'lanczos', b);
    assert.deepEqual(again, first);
    assert.equal(resampleWasmStatus().peakMemoryBytes, peak, 'the second call grew the memory');
    assert.deepEqual(first, resamplePlanesJs(src, w, h, 3, 'luma', 28, 28, 'lanczos', b));
  });
});

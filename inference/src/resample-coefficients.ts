/**
 * Pillow's precompute_coeffs + normalize_coeffs_8bpc (Resample.c) for one axis, shared by the
 * JavaScript passes (resample.ts) and the WebAssembly ones (resample-wasm.ts): the weights are
 * computed once, in double precision as the C code does, so both paths convolve with the same integers.
 */

import type { Filter } from './filters.js';

export const PRECISION_BITS = 32 - 8 - 2;

export interface Coefficients {
  ksize: number;
  /** Per output pixel: first input index and tap count. */
  bounds: Int32Array;
  /** Per output pixel: ksize fixed-point weights. */
  weights: Int32Array;
  /** The weights re-laid for SIMD (resample-wasm.ts), made on first use: kstride (a multiple of 4) per output pixel, zero-padded. */
  padded?: { kstride: number; weights: Int32Array };
  /** The weights split for the horizontal pass in WebAssembly (splitWeights), made on first use. */
  split?: { kstride: number; weights: Int16Array };
}

// The same few (size, box, filter) combinations recur for every image of a model, and readRegion and
// each colour plane's resample ask for the same axes: keep them, read-only, per filter.
const CACHE_LIMIT = 64;
const cache = new WeakMap<Filter, Map<string, Coefficients>>();

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis; the result is shared, never written. */
export function coefficients(inSize: number, in0: number, in1: number, outSize: number, filter: Filter): Coefficients {
  let perFilter = cache.get(filter);
  if (!perFilter) cache.set(filter, (perFilter = new Map()));
  const key = `${inSize},${in0},${in1},${outSize}`;
  let c = perFilter.get(key);
  if (!c) {
    if (perFilter.size >= CACHE_LIMIT) perFilter.clear();
    c = computeCoefficients(inSize, in0, in1, outSize, filter);
    perFilter.set(key, c);
  }
  return c;
}

function computeCoefficients(inSize: number, in0: number, in1: number, outSize: number, filter: Filter): Coefficients {
  // Pillow parses the box as C floats and subtracts them as floats (_imaging.c "(ffff)").
  in0 = Math.fround(in0);
  in1 = Math.fround(in1);
  const scale = Math.fround(in1 - in0) / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    // (int)(v + 0.5) in C truncates toward zero.
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.weight((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const w = x < xmax && ww !== 0 ? k[x]! / ww : 0;
      weights[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = Math.max(0, xmax);
  }
  return { ksize, bounds, weights };
}

/** The weights with each output pixel's row padded with zeros to a multiple of 4 taps, kept with the coefficients. */
export function paddedWeights(c: Coefficients, outSize: number): { kstride: number; weights: Int32Array } {
  if (!c.padded) {
    const kstride = (c.ksize + 3) & ~3;
    const weights = new Int32Array(outSize * kstride);
    for (let i = 0; i < outSize; i++) weights.set(c.weights.subarray(i * c.ksize, (i + 1) * c.ksize), i * kstride);
    c.padded = { kstride, weights };
  }
  return c.padded;
}

/**
 * The weights as assembly/resample.ts' horizontal pass takes them, for 16-bit dot products: each
 * w = hi * 2^11 + lo with lo in [0, 2048) (so hi = w >> 11, |hi| <= 2^11 for the normalised 22-bit
 * weights, far inside 16 bits); per output pixel, kstride (a multiple of 8) taps in groups of 8: the
 * 8 hi, then the 8 lo. Zero past the tap count.
 */
export function splitWeights(c: Coefficients, outSize: number): { kstride: number; weights: Int16Array } {
  if (!c.split) {
    const kstride = (c.ksize + 7) & ~7;
    const weights = new Int16Array(outSize * kstride * 2);
    for (let i = 0; i < outSize; i++) {
      for (let t = 0; t < c.ksize; t++) {
        const w = c.weights[i * c.ksize + t]!;
        const at = (i * kstride + (t & ~7)) * 2 + (t & 7);
        weights[at] = w >> 11;
        weights[at + 8] = w & 2047;
      }
    }
    c.split = { kstride, weights };
  }
  return c.split;
}

/** [first, last) of the input the taps read (taps with no weight excluded). */
export function span(c: Coefficients, count: number): [number, number] {
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  for (let i = 0; i < count; i++) {
    const n = c.bounds[i * 2 + 1]!;
    if (n === 0) continue;
    first = Math.min(first, c.bounds[i * 2]!);
    last = Math.max(last, c.bounds[i * 2]! + n);
  }
  return first === Number.POSITIVE_INFINITY ? [0, 0] : [first, last];
}

/**
 * Pillow-exact `Image.resize(size, filter, box, reducing_gap=None)` for 8-bit single-channel images,
 * for every filter Pillow has (filters.ts), and `ImageOps.fit`'s crop box.
 *
 * Why not sharp's resize: libvips pre-shrinks large reductions with a box filter and aligns
 * enlargements differently, so on the seed's own preprocessing it differs from Pillow by up to 46
 * levels (640x480 JPEG) and 114 levels (20x20 upscale). The model was trained on Pillow's output,
 * so this follows Pillow's Resample.c exactly: the filter's weights, support scaled by the reduction
 * factor, 22-bit fixed-point coefficients, horizontal then vertical pass with rounding and clipping
 * to 8 bits between passes. Decoding and colour conversion stay with sharp/libvips.
 */

import { FILTERS, type Filter, type Interpolation } from './filters.js';

const PRECISION_BITS = 32 - 8 - 2;

interface Coefficients {
  ksize: number;
  /** Per output pixel: first input index and tap count. */
  bounds: Int32Array;
  /** Per output pixel: ksize fixed-point weights. */
  weights: Int32Array;
}

// The same few (size, box, filter) combinations recur for every image of a model, and readRegion and
// each colour plane's resample ask for the same axes: keep them, read-only, per filter.
const CACHE_LIMIT = 64;
const cache = new WeakMap<Filter, Map<string, Coefficients>>();

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis; the result is shared, never written. */
function coefficients(inSize: number, in0: number, in1: number, outSize: number, filter: Filter): Coefficients {
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

function clip8(v: number): number {
  if (v >= 1 << (PRECISION_BITS + 8)) return 255;
  if (v <= 0) return 0;
  return v >> PRECISION_BITS;
}

/** Pillow's ImageOps.fit crop box (no bleed, centred), as floats. */
export function fitBox(width: number, height: number, outWidth: number, outHeight: number): [number, number, number, number] {
  const liveRatio = width / height;
  const outRatio = outWidth / outHeight;
  let cropWidth: number;
  let cropHeight: number;
  if (liveRatio === outRatio) {
    cropWidth = width;
    cropHeight = height;
  } else if (liveRatio >= outRatio) {
    cropWidth = outRatio * height;
    cropHeight = height;
  } else {
    cropWidth = width;
    cropHeight = width / outRatio;
  }
  const left = (width - cropWidth) * 0.5;
  const top = (height - cropHeight) * 0.5;
  return [left, top, left + cropWidth, top + cropHeight];
}

export type Box = [number, number, number, number];

/** `resample(…, 'lanczos')`: the seed's filter, kept under its old name. */
export function resampleLanczos(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number, box?: Box): Uint8Array {
  return resample(src, width, height, outWidth, outHeight, 'lanczos', box);
}

/**
 * Resizes the `box` region of an 8-bit single-channel image to outWidth x outHeight, as Pillow's
 * `Image.resize(size, filter, box=box, reducing_gap=None)` does for mode "L" (and for each band of
 * "RGB", which Pillow resamples with the same arithmetic band by band).
 */
export function resample(
  src: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
  interpolation: Interpolation,
  box: Box = [0, 0, width, height],
): Uint8Array {
  const [x0, y0, x1, y1] = box;
  if (outWidth === width && outHeight === height && x0 === 0 && y0 === 0 && x1 === width && y1 === height) {
    return Uint8Array.from(src);
  }
  if (interpolation === 'nearest') return resampleNearest(src, width, height, outWidth, outHeight, box);
  const filter = FILTERS[interpolation];
  const needHorizontal = outWidth !== width || x0 !== 0 || x1 !== outWidth;
  const needVertical = outHeight !== height || y0 !== 0 || y1 !== outHeight;
  const horiz = coefficients(width, x0, x1, outWidth, filter);
  const vert = coefficients(height, y0, y1, outHeight, filter);

  let image = src;
  let imageWidth = width;
  // The first source row the intermediate image holds (the vertical taps are relative to the source).
  let rowOffset = 0;
  if (needHorizontal) {
    // Only the rows the vertical pass will read.
    const first = vert.bounds[0]!;
    const last = vert.bounds[outHeight * 2 - 2]! + vert.bounds[outHeight * 2 - 1]!;
    const rows = last - first;
    const tmp = new Uint8Array(outWidth * rows);
    const { ksize, bounds, weights } = horiz;
    for (let y = 0; y < rows; y++) {
      const row = (y + first) * width;
      for (let xx = 0; xx < outWidth; xx++) {
        const xmin = bounds[xx * 2]!;
        const n = bounds[xx * 2 + 1]!;
        const kbase = xx * ksize;
        let ss = 1 << (PRECISION_BITS - 1);
        let p = row + xmin;
        let k = kbase;
        const end4 = p + (n & ~3);
        const end = p + n;
        for (; p < end4; p += 4, k += 4) {
          ss = (ss + src[p]! * weights[k]! + src[p + 1]! * weights[k + 1]!) | 0;
          ss = (ss + src[p + 2]! * weights[k + 2]! + src[p + 3]! * weights[k + 3]!) | 0;
        }
        for (; p < end; p++, k++) ss = (ss + src[p]! * weights[k]!) | 0;
        tmp[y * outWidth + xx] = clip8(ss);
      }
    }
    rowOffset = first;
    image = tmp;
    imageWidth = outWidth;
  }
  if (!needVertical) return image === src ? Uint8Array.from(src) : image;
  const out = new Uint8Array(imageWidth * outHeight);
  const { ksize, bounds, weights } = vert;
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = bounds[yy * 2]! - rowOffset;
    const n = bounds[yy * 2 + 1]!;
    const kbase = yy * ksize;
    for (let xx = 0; xx < imageWidth; xx++) {
      let ss = 1 << (PRECISION_BITS - 1);
      for (let y = 0; y < n; y++) ss = (ss + image[(y + ymin) * imageWidth + xx]! * weights[kbase + y]!) | 0;
      out[yy * imageWidth + xx] = clip8(ss);
    }
  }
  return out;
}

/**
 * The source pixels `resample` with the same arguments reads, as [left, top, right, bottom) in whole
 * pixels: the union of every tap's window (a filter's support reaches past the box's edges). A caller
 * that converts colour first need only convert these.
 */
export function readRegion(
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
  interpolation: Interpolation,
  box: Box = [0, 0, width, height],
): Box {
  if (interpolation === 'nearest' || (outWidth === width && outHeight === height && box[0] === 0 && box[1] === 0 && box[2] === width && box[3] === height)) {
    return [0, 0, width, height];
  }
  const filter = FILTERS[interpolation];
  const span = (c: Coefficients, count: number): [number, number] => {
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    for (let i = 0; i < count; i++) {
      const n = c.bounds[i * 2 + 1]!;
      if (n === 0) continue;
      first = Math.min(first, c.bounds[i * 2]!);
      last = Math.max(last, c.bounds[i * 2]! + n);
    }
    return first === Number.POSITIVE_INFINITY ? [0, 0] : [first, last];
  };
  const [x0, x1] = span(coefficients(width, box[0], box[2], outWidth, filter), outWidth);
  const [y0, y1] = span(coefficients(height, box[1], box[3], outHeight, filter), outHeight);
  return [x0, y0, x1, y1];
}

/** C's `(int)v` for the COORD macro of Geometry.c: -1 for negatives, truncation otherwise. */
const coord = (v: number): number => (v < 0 ? -1 : Math.trunc(v));

/**
 * Pillow's NEAREST does not convolve: `_resize` hands it to ImagingTransform's affine scaling
 * (Geometry.c ImagingScaleAffine), which samples the source at the centre of each output pixel,
 * accumulating the step in double precision as the C loop does (so the same pixels are picked), and
 * leaves 0 where the sample falls outside the source.
 */
function resampleNearest(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number, box: Box): Uint8Array {
  const [x0, y0, x1, y1] = box.map(Math.fround) as Box;
  const ax = Math.fround(x1 - x0) / outWidth;
  const ay = Math.fround(y1 - y0) / outHeight;
  const xin = new Int32Array(outWidth).fill(-1);
  let xo = x0 + ax * 0.5;
  for (let x = 0; x < outWidth; x++) {
    const xi = coord(xo);
    if (xi >= 0 && xi < width) xin[x] = xi;
    xo += ax;
  }
  const out = new Uint8Array(outWidth * outHeight);
  let yo = y0 + ay * 0.5;
  for (let y = 0; y < outHeight; y++) {
    const yi = coord(yo);
    if (yi >= 0 && yi < height) {
      const row = yi * width;
      for (let x = 0; x < outWidth; x++) if (xin[x]! >= 0) out[y * outWidth + x] = src[row + xin[x]!]!;
    }
    yo += ay;
  }
  return out;
}

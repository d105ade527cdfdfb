/**
 * Pillow-exact `Image.resize(size, filter, box, reducing_gap=None)` for 8-bit single-channel images,
 * for every filter Pillow has (filters.ts), and `ImageOps.fit`'s crop box.
 *
 * Why not sharp's resize: libvips pre-shrinks large reductions with a box filter and aligns
 * enlargements differently, so on the seed's own preprocessing it differs from Pillow by up to 46
 * levels (640x480 JPEG) and 114 levels (20x20 upscale). The model was trained on Pillow's output,
 * so this follows Pillow's Resample.c exactly: the filter's weights, support scaled by the reduction
 * factor, 22-bit fixed-point coefficients, horizontal then vertical pass with rounding and clipping
 * to 8 bits between passes. Decoding stays with the decoders (decode.ts, turbojpeg.ts).
 *
 * Two implementations of the passes: WebAssembly (resample-wasm.ts, several times faster; used
 * whenever it loads) and the JavaScript below (`resampleJs`, `resamplePlanesJs`): the reference the
 * WebAssembly is tested against byte for byte, and the fallback where the module cannot load.
 */

import { FILTERS, type Interpolation } from './filters.js';
import { coefficients, PRECISION_BITS, span } from './resample-coefficients.js';
import { resampleWasm } from './resample-wasm.js';

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
  if (interpolation !== 'nearest' && !isNoOp(width, height, outWidth, outHeight, box)) {
    const planes = resampleWasm(src, width, height, 1, 'plane', outWidth, outHeight, FILTERS[interpolation], box);
    if (planes) return planes[0]!;
  }
  return resampleJs(src, width, height, outWidth, outHeight, interpolation, box);
}

const isNoOp = (width: number, height: number, outWidth: number, outHeight: number, [x0, y0, x1, y1]: Box): boolean =>
  outWidth === width && outHeight === height && x0 === 0 && y0 === 0 && x1 === width && y1 === height;

/**
 * Pillow's convert('L') (`kind` 'luma') or the three colour bands ('rgb') of interleaved RGB(A)
 * pixels (`stride` 3 or 4), each resized as `resample` does: toTensor's colour and resize steps in one.
 * The WebAssembly path converts only the pixels the resize reads, strip by strip.
 */
export function resamplePlanes(
  data: Uint8Array,
  width: number,
  height: number,
  stride: 3 | 4,
  kind: 'luma' | 'rgb',
  outWidth: number,
  outHeight: number,
  interpolation: Interpolation,
  box: Box = [0, 0, width, height],
): Uint8Array[] {
  if (interpolation === 'nearest') {
    // Nearest may read pixels anywhere in the image, but colour conversion is per pixel: sampling
    // first and converting only the samples gives the same bytes as converting the whole image.
    const sampled = resampleNearest(data, width, height, outWidth, outHeight, box, stride);
    return resamplePlanesJs(sampled, outWidth, outHeight, stride, kind, outWidth, outHeight, 'nearest');
  }
  if (!isNoOp(width, height, outWidth, outHeight, box)) {
    const planes = resampleWasm(data, width, height, stride, kind, outWidth, outHeight, FILTERS[interpolation], box);
    if (planes) return planes;
  }
  return resamplePlanesJs(data, width, height, stride, kind, outWidth, outHeight, interpolation, box);
}

/** `resamplePlanes` in JavaScript: convert the region the resize reads (readRegion), then `resampleJs` each plane. */
export function resamplePlanesJs(
  data: Uint8Array,
  width: number,
  height: number,
  stride: 3 | 4,
  kind: 'luma' | 'rgb',
  outWidth: number,
  outHeight: number,
  interpolation: Interpolation,
  box: Box = [0, 0, width, height],
): Uint8Array[] {
  const region = readRegion(width, height, outWidth, outHeight, interpolation, box);
  const planes = kind === 'luma' ? [luma(data, width, height, stride, region)] : [0, 1, 2].map((c) => band(data, c, width, height, stride, region));
  return planes.map((p) => resampleJs(p, width, height, outWidth, outHeight, interpolation, box));
}

/** `resample` in JavaScript: the reference for the WebAssembly passes, and their fallback. */
export function resampleJs(
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
  if (interpolation === 'nearest' || isNoOp(width, height, outWidth, outHeight, box)) return [0, 0, width, height];
  const filter = FILTERS[interpolation];
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
 * leaves 0 where the sample falls outside the source. With `stride` > 1, samples whole interleaved pixels.
 */
function resampleNearest(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number, box: Box, stride = 1): Uint8Array {
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
  const out = new Uint8Array(outWidth * outHeight * stride);
  let yo = y0 + ay * 0.5;
  for (let y = 0; y < outHeight; y++) {
    const yi = coord(yo);
    if (yi >= 0 && yi < height) {
      const row = yi * width;
      if (stride === 1) {
        for (let x = 0; x < outWidth; x++) if (xin[x]! >= 0) out[y * outWidth + x] = src[row + xin[x]!]!;
      } else {
        for (let x = 0; x < outWidth; x++) {
          if (xin[x]! < 0) continue;
          const from = (row + xin[x]!) * stride;
          const to = (y * outWidth + x) * stride;
          for (let c = 0; c < stride; c++) out[to + c] = src[from + c]!;
        }
      }
    }
    yo += ay;
  }
  return out;
}

/**
 * ITU-R 601-2 luma as Pillow's convert('L') computes it from interleaved RGB(A), in its integer form
 * with rounding (Convert.c L24), over `region` of a width x height image (the rest left 0, never read).
 * libvips' own greyscale works in linear light (up to 60 levels off).
 */
function luma(rgb: Uint8Array, width: number, height: number, stride: number, region: Box): Uint8Array {
  const out = new Uint8Array(width * height);
  const [x0, y0, x1, y1] = region;
  for (let y = y0; y < y1; y++) {
    for (let i = y * width + x0, p = i * stride, end = y * width + x1; i < end; i++, p += stride) {
      out[i] = (rgb[p]! * 19595 + rgb[p + 1]! * 38470 + rgb[p + 2]! * 7471 + 0x8000) >>> 16;
    }
  }
  return out;
}

function band(rgb: Uint8Array, channel: number, width: number, height: number, stride: number, region: Box): Uint8Array {
  const out = new Uint8Array(width * height);
  const [x0, y0, x1, y1] = region;
  for (let y = y0; y < y1; y++) {
    for (let i = y * width + x0, p = i * stride + channel, end = y * width + x1; i < end; i++, p += stride) out[i] = rgb[p]!;
  }
  return out;
}

import pngjs, { type PNGWithMetadata } from 'pngjs';
import { checkEncoded, checkPixels, decode, REDUCE_TO_MULTIPLE, jpegOrientation, orientedSize, pngHasExif, pngSize, scaleBox, type ImageFormat, type ImageLimits, type ResizePlan, type Size } from './decode.js';
import { InvalidImageError } from './errors.js';
import type { Interpolation } from './filters.js';
import { place, type Placement } from './geometry.js';
import { inputGeometry, type InputGeometry } from './model-card.js';
import type { ModelDescription } from './model-description.js';
import { orient } from './orientation.js';
import { resample, resamplePlanes } from './resample.js';
import { spng } from './spng.js';
import { scaled, turboJpeg, type ScalingFactor } from './turbojpeg.js';

export { sniffFormat } from './decode.js';
export type { ImageFormat, ImageLimits } from './decode.js';

/**
 * 8-bit pixels as decoded: interleaved RGB (stride 3) or RGBA (stride 4), or one grey plane (stride 1:
 * a greyscale PNG as stored, or a reduced JPEG decode for a greyscale model, libjpeg's luma, as
 * Pillow's draft('L') decodes).
 */
export interface DecodedPixels {
  data: Uint8Array;
  width: number;
  height: number;
  stride: 1 | 3 | 4;
  /**
   * The image's size as stored, when the decoder delivered it reduced (decode.ts' reducedSize): the
   * geometry is always planned on the stored size, then mapped onto the decoded pixels.
   */
  source?: Size;
}

export interface PreprocessOptions {
  /** Exact mode: every image decoded at full size, pixels identical to Pillow's. Default false. */
  exact?: boolean;
  /** Pillow's reducing_gap (REDUCING_GAP): the decoded image keeps this many times the output; REDUCE_TO_MULTIPLE unless set. */
  reducingGap?: number;
  /**
   * Turn the image as its EXIF orientation tag says before preprocessing (Pillow's
   * ImageOps.exif_transpose; phone cameras store pixels sideways and tag them). Default true.
   */
  exifOrientation?: boolean;
}

/**
 * Decodes and preprocesses one encoded image into the model's input, exactly as its description
 * says, in three separate steps: decode to 8-bit pixels (`decode`), colour (Pillow's convert:
 * 'L' luma, RGB, or RGB then swapped to BGR), geometry (geometry.ts: fit, stretch, shortest edge +
 * centre crop, letterbox; resampling with Pillow's filters, resample.ts), then values
 * `((invert ? 255 - v : v) * rescale - mean[c]) / std[c]` written in the model's layout.
 *
 * Built from plain data (the description and the limits) so a worker thread can rebuild it.
 *
 * Three decoders give Pillow's pixels at full size: JPEGs go to libjpeg-turbo's TurboJPEG in-process
 * (turbojpeg.ts; ~0.4 ms for 224x224), small 8-bit PNGs to pngjs (tens of microseconds), and the
 * rest to sharp/libvips (about a millisecond of set-up per call), which also has the last word on
 * any JPEG TurboJPEG declines. Over-sized images are refused from the header. Unless `exact`, a JPEG
 * much larger than the model's input is decoded at a DCT scale (1/2, 1/4 or 1/8, as Pillow's draft()),
 * and other formats through libvips' shrink-on-load (decode.ts' reducedSize), keeping at least
 * REDUCE_TO_MULTIPLE x the output across the very box geometry.ts plans for the resize mode; the
 * description's filter does the last step.
 */
export class ImagePreprocessor {
  readonly geometry: InputGeometry;
  private readonly pre: ModelDescription['preprocessing'];
  private readonly layout: ModelDescription['input']['layout'];
  private readonly exact: boolean;
  private readonly reducingGap: number | undefined;
  private readonly orient: boolean;
  private readonly smallPixels: number;

  constructor(
    description: ModelDescription,
    private readonly limits: ImageLimits,
    options: PreprocessOptions = {},
  ) {
    this.geometry = inputGeometry(description);
    this.pre = description.preprocessing;
    this.layout = description.input.layout;
    this.exact = options.exact ?? false;
    this.reducingGap = options.reducingGap;
    this.orient = options.exifOrientation ?? true;
    this.smallPixels = SMALL_IMAGE_RATIO * this.geometry.width * this.geometry.height;
  }

  /** Checks what can be checked without decoding (bytes, format, PNG/JPEG header); throws the typed error. */
  check(bytes: Uint8Array): ImageFormat {
    return checkEncoded(bytes, this.limits);
  }

  async preprocess(bytes: Uint8Array): Promise<Float32Array> {
    return this.toTensor(await this.decode(bytes));
  }

  /** Step 1: encoded bytes to 8-bit RGB(A) pixels (at full size, unless reduced; see `source`). */
  async decode(bytes: Uint8Array): Promise<DecodedPixels> {
    const format = this.check(bytes);
    if (format === 'png') {
      const size = pngSize(bytes)!;
      // Small 8-bit PNGs in-process: libspng (spng.ts), else pngjs, where a libvips call costs ~1 ms.
      // pngjs maps 16-bit samples to 8 bits differently from libvips, and neither reads eXIf: those
      // (rare) go to libvips.
      if (size.width * size.height <= this.smallPixels && bytes[24]! <= 8 && !(this.orient && pngHasExif(bytes))) return this.fromPng(bytes);
    }
    if (format === 'jpeg') {
      const pixels = this.fromTurboJpeg(bytes);
      if (pixels) return pixels;
    }
    return this.fromSharp(bytes);
  }

  /** Steps 2-4: colour, geometry and values, synchronously. */
  toTensor(pixels: DecodedPixels): Float32Array {
    const { data, width: w, height: h, stride } = pixels;
    const { channels, width, height, size } = this.geometry;
    const { colour, resize, rescale, mean, std, invert } = this.pre;
    // Planned on the stored size (shortest-edge and letterbox round on it), read on the decoded one.
    const source = pixels.source ?? { width: w, height: h };
    const at = place(resize, source.width, source.height, width, height);
    const box = scaleBox(at.box, source, { width: w, height: h });
    // Colour (Pillow's convert('L'), or the RGB bands) and resize in one call (resample.ts): colour is
    // converted only where the resize reads, in WebAssembly where it loads.
    let planes: Uint8Array[];
    if (stride === 1) {
      const grey = resample(data, w, h, at.width, at.height, resize.interpolation, box);
      planes = colour === 'grayscale' ? [grey] : [grey, grey, grey];
    } else {
      planes = resamplePlanes(data, w, h, stride, colour === 'grayscale' ? 'luma' : 'rgb', at.width, at.height, resize.interpolation, box);
    }
    const pixelsPerPlane = width * height;
    const out = new Float32Array(size);
    for (let p = 0; p < channels; p++) {
      const resized = planes[p]!;
      const window = fitWindow(resized, at, width, height, resize.fill?.[p] ?? 0);
      // The model's channel c is plane c, or plane 2 - c for BGR.
      const c = colour === 'bgr' ? 2 - p : p;
      const m = mean[c]!;
      const s = std[c]!;
      const base = this.layout === 'NCHW' ? c * pixelsPerPlane : c;
      const step = this.layout === 'NCHW' ? 1 : channels;
      for (let i = 0; i < pixelsPerPlane; i++) {
        const v = window[i]!;
        out[base + i * step] = ((invert ? 255 - v : v) * rescale - m) / s;
      }
    }
    return out;
  }

  /**
   * JPEGs through libjpeg-turbo's TurboJPEG (turbojpeg.ts), at the smallest DCT scale that still keeps
   * `reducingGap` x the resize's output across the box it reads (none in exact mode, for
   * `nearest`/`box`, or when the image is not larger than that), then turned upright as its EXIF
   * orientation says. Undefined for what libvips must decide: no TurboJPEG here, CMYK/YCCK, or any
   * error or warning from libjpeg (libvips then refuses it with its own words, or decodes it).
   * Like Pillow (the reference every exported model was trained with), an embedded ICC profile is
   * not applied. A greyscale model's JPEG decoded at a DCT scale is decoded as luma only, as Pillow's
   * `draft('L', size)` asks libjpeg for it: libjpeg's Y plane (~15% less decoding at 1/8 scale, the
   * colour transform and chroma upsampling skipped) instead of Pillow's convert('L') of the RGB, within
   * a level of it; the reduced decode is an approximation already (bench/README.md's fidelity figures).
   * A grey JPEG (one component) gives the same bytes either way and is always decoded as one plane.
   */
  private fromTurboJpeg(bytes: Uint8Array): DecodedPixels | undefined {
    const tj = turboJpeg();
    if (!tj) return undefined;
    const header = tj.header(bytes);
    if (!header || header.colorspace > 2 || header.width === 0 || header.height === 0) return undefined;
    checkPixels(header, this.limits);
    const orientation = this.orient ? jpegOrientation(bytes) : 1;
    const source = orientedSize({ width: header.width, height: header.height }, orientation);
    const factor = this.dctFactor(source, tj.factors);
    const grey = this.pre.colour === 'grayscale' && (factor.denom > 1 || header.colorspace === TJCS_GRAY);
    const decoded = grey ? tj.decodeGrey(bytes, factor, header) : tj.decodeRgb(bytes, factor, header);
    if (!decoded) return undefined;
    const stride = grey ? 1 : 3;
    const upright = orient(decoded.data, decoded.width, decoded.height, stride, orientation);
    return { data: upright.data, width: upright.width, height: upright.height, stride, source };
  }

  /**
   * The DCT scale a baseline JPEG of this (upright) size is decoded at, as the denominator: 1 (whole),
   * 2, 4 or 8 (exact mode, nearest and box: always 1). `npm run model -- describe` reports it.
   */
  jpegScale(source: Size): number {
    return this.dctFactor(source, DCT_FACTORS).denom;
  }

  /** The smallest DCT scaling factor keeping reducingGap x the output across the resize's box; 1/1 when none may reduce. */
  private dctFactor(source: Size, factors: readonly ScalingFactor[]): ScalingFactor {
    const one = { num: 1, denom: 1 };
    const plan = this.plan();
    if (!plan) return one;
    const { box, output } = plan(source);
    const multiple = this.reducingGap ?? REDUCE_TO_MULTIPLE;
    const boxWidth = box[2] - box[0];
    const boxHeight = box[3] - box[1];
    let best = one;
    for (const f of factors) {
      // The box shrinks with the image; the scaled image must keep at least multiple x output across it.
      const sx = scaled(source.width, f) / source.width;
      const sy = scaled(source.height, f) / source.height;
      if (boxWidth * sx >= multiple * output.width && boxHeight * sy >= multiple * output.height) best = f;
    }
    return best;
  }

  private fromPng(bytes: Uint8Array): DecodedPixels {
    // libspng gives the same samples 2-5x faster (spng.ts); anything it reports goes on to pngjs,
    // which decides as before and words the refusal.
    const fast = spng()?.decode(bytes);
    if (fast) return fast;
    return decodeWithPngjs(bytes);
  }

  private plan(): ResizePlan | undefined {
    const { width, height } = this.geometry;
    const resize = this.pre.resize;
    // Nearest picks single source pixels and box averages exact areas: a decoder's own prefilter
    // changes what they compute (measured on a 1920-px photo, 10 and 2.3 levels mean at 4x), so
    // they always decode at full size. The smooth kernels average it away (<= 0.4 level).
    if (this.exact || !REDUCIBLE.has(resize.interpolation)) return undefined;
    return (source: Size) => {
      const at = place(resize, source.width, source.height, width, height);
      return { box: at.box, output: { width: at.width, height: at.height } };
    };
  }

  private async fromSharp(bytes: Uint8Array): Promise<DecodedPixels> {
    const plan = this.plan();
    const decoded = await decode(bytes, { limits: this.limits, plan, orient: this.orient, reducingGap: this.reducingGap });
    return { data: decoded.data, width: decoded.width, height: decoded.height, stride: 3, source: decoded.source };
  }
}

/**
 * Images of at most this many times the model's pixels are small: decoded in-process where a
 * decoder for their format exists here, and (preprocess-pool.ts) kept on the calling thread.
 */
export const SMALL_IMAGE_RATIO = 16;

/** The scales turbojpeg.ts offers (libjpeg-turbo's SIMD IDCTs), largest first. */
const DCT_FACTORS: readonly ScalingFactor[] = [1, 2, 4, 8].map((denom) => ({ num: 1, denom }));

/** TurboJPEG's TJCS_GRAY: a one-component JPEG. */
const TJCS_GRAY = 2;

/** Filters whose result a reduced decode (decode.ts' reducedSize) keeps within a level. */
const REDUCIBLE: ReadonlySet<Interpolation> = new Set(['bilinear', 'hamming', 'bicubic', 'lanczos']);

/** The model's width x height window: a centre crop of the resized image, or the resized image pasted on the fill. */
function fitWindow(resized: Uint8Array, at: Placement, width: number, height: number, fill: number): Uint8Array {
  if (at.width === width && at.height === height && at.left === 0 && at.top === 0) return resized;
  const out = new Uint8Array(width * height);
  if (at.kind === 'crop') {
    for (let y = 0; y < height; y++) out.set(resized.subarray((y + at.top) * at.width + at.left, (y + at.top) * at.width + at.left + width), y * width);
  } else {
    out.fill(fill);
    for (let y = 0; y < at.height; y++) out.set(resized.subarray(y * at.width, (y + 1) * at.width), (y + at.top) * width + at.left);
  }
  return out;
}

/**
 * The fallback PNG decoder: pngjs expands every colour type and bit depth to 8-bit RGBA, and caps
 * inflation at the declared image size, so a zlib bomb cannot expand beyond the small-image bound.
 * One difference from Pillow is mended here: for a grey or RGB PNG whose tRNS chunk keys a colour
 * as transparent, pngjs zeroes the keyed pixels' colour along with their alpha, while Pillow keeps
 * the colour (tRNS only ever gives alpha, which convert('L') and convert('RGB') ignore). A pixel of
 * those colour types has alpha 0 only when pngjs keyed it, so its colour is the key's, scaled to
 * 8 bits as pngjs and Pillow scale samples (v * 255 / (2^depth - 1); 16-bit PNGs never come here).
 */
export function decodeWithPngjs(bytes: Uint8Array): DecodedPixels {
  let png: PNGWithMetadata;
  try {
    png = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (cause) {
    throw new InvalidImageError(`invalid PNG: ${(cause as Error).message}`, { cause });
  }
  const key = (png as { transColor?: number[] }).transColor;
  if (key && (png.colorType === 0 || png.colorType === 2) && png.depth <= 8) {
    const max = 2 ** png.depth - 1;
    const [r, g, b] = key.length === 1 ? [key[0]!, key[0]!, key[0]!] : key;
    const rgb = [r!, g!, b!].map((v) => Math.floor((v * 255) / max + 0.5));
    const data = png.data;
    for (let i = 3; i < data.length; i += 4) {
      if (data[i] === 0) {
        data[i - 3] = rgb[0]!;
        data[i - 2] = rgb[1]!;
        data[i - 1] = rgb[2]!;
      }
    }
  }
  return { data: png.data, width: png.width, height: png.height, stride: 4 };
}

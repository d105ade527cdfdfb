import pngjs from 'pngjs';
import sharp, { type OutputInfo } from 'sharp';
import { ImageTooLargeError, InvalidImageError } from './errors.js';
import { place, type Placement } from './geometry.js';
import { inputGeometry, type InputGeometry } from './model-card.js';
import type { ModelDescription } from './model-description.js';
import { resample } from './resample.js';

// Every input is different, so libvips' operation cache would only hold memory.
sharp.cache(false);

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'tiff';

export interface ImageLimits {
  /** Largest accepted encoded size in bytes. */
  maxImageBytes: number;
  /** Largest accepted width x height, read from the header before any pixel is decoded. */
  maxImagePixels: number;
}

/**
 * Identifies the format from its magic bytes. Only formats decoded by the libraries we trust are
 * accepted; everything else (SVG, PDF, HEIF, …) is refused before a decoder sees it.
 */
export function sniffFormat(bytes: Uint8Array): ImageFormat | undefined {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 6 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x38 && (b[4] === 0x37 || b[4] === 0x39) && b[5] === 0x61) return 'gif';
  if (b.length >= 12 && b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50) return 'webp';
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a && b[3] === 0x00) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0x00 && b[3] === 0x2a))) return 'tiff';
  return undefined;
}

/** Width and height from a PNG's IHDR chunk, or undefined when the header is malformed. */
function pngSize(b: Uint8Array): { width: number; height: number } | undefined {
  // signature (8) + chunk length (4) + "IHDR" (4) + width (4) + height (4)
  if (b.length < 24 || b[12] !== 0x49 || b[13] !== 0x48 || b[14] !== 0x44 || b[15] !== 0x52) return undefined;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** 8-bit pixels as decoded, interleaved RGB (stride 3) or RGBA (stride 4). */
export interface DecodedPixels {
  data: Uint8Array;
  width: number;
  height: number;
  stride: 3 | 4;
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
 * Two decoders give the same pixels: a PNG already at the model's size is decoded in-process by
 * pngjs (tens of microseconds, where libvips' per-call set-up would cost ten times more); everything
 * else is decoded by sharp/libvips, which refuses over-sized images from the header.
 */
export class ImagePreprocessor {
  readonly geometry: InputGeometry;
  private readonly pre: ModelDescription['preprocessing'];
  private readonly layout: ModelDescription['input']['layout'];

  constructor(
    description: ModelDescription,
    private readonly limits: ImageLimits,
  ) {
    this.geometry = inputGeometry(description);
    this.pre = description.preprocessing;
    this.layout = description.input.layout;
  }

  /** Checks what can be checked without decoding; throws the typed error. */
  check(bytes: Uint8Array): ImageFormat {
    if (bytes.byteLength === 0) throw new InvalidImageError('image is empty');
    if (bytes.byteLength > this.limits.maxImageBytes) {
      throw new ImageTooLargeError(`image is ${bytes.byteLength} bytes; the limit is ${this.limits.maxImageBytes} bytes`);
    }
    const format = sniffFormat(bytes);
    if (!format) throw new InvalidImageError('unsupported image format: expected PNG, JPEG, GIF, WebP or TIFF');
    if (format === 'png') {
      const size = pngSize(bytes);
      if (!size) throw new InvalidImageError('invalid PNG: missing IHDR header');
      this.checkPixels(size.width, size.height);
    }
    return format;
  }

  async preprocess(bytes: Uint8Array): Promise<Float32Array> {
    return this.toTensor(await this.decode(bytes));
  }

  /** Step 1: encoded bytes to 8-bit RGB(A) pixels at full size. */
  async decode(bytes: Uint8Array): Promise<DecodedPixels> {
    const format = this.check(bytes);
    if (format === 'png') {
      const size = pngSize(bytes)!;
      if (size.width === this.geometry.width && size.height === this.geometry.height) return this.fromPng(bytes);
    }
    return this.fromSharp(bytes);
  }

  /** Steps 2-4: colour, geometry and values, synchronously. */
  toTensor(pixels: DecodedPixels): Float32Array {
    const { data, width: w, height: h, stride } = pixels;
    const { channels, width, height, size } = this.geometry;
    const { colour, resize, rescale, mean, std, invert } = this.pre;
    const planes = colour === 'grayscale' ? [luma(data, w * h, stride)] : [0, 1, 2].map((c) => plane(data, c, w * h, stride));
    const at = place(resize, w, h, width, height);
    const pixelsPerPlane = width * height;
    const out = new Float32Array(size);
    for (let p = 0; p < channels; p++) {
      const resized = resample(planes[p]!, w, h, at.width, at.height, resize.interpolation, at.box);
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

  private checkPixels(width: number, height: number): void {
    if (width === 0 || height === 0) throw new InvalidImageError(`image has no pixels (${width}x${height})`);
    if (width * height > this.limits.maxImagePixels) {
      throw new ImageTooLargeError(
        `image is ${width}x${height} = ${width * height} pixels; the limit is ${this.limits.maxImagePixels} pixels`,
      );
    }
  }

  private fromPng(bytes: Uint8Array): DecodedPixels {
    try {
      // pngjs expands every colour type and bit depth to 8-bit RGBA, and caps inflation at the
      // declared image size, so a zlib bomb cannot expand beyond the model's size.
      const png = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { data: png.data, width: png.width, height: png.height, stride: 4 };
    } catch (cause) {
      throw new InvalidImageError(`invalid PNG: ${(cause as Error).message}`, { cause });
    }
  }

  private async fromSharp(bytes: Uint8Array): Promise<DecodedPixels> {
    let decoded: { data: Buffer; info: OutputInfo };
    try {
      // Decode to 8-bit sRGB at full size, alpha dropped (Pillow's convert('L') and convert('RGB')
      // ignore alpha rather than flattening it).
      const pipeline = sharp(bytes, {
        limitInputPixels: this.limits.maxImagePixels,
        failOn: 'error',
        sequentialRead: true,
        pages: 1,
      })
        .removeAlpha()
        .toColourspace('srgb');
      decoded = await pipeline.raw().toBuffer({ resolveWithObject: true });
    } catch (cause) {
      const message = (cause as Error).message ?? String(cause);
      if (/pixel limit/i.test(message)) {
        throw new ImageTooLargeError(`image has more than ${this.limits.maxImagePixels} pixels`, { cause });
      }
      throw new InvalidImageError(`could not decode image: ${message.split('\n')[0]}`, { cause });
    }
    const { data, info } = decoded;
    if (info.channels !== 3) throw new InvalidImageError(`could not decode image: got ${info.channels} channels`);
    return { data, width: info.width, height: info.height, stride: 3 };
  }
}

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
 * ITU-R 601-2 luma as Pillow's convert('L') computes it from interleaved RGB(A), in its integer form with rounding (Convert.c L24).
 * libvips' own greyscale works in linear light (up to 60 levels off), and its recomb is exact but
 * twice as slow as this loop.
 */
function luma(rgb: Uint8Array, pixels: number, stride = 3): Uint8Array {
  const out = new Uint8Array(pixels);
  for (let i = 0, p = 0; i < pixels; i++, p += stride) {
    out[i] = (rgb[p]! * 19595 + rgb[p + 1]! * 38470 + rgb[p + 2]! * 7471 + 0x8000) >>> 16;
  }
  return out;
}

function plane(rgb: Uint8Array, channel: number, pixels: number, stride: number): Uint8Array {
  const out = new Uint8Array(pixels);
  for (let i = 0; i < pixels; i++) out[i] = rgb[i * stride + channel]!;
  return out;
}

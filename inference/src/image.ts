import pngjs from 'pngjs';
import { checkEncoded, decode, pngSize, scaleBox, type ImageFormat, type ImageLimits } from './decode.js';
import { InvalidImageError } from './errors.js';
import type { InputGeometry, ModelCard } from './model-card.js';
import { fitBox, resampleLanczos } from './resample.js';

export { sniffFormat } from './decode.js';
export type { ImageFormat, ImageLimits } from './decode.js';

/**
 * Decodes and preprocesses one encoded image into the model's input layout (CHW floats), exactly as
 * the card says: grayscale by ITU-R 601-2 luma (alpha ignored), centre crop to the model's aspect,
 * Lanczos resize, `(invert ? 255 - v : v) * scale`.
 *
 * Two paths give the same pixels: a PNG already at the model's size is decoded in-process by pngjs
 * (tens of microseconds — the common case for this model, where libvips' per-call set-up would cost
 * ten times more); everything else is decoded by sharp/libvips, which refuses over-sized images from
 * the header, then resized by a Pillow-exact Lanczos (resample.ts).
 */
export class ImagePreprocessor {
  readonly geometry: InputGeometry;
  private readonly scale: number;
  private readonly invert: boolean;
  /** Fast paths off: every image decoded at full size, pixels identical to Pillow's. */
  private readonly exact: boolean;
  /** decode.ts' REDUCE_TO_MULTIPLE unless set (the photos bench compares values). */
  private readonly reduceToMultiple: number | undefined;

  constructor(
    card: ModelCard,
    geometry: InputGeometry,
    private readonly limits: ImageLimits,
    options: { exact?: boolean; reduceToMultiple?: number } = {},
  ) {
    this.exact = options.exact ?? false;
    this.reduceToMultiple = options.reduceToMultiple;
    this.geometry = geometry;
    this.scale = card.preprocessing.scale;
    this.invert = card.preprocessing.invert;
  }

  /** Checks what can be checked without decoding; throws the typed error. */
  check(bytes: Uint8Array): ImageFormat {
    return checkEncoded(bytes, this.limits);
  }

  async preprocess(bytes: Uint8Array): Promise<Float32Array> {
    const format = this.check(bytes);
    if (format === 'png') {
      const size = pngSize(bytes)!;
      if (size.width === this.geometry.width && size.height === this.geometry.height) return this.fromPngAtModelSize(bytes);
    }
    return this.fromSharp(bytes);
  }

  private fromPngAtModelSize(bytes: Uint8Array): Float32Array {
    let rgba: Buffer;
    try {
      // pngjs expands every colour type and bit depth to 8-bit RGBA, and caps inflation at the
      // declared image size, so a zlib bomb cannot expand beyond 28x28x4 bytes.
      rgba = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).data;
    } catch (cause) {
      throw new InvalidImageError(`invalid PNG: ${(cause as Error).message}`, { cause });
    }
    const { channels, size } = this.geometry;
    const pixels = size / channels;
    const out = new Float32Array(size);
    const { scale, invert } = this;
    if (channels === 1) {
      const l = luma(rgba, pixels, 4);
      for (let i = 0; i < pixels; i++) out[i] = (invert ? 255 - l[i]! : l[i]!) * scale;
    } else {
      for (let i = 0, p = 0; i < pixels; i++, p += 4) {
        for (let c = 0; c < 3; c++) {
          const v = rgba[p + c]!;
          out[c * pixels + i] = (invert ? 255 - v : v) * scale;
        }
      }
    }
    return out;
  }

  private async fromSharp(bytes: Uint8Array): Promise<Float32Array> {
    const { channels, width, height, size } = this.geometry;
    const plan = this.exact ? undefined : (source: { width: number; height: number }) => ({
      box: fitBox(source.width, source.height, width, height),
      output: { width, height },
    });
    const decoded = await decode(bytes, { limits: this.limits, plan, reduceToMultiple: this.reduceToMultiple });
    const { data, source } = decoded;
    const info = decoded;
    const planes = channels === 1 ? [luma(data, info.width * info.height)] : [0, 1, 2].map((c) => plane(data, c, info.width * info.height));
    // Pass 2: Pillow's ImageOps.fit(…, LANCZOS), channel by channel.
    // The crop is chosen on the image as stored, then mapped onto what the decoder delivered.
    const box = scaleBox(fitBox(source.width, source.height, width, height), source, info);
    const pixels = size / channels;
    const out = new Float32Array(size);
    const { scale, invert } = this;
    for (let c = 0; c < channels; c++) {
      const resized = resampleLanczos(planes[c]!, info.width, info.height, width, height, box);
      for (let i = 0; i < pixels; i++) {
        const v = resized[i]!;
        out[c * pixels + i] = (invert ? 255 - v : v) * scale;
      }
    }
    return out;
  }
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

function plane(rgb: Uint8Array, channel: number, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels);
  for (let i = 0; i < pixels; i++) out[i] = rgb[i * 3 + channel]!;
  return out;
}

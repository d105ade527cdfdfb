import sharp, { type Metadata } from 'sharp';
import { ImageTooLargeError, InvalidImageError } from './errors.js';

// Every input is different, so libvips' operation cache would only hold memory.
sharp.cache(false);

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'tiff' | 'avif';

export interface ImageLimits {
  /** Largest accepted encoded size in bytes. */
  maxImageBytes: number;
  /** Largest accepted width x height, read from the header before any pixel is decoded. */
  maxImagePixels: number;
}

export interface Size {
  width: number;
  height: number;
}

/** A region of the source image, [left, top, right, bottom] in (fractional) pixels, as Pillow's `box`. */
export type Box = [number, number, number, number];

/**
 * How much smaller than the source the decoder may deliver pixels. Given the source size, returns the
 * region the resize will read and the size it writes; decode() then keeps at least
 * `reducingGap` times the output size across that region (see reducedSize).
 */
export type ResizePlan = (source: Size) => { box: Box; output: Size };

export interface DecodeOptions {
  limits: ImageLimits;
  /** Absent: decode at full size (exact mode, or a caller that needs every pixel). */
  plan?: ResizePlan | undefined;
  /** The multiple of the output size kept across the box when reducing (REDUCING_GAP); REDUCE_TO_MULTIPLE unless set. */
  reducingGap?: number;
  /**
   * Apply the EXIF orientation tag (Pillow's ImageOps.exif_transpose) before anything else, so the
   * plan, the box and the pixels are all in the orientation the photographer saw. Default true.
   */
  orient?: boolean;
}

export interface DecodedImage {
  /** Interleaved 8-bit sRGB, 3 bytes per pixel. */
  data: Buffer;
  width: number;
  height: number;
  /** The image's size as stored (after orientation); equals width/height unless the decoder reduced it. */
  source: Size;
}

/**
 * The reduction rule's one parameter: a reduced decode keeps at least this many source pixels per
 * output pixel on each axis of the region the resize reads. Chosen by measurement on the real-photo
 * set (bench/photos.ts prints it): at 4 the mean grey-level difference from the exact path stays
 * well under one level and the model's top-1 agrees on every photo; at 2 the Lanczos of the last
 * step starts to see libvips' own filter in the result.
 */
export const REDUCE_TO_MULTIPLE = 4;

/**
 * Above this scale (decoded / stored size, per axis) a libvips reduced decode costs more than it
 * saves, and changes pixels for nothing: decode at full size instead. Measured through libvips
 * (bench/photos.ts, when JPEGs still went there): a 224-px JPEG for a 28-px model (scale 0.5) took
 * 4.6 ms reduced against 3.0 ms at full size, since libvips' resize and the header read cost more per
 * call than the resample of so few pixels; a 640x480 one (scale 0.23) took 3.4 ms against 9.3 ms.
 * JPEGs now take libjpeg's DCT scales directly (image.ts), which cost nothing extra at any scale.
 */
const WORTHWHILE_SCALE = 0.25;

/**
 * The smallest decoded size that still keeps `multiple` x `output` pixels across `box` on each axis,
 * or undefined when that is not at least a 4x reduction. Independent of how the box was chosen (crop,
 * letterbox, stretch, shortest edge) and of the final filter: every resize mode reduces to "this
 * region becomes that many pixels".
 */
export function reducedSize(source: Size, box: Box, output: Size, multiple = REDUCE_TO_MULTIPLE): Size | undefined {
  const boxWidth = box[2] - box[0];
  const boxHeight = box[3] - box[1];
  if (!(boxWidth > 0 && boxHeight > 0)) return undefined;
  const scale = Math.max((multiple * output.width) / boxWidth, (multiple * output.height) / boxHeight);
  if (scale > WORTHWHILE_SCALE) return undefined;
  return { width: Math.max(1, Math.ceil(source.width * scale)), height: Math.max(1, Math.ceil(source.height * scale)) };
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
  if (ftypBrands(b)?.some((brand) => brand === 'avif' || brand === 'avis')) return 'avif';
  return undefined;
}

/** HEIF brands of HEVC-coded images (ISO/IEC 23008-12): what an iPhone's camera writes by default. */
const HEIC_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'hevm', 'hevs', 'mif1', 'msf1']);

/**
 * The major and compatible brands of an ISO base media file's leading `ftyp` box (HEIF, AVIF), or
 * undefined when the bytes do not start with one.
 */
function ftypBrands(b: Uint8Array): string[] | undefined {
  if (b.length < 16 || String.fromCharCode(b[4]!, b[5]!, b[6]!, b[7]!) !== 'ftyp') return undefined;
  const size = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0);
  if (size < 16) return undefined;
  const end = Math.min(size, b.length, 16 + 4 * 64);
  const brands = [String.fromCharCode(b[8]!, b[9]!, b[10]!, b[11]!)];
  for (let i = 16; i + 4 <= end; i += 4) brands.push(String.fromCharCode(b[i]!, b[i + 1]!, b[i + 2]!, b[i + 3]!));
  return brands;
}

/** Width and height from a PNG's IHDR chunk, or undefined when the header is malformed. */
export function pngSize(b: Uint8Array): Size | undefined {
  // signature (8) + chunk length (4) + "IHDR" (4) + width (4) + height (4)
  if (b.length < 24 || b[12] !== 0x49 || b[13] !== 0x48 || b[14] !== 0x44 || b[15] !== 0x52) return undefined;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** Width and height from a JPEG's frame header (SOFn), or undefined when none is found. */
export function jpegSize(b: Uint8Array): Size | undefined {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1]!;
    if (marker === 0xff) {
      i++;
      continue;
    }
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: (b[i + 5]! << 8) | b[i + 6]!, width: (b[i + 7]! << 8) | b[i + 8]! };
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    i += 2 + ((b[i + 2]! << 8) | b[i + 3]!);
  }
  return undefined;
}

/**
 * The EXIF orientation (1-8) of a JPEG, read from its APP1 "Exif" segment's first IFD, or 1 when it
 * has none. Read here rather than by a libvips header read, which costs a call per image.
 */
export function jpegOrientation(b: Uint8Array): number {
  let i = 2;
  while (i + 4 < b.length && b[i] === 0xff) {
    const marker = b[i + 1]!;
    if (marker === 0xda || marker === 0xd9) return 1; // start of scan / end of image: no EXIF before the pixels
    const length = (b[i + 2]! << 8) | b[i + 3]!;
    if (marker === 0xe1 && length >= 16 && b[i + 4] === 0x45 && b[i + 5] === 0x78 && b[i + 6] === 0x69 && b[i + 7] === 0x66 && b[i + 8] === 0 && b[i + 9] === 0) {
      return tiffOrientation(b.subarray(i + 10, Math.min(b.length, i + 2 + length)));
    }
    i += 2 + length;
  }
  return 1;
}

function tiffOrientation(t: Uint8Array): number {
  if (t.length < 8) return 1;
  const little = t[0] === 0x49 && t[1] === 0x49;
  if (!little && !(t[0] === 0x4d && t[1] === 0x4d)) return 1;
  const view = new DataView(t.buffer, t.byteOffset, t.byteLength);
  const ifd = view.getUint32(4, little);
  if (ifd + 2 > t.length) return 1;
  const count = view.getUint16(ifd, little);
  for (let e = 0; e < count; e++) {
    const at = ifd + 2 + e * 12;
    if (at + 12 > t.length) return 1;
    if (view.getUint16(at, little) === 0x0112) {
      const value = view.getUint16(at + 8, little);
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

/** Orientations 5-8 turn the image a quarter: width and height swap. */
export function orientedSize(size: Size, orientation: number): Size {
  return orientation >= 5 ? { width: size.height, height: size.width } : size;
}

/** Whether a PNG carries an eXIf chunk (and so possibly an orientation) before its pixels. */
export function pngHasExif(b: Uint8Array): boolean {
  let i = 8;
  while (i + 8 <= b.length) {
    const length = ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
    const type = String.fromCharCode(b[i + 4]!, b[i + 5]!, b[i + 6]!, b[i + 7]!);
    if (type === 'eXIf') return true;
    if (type === 'IDAT' || type === 'IEND') return false;
    i += 12 + length;
  }
  return false;
}

/** The formats checkEncoded accepts, as its refusals name them. */
const FORMATS = 'PNG, JPEG, GIF, WebP, AVIF or TIFF';

/** Checks what can be checked without decoding (size in bytes, format, PNG/JPEG header); throws the typed error. */

export function checkEncoded(bytes: Uint8Array, limits: ImageLimits): ImageFormat {
  if (bytes.byteLength === 0) throw new InvalidImageError('image is empty');
  if (bytes.byteLength > limits.maxImageBytes) {
    throw new ImageTooLargeError(`image is ${bytes.byteLength} bytes; the limit is ${limits.maxImageBytes} bytes`);
  }
  const format = sniffFormat(bytes);
  if (!format) {
    // HEIC is the one photo format a phone sends that libvips cannot read here (HEVC is not in sharp's
    // libheif): say so, and how to get a JPEG instead.
    if (ftypBrands(bytes)?.some((brand) => HEIC_BRANDS.has(brand))) {
      throw new InvalidImageError(`unsupported image format: HEIC/HEIF (an iPhone camera's default); expected ${FORMATS}. On iOS, Settings > Camera > Formats > Most Compatible makes JPEGs`);
    }
    throw new InvalidImageError(`unsupported image format: expected ${FORMATS}`);
  }
  if (format === 'png') {
    const size = pngSize(bytes);
    if (!size) throw new InvalidImageError('invalid PNG: missing IHDR header');
    checkPixels(size, limits);
  }
  if (format === 'jpeg') {
    // A JPEG without a readable frame header is left to libvips, which refuses it.
    const size = jpegSize(bytes);
    if (size) checkPixels(size, limits);
  }
  return format;
}

export function checkPixels({ width, height }: Size, limits: ImageLimits): void {
  if (width === 0 || height === 0) throw new InvalidImageError(`image has no pixels (${width}x${height})`);
  if (width * height > limits.maxImagePixels) {
    throw new ImageTooLargeError(`image is ${width}x${height} = ${width * height} pixels; the limit is ${limits.maxImagePixels} pixels`);
  }
}

function decodeError(cause: unknown, limits: ImageLimits): Error {
  const message = (cause as Error).message ?? String(cause);
  if (/pixel limit/i.test(message)) return new ImageTooLargeError(`image has more than ${limits.maxImagePixels} pixels`, { cause });
  return new InvalidImageError(`could not decode image: ${message.split('\n')[0]}`, { cause });
}

/**
 * Decodes an image (already through checkEncoded) to 8-bit sRGB with libvips, alpha dropped (Pillow's
 * convert('L') ignores alpha rather than flattening it).
 *
 * With a plan whose reduction is large (reducedSize), libvips delivers the image already reduced:
 * a JPEG is decoded at 1/2, 1/4 or 1/8 scale by libjpeg's DCT scaling (what Pillow's draft() does),
 * then libvips' Lanczos-3 brings it to the reduced size; the caller's exact filter does the last step.
 * The header is read first, so the pixel limit holds before any pixel is decoded on both paths.
 * Images with alpha always decode at full size: libvips resizes them premultiplied, which Pillow does
 * not for convert('L').
 */
export async function decode(bytes: Uint8Array, options: DecodeOptions): Promise<DecodedImage> {
  const { limits, plan } = options;
  const orient = options.orient ?? true;
  const input = { limitInputPixels: limits.maxImagePixels, failOn: 'error', sequentialRead: true, pages: 1 } as const;
  let target: Size | undefined;
  let source: Size | undefined;
  if (plan) {
    // A JPEG's frame header gives its size, and JPEG has no alpha: no libvips header read needed.
    const fromHeader = sniffFormat(bytes) === 'jpeg' ? jpegSize(bytes) : undefined;
    let meta: Pick<Metadata, 'width' | 'height' | 'hasAlpha' | 'orientation'>;
    try {
      meta = fromHeader ? { ...fromHeader, hasAlpha: false, orientation: jpegOrientation(bytes) } : await sharp(bytes, input).metadata();
    } catch (cause) {
      throw decodeError(cause, limits);
    }
    checkPixels(meta, limits);
    // The plan is made on the image as it will be seen; sharp's resize after autoOrient() is too.
    source = orientedSize({ width: meta.width, height: meta.height }, orient ? (meta.orientation ?? 1) : 1);
    if (!meta.hasAlpha) {
      const { box, output } = plan(source);
      target = reducedSize(source, box, output, options.reducingGap);
    }
  }
  try {
    let pipeline = sharp(bytes, input);
    if (orient) pipeline = pipeline.autoOrient();
    if (target) pipeline = pipeline.resize(target.width, target.height, { fit: 'fill', kernel: 'lanczos3', fastShrinkOnLoad: true });
    const { data, info } = await pipeline.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new InvalidImageError(`could not decode image: got ${info.channels} channels`);
    return { data, width: info.width, height: info.height, source: source ?? { width: info.width, height: info.height } };
  } catch (cause) {
    if (cause instanceof InvalidImageError || cause instanceof ImageTooLargeError) throw cause;
    throw decodeError(cause, limits);
  }
}

/** Maps a box on the source image onto the same region of a (possibly reduced) decoded image. */
export function scaleBox(box: Box, source: Size, decoded: Size): Box {
  if (source.width === decoded.width && source.height === decoded.height) return box;
  const sx = decoded.width / source.width;
  const sy = decoded.height / source.height;
  return [box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy];
}

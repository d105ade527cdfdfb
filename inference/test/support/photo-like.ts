import sharp from 'sharp';

/** A smooth, photo-like JPEG made by libvips: random 40x30 pixels enlarged by Lanczos. */
export async function photoLikeJpeg(width: number, height: number, seed = 1): Promise<Buffer> {
  let state = seed;
  const random = (): number => (state = (state * 1103515245 + 12345) >>> 0) >>> 24;
  const small = Buffer.from(Array.from({ length: 40 * 30 * 3 }, random));
  return sharp(small, { raw: { width: 40, height: 30, channels: 3 } }).resize(width, height, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
}

/**
 * Turning decoded pixels upright as a JPEG's EXIF orientation tag (1-8) says, as Pillow's
 * `ImageOps.exif_transpose` does: 2 mirror, 3 half turn, 4 flip, 5 transpose, 6 a quarter turn
 * clockwise, 7 transverse, 8 a quarter turn anticlockwise. Pure index arithmetic on interleaved
 * 8-bit pixels; orientation 1 returns the input untouched.
 */
export function orient(data: Uint8Array, width: number, height: number, channels: number, orientation: number): { data: Uint8Array; width: number; height: number } {
  if (orientation < 2 || orientation > 8) return { data, width, height };
  const swap = orientation >= 5;
  const outWidth = swap ? height : width;
  const outHeight = swap ? width : height;
  const out = new Uint8Array(data.length);
  // For each output pixel (x, y): the source column and row, as x0 + x * dxx + y * dxy, y0 + x * dyx + y * dyy.
  const [x0, dxx, dxy, y0, dyx, dyy] = MAPS[orientation]!(width, height);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      const sx = x0 + x * dxx + y * dxy;
      const sy = y0 + x * dyx + y * dyy;
      const from = (sy * width + sx) * channels;
      const to = (y * outWidth + x) * channels;
      for (let c = 0; c < channels; c++) out[to + c] = data[from + c]!;
    }
  }
  return { data: out, width: outWidth, height: outHeight };
}

type Map6 = [number, number, number, number, number, number];

const MAPS: Record<number, (w: number, h: number) => Map6> = {
  2: (w) => [w - 1, -1, 0, 0, 0, 1], // FLIP_LEFT_RIGHT
  3: (w, h) => [w - 1, -1, 0, h - 1, 0, -1], // ROTATE_180
  4: (_w, h) => [0, 1, 0, h - 1, 0, -1], // FLIP_TOP_BOTTOM
  5: () => [0, 0, 1, 0, 1, 0], // TRANSPOSE: (x, y) <- (y, x)
  6: (_w, h) => [0, 0, 1, h - 1, -1, 0], // ROTATE_270 (clockwise): (x, y) <- (y, h-1-x)
  7: (w, h) => [w - 1, 0, -1, h - 1, -1, 0], // TRANSVERSE: (x, y) <- (w-1-y, h-1-x)
  8: (w) => [w - 1, 0, -1, 0, 1, 0], // ROTATE_90 (anticlockwise): (x, y) <- (w-1-y, x)
};

/**
 * AssemblyScript (compiled to WebAssembly with SIMD by inference/scripts/build-wasm.mjs): the two
 * convolution passes of Pillow's Resample.c for 8-bit planes, and Pillow's convert('L') / band
 * extraction feeding them, over raw linear memory laid out by src/resample-wasm.ts.
 *
 * Why WebAssembly: V8 runs the JavaScript loops (src/resample.ts, kept as the reference and the
 * fallback) at 2-3 ns per multiply-add; 128-bit SIMD does 4 to 16 of them per instruction here.
 * Bit-exactness: the arithmetic is Pillow's (22-bit fixed-point weights, sums in wrapping 32-bit
 * integers, clip to 8 bits between passes). Integer addition modulo 2^32 is associative, so summing
 * the taps in SIMD lanes and then across lanes gives the very same 32-bit sum as the C loop.
 *
 * Memory contract (the caller's): coefficients are `bounds` (per output pixel: first input index,
 * tap count, as int32 pairs) and `weights` (per output pixel, `kstride` taps, zero past the tap
 * count: int32 for the vertical pass, kstride a multiple of 4; split in 16-bit pairs for the
 * horizontal one, kstride a multiple of 8); every input buffer has 16 readable bytes past its end.
 * The SIMD loops read up to 7 bytes beyond a window, always multiplied by a zero weight.
 */

const PRECISION_BITS: i32 = 22;
const HALF: i32 = 1 << (PRECISION_BITS - 1);

/** Where the caller may start laying out buffers (after this module's static data), 16-aligned. */
export function heapBase(): usize {
  return (__heap_base + 15) & ~(<usize>15);
}

function clip8(ss: i32): u8 {
  if (ss >= 1 << (PRECISION_BITS + 8)) return 255;
  if (ss <= 0) return 0;
  return <u8>(ss >> PRECISION_BITS);
}

/**
 * One row of the horizontal pass: outWidth output pixels from the 8-bit row at `src`.
 * The weights come split (src/resample-coefficients.ts' splitWeights): w = hi * 2^11 + lo with lo in
 * [0, 2048), both 16-bit, in groups of 8 taps (8 hi, then 8 lo). That lets i32x4.dot_i16x8_s
 * (pmaddwd: 8 multiply-adds, one instruction) do the work: the sum is (sum(p * hi) << 11) + sum(p * lo),
 * the same 32-bit integer as sum(p * w).
 */
function horizontalRow(src: usize, dst: usize, outWidth: i32, bounds: usize, weights: usize, kstride: i32): void {
  for (let xx = 0; xx < outWidth; xx++) {
    const b = bounds + (<usize>xx << 3);
    const p = src + <usize>load<i32>(b);
    const n = load<i32>(b, 4);
    const k = weights + (<usize>(xx * kstride) << 2);
    let hi = i32x4.splat(0);
    let lo = i32x4.splat(0);
    let i = 0;
    for (; i + 16 <= n; i += 16) {
      const px = v128.load(p + i);
      const a = i16x8.extend_low_i8x16_u(px);
      const c = i16x8.extend_high_i8x16_u(px);
      const kw = k + (<usize>i << 2);
      hi = i32x4.add(hi, i32x4.dot_i16x8_s(a, v128.load(kw)));
      lo = i32x4.add(lo, i32x4.dot_i16x8_s(a, v128.load(kw, 16)));
      hi = i32x4.add(hi, i32x4.dot_i16x8_s(c, v128.load(kw, 32)));
      lo = i32x4.add(lo, i32x4.dot_i16x8_s(c, v128.load(kw, 48)));
    }
    // The weights are zero from n up to kstride (a multiple of 8).
    for (; i < n; i += 8) {
      const a = i16x8.extend_low_i8x16_u(v128.load64_zero(p + i));
      const kw = k + (<usize>i << 2);
      hi = i32x4.add(hi, i32x4.dot_i16x8_s(a, v128.load(kw)));
      lo = i32x4.add(lo, i32x4.dot_i16x8_s(a, v128.load(kw, 16)));
    }
    const acc = i32x4.add(i32x4.shl(hi, 11), lo);
    const ss = HALF + i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
    store<u8>(dst + xx, clip8(ss));
  }
}

// Sixteen pixels' colour band from interleaved RGB (three vectors, 48 bytes) or RGBA (four, 64 bytes):
// lane i takes byte stride * i + band, gathered by byte swizzles (an index of -128 gives 0).
const Z: i8 = -128;
function red3(v0: v128, v1: v128, v2: v128): v128 {
  return v128.or(v128.or(i8x16.swizzle(v0, i8x16(0, 3, 6, 9, 12, 15, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z)), i8x16.swizzle(v1, i8x16(Z, Z, Z, Z, Z, Z, 2, 5, 8, 11, 14, Z, Z, Z, Z, Z))), i8x16.swizzle(v2, i8x16(Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, 1, 4, 7, 10, 13)));
}
function green3(v0: v128, v1: v128, v2: v128): v128 {
  return v128.or(v128.or(i8x16.swizzle(v0, i8x16(1, 4, 7, 10, 13, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z)), i8x16.swizzle(v1, i8x16(Z, Z, Z, Z, Z, 0, 3, 6, 9, 12, 15, Z, Z, Z, Z, Z))), i8x16.swizzle(v2, i8x16(Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, 2, 5, 8, 11, 14)));
}
function blue3(v0: v128, v1: v128, v2: v128): v128 {
  return v128.or(v128.or(i8x16.swizzle(v0, i8x16(2, 5, 8, 11, 14, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z)), i8x16.swizzle(v1, i8x16(Z, Z, Z, Z, Z, 1, 4, 7, 10, 13, Z, Z, Z, Z, Z, Z))), i8x16.swizzle(v2, i8x16(Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, 0, 3, 6, 9, 12, 15)));
}
function red4(v0: v128, v1: v128, v2: v128, v3: v128): v128 {
  return v128.or(v128.or(v128.or(i8x16.swizzle(v0, i8x16(0, 4, 8, 12, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z)), i8x16.swizzle(v1, i8x16(Z, Z, Z, Z, 0, 4, 8, 12, Z, Z, Z, Z, Z, Z, Z, Z))), i8x16.swizzle(v2, i8x16(Z, Z, Z, Z, Z, Z, Z, Z, 0, 4, 8, 12, Z, Z, Z, Z))), i8x16.swizzle(v3, i8x16(Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, 0, 4, 8, 12)));
}
function green4(v0: v128, v1: v128, v2: v128, v3: v128): v128 {
  return v128.or(v128.or(v128.or(i8x16.swizzle(v0, i8x16(1, 5, 9, 13, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z)), i8x16.swizzle(v1, i8x16(Z, Z, Z, Z, 1, 5, 9, 13, Z, Z, Z, Z, Z, Z, Z, Z))), i8x16.swizzle(v2, i8x16(Z, Z, Z, Z, Z, Z, Z, Z, 1, 5, 9, 13, Z, Z, Z, Z))), i8x16.swizzle(v3, i8x16(Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, 1, 5, 9, 13)));
}
function blue4(v0: v128, v1: v128, v2: v128, v3: v128): v128 {
  return v128.or(v128.or(v128.or(i8x16.swizzle(v0, i8x16(2, 6, 10, 14, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z)), i8x16.swizzle(v1, i8x16(Z, Z, Z, Z, 2, 6, 10, 14, Z, Z, Z, Z, Z, Z, Z, Z))), i8x16.swizzle(v2, i8x16(Z, Z, Z, Z, Z, Z, Z, Z, 2, 6, 10, 14, Z, Z, Z, Z))), i8x16.swizzle(v3, i8x16(Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, 2, 6, 10, 14)));
}

/**
 * Pillow's convert('L') (Convert.c L24: ITU-R 601-2 luma, (r * 19595 + g * 38470 + b * 7471 + 0x8000)
 * >> 16) of pixels [x0, x1) of one interleaved row, to dst[x]. Four pixels per 16-bit dot product
 * (pmaddwd): 38470 does not fit a signed 16-bit lane, so g's weight is split, 32767 paired with r and
 * 5703 with b: (r, g) . (19595, 32767) + (g, b) . (5703, 7471), the same integer. The pairs are
 * swizzled straight out of the interleaved bytes, zero-extended to 16 bits.
 */
function lumaRow(src: usize, dst: usize, x0: i32, x1: i32, stride: i32): void {
  const wrg = i32x4.splat(19595 | (32767 << 16));
  const wgb = i32x4.splat(5703 | (7471 << 16));
  const round = i32x4.splat(0x8000);
  // Per four pixels: (r, g) and (g, b) as 16-bit pairs.
  const rg = stride == 3 ? i8x16(0, Z, 1, Z, 3, Z, 4, Z, 6, Z, 7, Z, 9, Z, 10, Z) : i8x16(0, Z, 1, Z, 4, Z, 5, Z, 8, Z, 9, Z, 12, Z, 13, Z);
  const gb = stride == 3 ? i8x16(1, Z, 2, Z, 4, Z, 5, Z, 7, Z, 8, Z, 10, Z, 11, Z) : i8x16(1, Z, 2, Z, 5, Z, 6, Z, 9, Z, 10, Z, 13, Z, 14, Z);
  const step = <usize>(stride * 4);
  let x = x0;
  // Each four-pixel load reads 16 bytes: with RGB, 4 past the 12 it uses (the strip's padding covers the last).
  for (; x + 16 <= x1; x += 16) {
    const p = src + <usize>(x * stride);
    const a = v128.load(p);
    const b = v128.load(p + step);
    const c = v128.load(p + 2 * step);
    const d = v128.load(p + 3 * step);
    const s0 = i32x4.add(i32x4.add(i32x4.dot_i16x8_s(i8x16.swizzle(a, rg), wrg), i32x4.dot_i16x8_s(i8x16.swizzle(a, gb), wgb)), round);
    const s1 = i32x4.add(i32x4.add(i32x4.dot_i16x8_s(i8x16.swizzle(b, rg), wrg), i32x4.dot_i16x8_s(i8x16.swizzle(b, gb), wgb)), round);
    const s2 = i32x4.add(i32x4.add(i32x4.dot_i16x8_s(i8x16.swizzle(c, rg), wrg), i32x4.dot_i16x8_s(i8x16.swizzle(c, gb), wgb)), round);
    const s3 = i32x4.add(i32x4.add(i32x4.dot_i16x8_s(i8x16.swizzle(d, rg), wrg), i32x4.dot_i16x8_s(i8x16.swizzle(d, gb), wgb)), round);
    const lo = i16x8.narrow_i32x4_u(i32x4.shr_u(s0, 16), i32x4.shr_u(s1, 16));
    const hi = i16x8.narrow_i32x4_u(i32x4.shr_u(s2, 16), i32x4.shr_u(s3, 16));
    v128.store(dst + x, i8x16.narrow_i16x8_u(lo, hi));
  }
  let p = src + <usize>(x * stride);
  for (; x < x1; x++, p += stride) {
    const v = (<u32>load<u8>(p) * 19595 + <u32>load<u8>(p, 1) * 38470 + <u32>load<u8>(p, 2) * 7471 + 0x8000) >> 16;
    store<u8>(dst + x, <u8>v);
  }
}

/** The three colour bands of pixels [x0, x1) of one interleaved row, to r[x], g[x], b[x]. */
function bandRows(src: usize, r: usize, g: usize, b: usize, x0: i32, x1: i32, stride: i32): void {
  let x = x0;
  if (stride == 3) {
    for (; x + 16 <= x1; x += 16) {
      const p = src + <usize>(x * 3);
      const v0 = v128.load(p);
      const v1 = v128.load(p, 16);
      const v2 = v128.load(p, 32);
      v128.store(r + x, red3(v0, v1, v2));
      v128.store(g + x, green3(v0, v1, v2));
      v128.store(b + x, blue3(v0, v1, v2));
    }
  } else {
    for (; x + 16 <= x1; x += 16) {
      const p = src + <usize>(x * 4);
      const v0 = v128.load(p);
      const v1 = v128.load(p, 16);
      const v2 = v128.load(p, 32);
      const v3 = v128.load(p, 48);
      v128.store(r + x, red4(v0, v1, v2, v3));
      v128.store(g + x, green4(v0, v1, v2, v3));
      v128.store(b + x, blue4(v0, v1, v2, v3));
    }
  }
  let p = src + <usize>(x * stride);
  for (; x < x1; x++, p += stride) {
    store<u8>(r + x, load<u8>(p));
    store<u8>(g + x, load<u8>(p, 1));
    store<u8>(b + x, load<u8>(p, 2));
  }
}

/**
 * The horizontal pass over `rows` consecutive rows of `rowBytes` bytes at `src`, writing outWidth
 * bytes per row to each plane's `tmp` (consecutive rows).
 * mode 0: src is one 8-bit plane. mode 1: interleaved RGB(A) (`stride` 3 or 4) to luma first.
 * mode 2: interleaved RGB(A) to its three colour bands (tmp0, tmp1, tmp2).
 * Modes 1 and 2 convert only columns [x0, x1) (what the taps read) into `rowBuf` (mode 2: three
 * buffers, `rowBufBytes` apart; each width + 16 bytes). Column x of a row is at src + x * stride: a
 * caller that copied only columns [x0, x1) passes src offset back by x0 * stride (wrapping is fine).
 */
export function horizontalStrip(
  src: usize, rowBytes: i32, rows: i32, mode: i32, stride: i32, x0: i32, x1: i32, rowBuf: usize, rowBufBytes: usize,
  outWidth: i32, bounds: usize, weights: usize, kstride: i32, tmp0: usize, tmp1: usize, tmp2: usize,
): void {
  for (let r = 0; r < rows; r++) {
    const row = src + <usize>(r * rowBytes);
    const at = <usize>(r * outWidth);
    if (mode == 0) {
      horizontalRow(row, tmp0 + at, outWidth, bounds, weights, kstride);
    } else if (mode == 1) {
      lumaRow(row, rowBuf, x0, x1, stride);
      horizontalRow(rowBuf, tmp0 + at, outWidth, bounds, weights, kstride);
    } else {
      bandRows(row, rowBuf, rowBuf + rowBufBytes, rowBuf + 2 * rowBufBytes, x0, x1, stride);
      horizontalRow(rowBuf, tmp0 + at, outWidth, bounds, weights, kstride);
      horizontalRow(rowBuf + rowBufBytes, tmp1 + at, outWidth, bounds, weights, kstride);
      horizontalRow(rowBuf + 2 * rowBufBytes, tmp2 + at, outWidth, bounds, weights, kstride);
    }
  }
}

/** Sixteen output pixels of one vertical tap set, starting at column x. */
function verticalChunk(src: usize, width: i32, dst: usize, first: i32, n: i32, k: usize): void {
  let a0 = i32x4.splat(HALF);
  let a1 = a0;
  let a2 = a0;
  let a3 = a0;
  let p = src + <usize>(first * width);
  for (let y = 0; y < n; y++, p += width) {
    const w = i32x4.splat(load<i32>(k + (<usize>y << 2)));
    const px = v128.load(p);
    const lo = i16x8.extend_low_i8x16_u(px);
    const hi = i16x8.extend_high_i8x16_u(px);
    a0 = i32x4.add(a0, i32x4.mul(i32x4.extend_low_i16x8_u(lo), w));
    a1 = i32x4.add(a1, i32x4.mul(i32x4.extend_high_i16x8_u(lo), w));
    a2 = i32x4.add(a2, i32x4.mul(i32x4.extend_low_i16x8_u(hi), w));
    a3 = i32x4.add(a3, i32x4.mul(i32x4.extend_high_i16x8_u(hi), w));
  }
  // clip8 on lanes: sums <= 0 shift to <= 0, sums >= 2^30 to >= 256; clamping the shifted value
  // to [0, 255] is the same function. The narrowing saturates, and every lane is in range anyway.
  const zero = i32x4.splat(0);
  const max = i32x4.splat(255);
  a0 = i32x4.min_s(i32x4.max_s(i32x4.shr_s(a0, PRECISION_BITS), zero), max);
  a1 = i32x4.min_s(i32x4.max_s(i32x4.shr_s(a1, PRECISION_BITS), zero), max);
  a2 = i32x4.min_s(i32x4.max_s(i32x4.shr_s(a2, PRECISION_BITS), zero), max);
  a3 = i32x4.min_s(i32x4.max_s(i32x4.shr_s(a3, PRECISION_BITS), zero), max);
  v128.store(dst, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(a0, a1), i16x8.narrow_i32x4_s(a2, a3)));
}

/**
 * The vertical pass: outHeight rows of `width` bytes to `dst` from the plane at `src` (rows of
 * `width` bytes, its row 0 being source row `rowOffset`).
 */
export function vertical(src: usize, width: i32, dst: usize, outHeight: i32, bounds: usize, weights: usize, kstride: i32, rowOffset: i32): void {
  for (let yy = 0; yy < outHeight; yy++) {
    const b = bounds + (<usize>yy << 3);
    const first = load<i32>(b) - rowOffset;
    const n = load<i32>(b, 4);
    const k = weights + (<usize>(yy * kstride) << 2);
    const out = dst + <usize>(yy * width);
    if (width >= 16) {
      for (let x = 0; x < width; x += 16) {
        // The last chunk overlaps the one before rather than running past the row: same values.
        const at = min(x, width - 16);
        verticalChunk(src + at, width, out + at, first, n, k);
      }
    } else {
      for (let x = 0; x < width; x++) {
        let ss = HALF;
        let p = src + <usize>(first * width + x);
        for (let y = 0; y < n; y++, p += width) ss += <i32>load<u8>(p) * load<i32>(k + (<usize>y << 2));
        store<u8>(out + x, clip8(ss));
      }
    }
  }
}

/**
 * JPEG decoding by libjpeg-turbo's own TurboJPEG API (the system's `libturbojpeg`, Debian's
 * libturbojpeg0), called in-process through koffi, with DCT scaling.
 *
 * Why: a libvips call (sharp) costs ~1 ms of CPU before it decodes a pixel (GObject set-up of the
 * pipeline, measured on an 8x8 JPEG here), which is most of the cost of a camera frame once the
 * decoder scales it down, and libvips' shrink-on-load adds its own resize. TurboJPEG is the decoder
 * Pillow and libvips both use (libjpeg-turbo: same SIMD IDCT, same fancy upsampling, so full-size
 * pixels are identical to Pillow's), without the set-up: a 1920x1080 photo decoded at 1/8 scale in
 * ~2 ms, a 224x224 one at full size in ~0.4 ms. DCT scaling by n/8 is what Pillow's `draft()` does.
 *
 * koffi (MIT; the maintained successor of ffi-napi, prebuilt for every platform Node runs on) calls
 * the C functions directly: nothing is compiled at install time, and the images only add the
 * 100 KB Debian package. Where the library cannot be loaded, `turboJpeg()` is undefined and images go
 * to libvips as before (slower, same answers within the documented fidelity); the service and the
 * edge module log which decoder they use.
 *
 * Calls are synchronous on the calling thread, so the caller decides where they run (small images in
 * place, large ones in the preprocessing pool). Each thread opens its own handle.
 */
import { loadNativeLibrary, type Koffi, type KoffiLibrary } from './native-library.js';

/** What TurboJPEG reads from a JPEG's headers. */
export interface JpegHeader {
  width: number;
  height: number;
  /** TJCS_*: 0 RGB, 1 YCbCr, 2 grey, 3 CMYK, 4 YCCK. */
  colorspace: number;
}

/** A scaling factor libjpeg-turbo's IDCT supports (num/denom, e.g. 1/8 .. 1/1). */
export interface ScalingFactor {
  num: number;
  denom: number;
}

export interface TurboJpeg {
  /** Where the library was loaded from (for the start-up log). */
  readonly library: string;
  /** The factors used: 1/1, 1/2, 1/4, 1/8 (largest first). */
  readonly factors: readonly ScalingFactor[];
  header(bytes: Uint8Array): JpegHeader | undefined;
  /**
   * Decodes to interleaved 8-bit RGB at `factor` (default 1/1), given the header() of the same bytes
   * (read again when absent). Undefined when libjpeg-turbo reports any error or warning (a truncated
   * or corrupt file): libvips then decides and words the refusal.
   */
  decodeRgb(bytes: Uint8Array, factor?: ScalingFactor, header?: JpegHeader): { data: Uint8Array; width: number; height: number } | undefined;
  /**
   * Decodes to one 8-bit grey plane at `factor`, as decodeRgb does otherwise: libjpeg's own luma
   * output (the Y of a YCbCr JPEG, as stored), which is what Pillow's `draft('L', ...)` asks libjpeg
   * for. Its chroma is entropy-decoded but never transformed, upsampled or converted.
   */
  decodeGrey(bytes: Uint8Array, factor?: ScalingFactor, header?: JpegHeader): { data: Uint8Array; width: number; height: number } | undefined;
}

/** libjpeg-turbo's TJSCALED(): the size of one dimension decoded at `factor`. */
export function scaled(dimension: number, factor: ScalingFactor): number {
  return Math.floor((dimension * factor.num + factor.denom - 1) / factor.denom);
}

const TJPF_RGB = 0;
const TJPF_GRAY = 6;
/** TJFLAG_STOPONWARNING: a warning (e.g. "premature end of data") fails the call, as libvips' failOn 'error' refuses. */
const TJFLAG_STOPONWARNING = 8192;

// Names the dynamic loader tries, in order; TURBOJPEG_LIBRARY (a path) comes first when set.
const CANDIDATES = ['libturbojpeg.so.0', 'libturbojpeg.so', 'libturbojpeg.0.dylib', 'libturbojpeg.dylib', 'turbojpeg.dll'];

let loaded: TurboJpeg | undefined | null = null;
let loadError: string | undefined;

/** The TurboJPEG binding for this thread, or undefined (see turboJpegUnavailable()) when it cannot load. */
export function turboJpeg(): TurboJpeg | undefined {
  if (loaded === null) loaded = load();
  return loaded;
}

/** Why turboJpeg() is undefined, for the start-up log. */
export function turboJpegUnavailable(): string | undefined {
  turboJpeg();
  return loadError;
}

/** Which JPEG decoder this process uses, for the apps' start-up logs. */
export function jpegDecoder(): { decoder: 'libjpeg-turbo' | 'libvips'; library?: string; reason?: string } {
  const tj = turboJpeg();
  return tj ? { decoder: 'libjpeg-turbo', library: tj.library } : { decoder: 'libvips', reason: loadError ?? 'unknown' };
}

function load(): TurboJpeg | undefined {
  const result = loadNativeLibrary({ variablePrefix: 'TURBOJPEG', name: 'libturbojpeg', debianPackage: 'libturbojpeg0', candidates: CANDIDATES, bind });
  loadError = result.error;
  return result.value;
}

function bind(koffi: Koffi, lib: KoffiLibrary, library: string): TurboJpeg {
  // The TurboJPEG 2.x API (Debian 12 ships 2.1.5); libjpeg-turbo 3 keeps these functions.
  const tjInitDecompress = lib.func('void *tjInitDecompress()');
  const tjDecompressHeader3 = lib.func('int tjDecompressHeader3(void *handle, const uint8_t *jpegBuf, unsigned long jpegSize, _Out_ int *width, _Out_ int *height, _Out_ int *subsamp, _Out_ int *colorspace)');
  const tjDecompress2 = lib.func('int tjDecompress2(void *handle, const uint8_t *jpegBuf, unsigned long jpegSize, uint8_t *dstBuf, int width, int pitch, int height, int pixelFormat, int flags)');
  const factorType = koffi.struct('tjscalingfactor', { num: 'int', denom: 'int' });
  const tjGetScalingFactors = lib.func('tjGetScalingFactors', koffi.pointer(factorType), [koffi.out(koffi.pointer('int'))]);
  const handle = tjInitDecompress() as unknown;
  if (!handle) throw new Error('tjInitDecompress failed');

  const count = [0];
  const table = tjGetScalingFactors(count) as unknown;
  const all = koffi.decode(table, koffi.array(factorType, count[0]!)) as ScalingFactor[];
  // Only 1/1, 1/2, 1/4 and 1/8, the scales Pillow's draft() uses: libjpeg-turbo's SIMD IDCTs cover
  // those, and its scalar 7/8, 3/4 and 5/8 IDCTs decode slower than the full size (measured on
  // 1920x1080 photos: 17.6, 17.4 and 12.8 ms against 14.4 ms at 1/1 and 6.1 ms at 1/2).
  const factors = all.filter((f) => f.num === 1 && [1, 2, 4, 8].includes(f.denom)).sort((a, b) => a.denom - b.denom);

  const w = [0];
  const h = [0];
  const subsamp = [0];
  const colorspace = [0];
  const header = (bytes: Uint8Array): JpegHeader | undefined => {
    if (tjDecompressHeader3(handle, bytes, bytes.byteLength, w, h, subsamp, colorspace) !== 0) return undefined;
    return { width: w[0]!, height: h[0]!, colorspace: colorspace[0]! };
  };
  type Decoded = { data: Uint8Array; width: number; height: number } | undefined;
  const decode = (bytes: Uint8Array, factor: ScalingFactor | undefined, known: JpegHeader | undefined, pixelFormat: number, channels: number): Decoded => {
    if (!known) return undefined;
    const width = scaled(known.width, factor ?? { num: 1, denom: 1 });
    const height = scaled(known.height, factor ?? { num: 1, denom: 1 });
    const data = new Uint8Array(width * height * channels);
    // Given the scaled size, tjDecompress2 picks exactly that factor (the largest that fits).
    if (tjDecompress2(handle, bytes, bytes.byteLength, data, width, 0, height, pixelFormat, TJFLAG_STOPONWARNING) !== 0) return undefined;
    return { data, width, height };
  };
  return {
    library,
    factors,
    header,
    decodeRgb(bytes, factor, known = header(bytes)) {
      return decode(bytes, factor, known, TJPF_RGB, 3);
    },
    decodeGrey(bytes, factor, known = header(bytes)) {
      return decode(bytes, factor, known, TJPF_GRAY, 1);
    },
  };
}

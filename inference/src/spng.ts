/**
 * PNG decoding by libspng (the system's `libspng.so.0`, Debian's libspng0, ~100 KB), called in-process
 * through koffi, as turbojpeg.ts calls libjpeg-turbo.
 *
 * Why: pngjs, the pure-JavaScript decoder small PNGs went to, costs 0.3-0.6 ms for a 56x56 RGBA PNG and
 * ~0.1 ms for a 28x28 grey one on this project's machines (its synchronous path replays a stream
 * parser and maps every pixel through closures), 2-5x what libspng takes for the same files; on the
 * edge module's mix of small images that was the largest cost on its main thread after the model.
 * libspng is the PNG decoder libvips uses: C, zlib for the inflate, SIMD filters. A libvips call
 * itself costs ~1 ms of set-up (see turbojpeg.ts), so small PNGs never went there.
 *
 * What it returns: the decoded samples, lossless, as Pillow reads them: one 8-bit grey plane for
 * a greyscale PNG of 8 bits or fewer (1/2/4-bit samples scaled to 8 bits, as Pillow's 'L' modes do),
 * else 8-bit RGBA (palette expanded, tRNS applied as alpha). No gamma correction (Pillow applies none).
 * Any error or unsupported case gives undefined, and the caller falls back to pngjs, which decides and
 * words the refusal as before: libspng is only ever a faster route to the same pixels.
 *
 * Memory: the output is sized from the header the caller has already checked against the pixel limit;
 * libspng decompresses at most that much image data, and its cache of ancillary chunks is capped.
 * Calls are synchronous on the calling thread. Where the library cannot be loaded, `spng()` is
 * undefined and small PNGs go to pngjs (slower, same pixels); both apps log which decoder they use.
 */
import { loadNativeLibrary, type Koffi, type KoffiLibrary } from './native-library.js';

export interface DecodedPng {
  data: Uint8Array;
  width: number;
  height: number;
  /** 1: one grey plane; 4: interleaved RGBA. */
  stride: 1 | 4;
}

export interface Spng {
  /** Where the library was loaded from (for the start-up log). */
  readonly library: string;
  /** The decoded pixels, or undefined when libspng reports any error (the caller falls back). */
  decode(bytes: Uint8Array): DecodedPng | undefined;
}

// spng.h (0.7): enum spng_format, enum spng_decode_flags, enum spng_crc_action.
const SPNG_FMT_RGBA8 = 1;
const SPNG_FMT_G8 = 64;
const SPNG_DECODE_TRNS = 1;
const SPNG_CRC_ERROR = 0;
const COLOR_TYPE_GREY = 0;
/** Cap on libspng's memory for ancillary chunks (text, ICC profile...), decompressed: none of them is read. */
const CHUNK_CACHE_LIMIT = 4 << 20;

// Names the dynamic loader tries, in order; SPNG_LIBRARY (a path) comes first when set.
const CANDIDATES = ['libspng.so.0', 'libspng.so', 'libspng.0.dylib', 'libspng.dylib', 'spng.dll'];

let loaded: Spng | undefined | null = null;
let loadError: string | undefined;

/** The libspng binding for this thread, or undefined (see pngDecoder()) when it cannot load. */
export function spng(): Spng | undefined {
  if (loaded === null) loaded = load();
  return loaded;
}

/** Which PNG decoder this process uses for small PNGs, for the apps' start-up logs. */
export function pngDecoder(): { decoder: 'libspng' | 'pngjs'; library?: string; reason?: string } {
  const s = spng();
  return s ? { decoder: 'libspng', library: s.library } : { decoder: 'pngjs', reason: loadError ?? 'unknown' };
}

function load(): Spng | undefined {
  const result = loadNativeLibrary({ variablePrefix: 'SPNG', name: 'libspng', debianPackage: 'libspng0', candidates: CANDIDATES, bind });
  loadError = result.error;
  return result.value;
}

function bind(koffi: Koffi, lib: KoffiLibrary, library: string): Spng {
  // libspng 0.7 (Debian 12 ships 0.7.3); the functions below are its stable public API.
  koffi.struct('spng_ihdr', {
    width: 'uint32_t', height: 'uint32_t', bit_depth: 'uint8_t', color_type: 'uint8_t',
    compression_method: 'uint8_t', filter_method: 'uint8_t', interlace_method: 'uint8_t',
  });
  const ctxNew = lib.func('void *spng_ctx_new(int flags)');
  const ctxFree = lib.func('void spng_ctx_free(void *ctx)');
  const setBuffer = lib.func('int spng_set_png_buffer(void *ctx, const uint8_t *buf, size_t size)');
  const setCrcAction = lib.func('int spng_set_crc_action(void *ctx, int critical, int ancillary)');
  const setChunkLimits = lib.func('int spng_set_chunk_limits(void *ctx, size_t chunk_size, size_t cache_size)');
  const getIhdr = lib.func('int spng_get_ihdr(void *ctx, _Out_ spng_ihdr *ihdr)');
  const decodedSize = lib.func('int spng_decoded_image_size(void *ctx, int fmt, _Out_ size_t *len)');
  const decodeImage = lib.func('int spng_decode_image(void *ctx, uint8_t *out, size_t len, int fmt, int flags)');
  const decodeChunks = lib.func('int spng_decode_chunks(void *ctx)');

  const ihdr = { width: 0, height: 0, bit_depth: 0, color_type: 0, compression_method: 0, filter_method: 0, interlace_method: 0 };
  const length = [0];
  return {
    library,
    decode(bytes) {
      const ctx = ctxNew(0) as unknown;
      if (!ctx) return undefined;
      try {
        // Every CRC is checked, ancillary ones too (libspng would otherwise skip a bad ancillary
        // chunk): a file pngjs would refuse is left to pngjs to refuse.
        if (setCrcAction(ctx, SPNG_CRC_ERROR, SPNG_CRC_ERROR) !== 0) return undefined;
        if (setChunkLimits(ctx, bytes.byteLength, CHUNK_CACHE_LIMIT) !== 0) return undefined;
        if (setBuffer(ctx, bytes, bytes.byteLength) !== 0) return undefined;
        if (getIhdr(ctx, ihdr) !== 0 || ihdr.bit_depth > 8) return undefined;
        const grey = ihdr.color_type === COLOR_TYPE_GREY;
        const format = grey ? SPNG_FMT_G8 : SPNG_FMT_RGBA8;
        if (decodedSize(ctx, format, length) !== 0) return undefined;
        const stride = grey ? 1 : 4;
        if (length[0] !== ihdr.width * ihdr.height * stride) return undefined;
        const data = new Uint8Array(length[0]);
        if (decodeImage(ctx, data, data.byteLength, format, grey ? 0 : SPNG_DECODE_TRNS) !== 0) return undefined;
        // Read on to IEND: the last IDAT's CRC and the chunks after the image are checked too, so a
        // damaged or truncated file is refused (by pngjs) as before, not decoded from what is there.
        if (decodeChunks(ctx) !== 0) return undefined;
        return { data, width: ihdr.width, height: ihdr.height, stride };
      } finally {
        ctxFree(ctx);
      }
    },
  };
}

/**
 * Pillow's two resampling passes in WebAssembly (inference/assembly/resample.ts, built into
 * dist/resample.wasm by `npm run build`), with Pillow's convert('L') or band extraction folded into
 * the horizontal pass: same coefficients (resample-coefficients.ts), same integers, same bytes as
 * the JavaScript passes in resample.ts, at a fraction of their cost.
 *
 * Memory: one instance per thread (worker threads load their own), its linear memory laid out afresh
 * for each call and reused by the next. The source never goes into it whole: the rows the vertical
 * pass needs are copied in strips of about STRIP_BYTES, so the peak is one strip plus the
 * intermediate image (outWidth x the rows read, per plane) plus the output and the coefficients:
 * about 2 MB for a 40-megapixel photo to 224x224. WebAssembly memory cannot shrink, so an instance
 * whose memory grew past RETAIN_BYTES (a large output) is dropped after the call and the next call
 * instantiates a fresh one from the compiled module; a call needing more than MAX_BYTES returns
 * undefined and the caller takes the JavaScript path.
 */

import { readFileSync } from 'node:fs';
import type { Filter } from './filters.js';
import { coefficients, paddedWeights, PRECISION_BITS, span, splitWeights, type Coefficients } from './resample-coefficients.js';

// TypeScript types WebAssembly only in its DOM libraries, which this Node-only project does not
// load: the part used here, typed locally.
type WasmModule = object;
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
const wasm = (globalThis as unknown as {
  WebAssembly: {
    Module: new (bytes: Uint8Array) => WasmModule;
    Instance: new (module: WasmModule, imports: object) => { readonly exports: object };
  };
}).WebAssembly;

/** 'plane': one 8-bit band (stride 1). 'luma': Pillow's convert('L') of RGB(A). 'rgb': the three colour bands of RGB(A). */
export type PlaneKind = 'plane' | 'luma' | 'rgb';

interface Exports {
  memory: WasmMemory;
  heapBase(): number;
  horizontalStrip(
    src: number, rowBytes: number, rows: number, mode: number, stride: number, x0: number, x1: number, rowBuf: number, rowBufBytes: number,
    outWidth: number, bounds: number, weights: number, kstride: number, tmp0: number, tmp1: number, tmp2: number,
  ): void;
  vertical(src: number, width: number, dst: number, outHeight: number, bounds: number, weights: number, kstride: number, rowOffset: number): void;
}

const STRIP_BYTES = 1 << 20;
const RETAIN_BYTES = 64 << 20;
const MAX_BYTES = 512 << 20;
const PAGE = 65536;
const MODE: Record<PlaneKind, number> = { plane: 0, luma: 1, rgb: 2 };

let compiled: WasmModule | null | undefined;
let unavailable: string | undefined;
let instance: Exports | undefined;
let peakBytes = 0;

/** The compiled module, or null (and the reason kept) where it cannot load: not built, or no WebAssembly SIMD. */
function compiledModule(): WasmModule | null {
  if (compiled !== undefined) return compiled;
  compiled = null;
  // Beside this file once built (dist/); from the sources (tests run src/ through tsx), in ../dist/.
  for (const url of [new URL('./resample.wasm', import.meta.url), new URL('../dist/resample.wasm', import.meta.url)]) {
    try {
      compiled = new wasm.Module(readFileSync(url));
      unavailable = undefined;
      break;
    } catch (cause) {
      unavailable = `${url.pathname}: ${(cause as Error).message}`;
    }
  }
  return compiled;
}

function exports(): Exports | undefined {
  if (!instance) {
    const m = compiledModule();
    if (!m) return undefined;
    instance = new wasm.Instance(m, {}).exports as unknown as Exports;
  }
  return instance;
}

/** Whether the WebAssembly passes are in use, why not, and the largest linear memory an instance of this thread reached. */
export function resampleWasmStatus(): { loaded: boolean; reason?: string; peakMemoryBytes: number } {
  const loaded = compiledModule() !== null;
  return { loaded, ...(loaded ? {} : { reason: unavailable }), peakMemoryBytes: peakBytes };
}

/** Output pixel i reads input [xmin, xmin + 1) with weight 1.0: the pass Pillow skips, done as a convolution (same bytes). */
const identities = new Map<number, Coefficients>();
function identity(size: number): Coefficients {
  let c = identities.get(size);
  if (!c) {
    if (identities.size >= 16) identities.clear();
    const bounds = new Int32Array(size * 2);
    const weights = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      bounds[i * 2] = i;
      bounds[i * 2 + 1] = 1;
      weights[i] = 1 << PRECISION_BITS;
    }
    c = { ksize: 1, bounds, weights };
    identities.set(size, c);
  }
  return c;
}


/**
 * Pillow's `Image.resize(size, filter, box, reducing_gap=None)` of the planes `kind` names, from 8-bit
 * pixels with `stride` bytes per pixel; as resample.ts' JavaScript passes do, byte for byte. Undefined
 * where WebAssembly is not available or the call would need more than MAX_BYTES of its memory.
 * The caller has ruled out `nearest` and the no-op resize.
 */
export function resampleWasm(
  data: Uint8Array,
  width: number,
  height: number,
  stride: number,
  kind: PlaneKind,
  outWidth: number,
  outHeight: number,
  filter: Filter,
  box: readonly [number, number, number, number],
): Uint8Array[] | undefined {
  const [bx0, by0, bx1, by1] = box;
  const needHorizontal = outWidth !== width || bx0 !== 0 || bx1 !== outWidth;
  const needVertical = outHeight !== height || by0 !== 0 || by1 !== outHeight;
  const horiz = needHorizontal ? coefficients(width, bx0, bx1, outWidth, filter) : identity(width);
  const vert = coefficients(height, by0, by1, outHeight, filter);
  const hw = splitWeights(horiz, outWidth);
  const vw = paddedWeights(vert, outHeight);
  // Only the rows the vertical pass reads go through the horizontal pass, as in resample.ts.
  const rowFirst = vert.bounds[0]!;
  const rowLast = vert.bounds[outHeight * 2 - 2]! + vert.bounds[outHeight * 2 - 1]!;
  const rows = rowLast - rowFirst;
  const [x0, x1] = span(horiz, outWidth);
  const planes = kind === 'rgb' ? 3 : 1;
  // Only columns [x0, x1) are read. Copying them row by row costs a call per row; worth it when it
  // skips more than about a kilobyte a row (a crop to the model's aspect leaves a third of a photo unread).
  const byRow = (width - (x1 - x0)) * stride > 1024;
  const rowBytes = (byRow ? x1 - x0 : width) * stride;
  const stripRows = Math.max(1, Math.min(rows, Math.floor(STRIP_BYTES / rowBytes)));

  // Layout, every block 16-aligned with 16 spare bytes (the SIMD loads may read past a window).
  const ex = exports();
  if (!ex) return undefined;
  let top = ex.heapBase();
  const take = (bytes: number): number => {
    const at = top;
    top += (bytes + 31) & ~15;
    return at;
  };
  const hBounds = take(horiz.bounds.byteLength);
  const hWeights = take(hw.weights.byteLength);
  const vBounds = take(vert.bounds.byteLength);
  const vWeights = take(vw.weights.byteLength);
  const rowBufBytes = (width + 31) & ~15;
  const rowBuf = take(rowBufBytes * planes);
  const tmp = Array.from({ length: planes }, () => take(outWidth * rows));
  const out = needVertical ? Array.from({ length: planes }, () => take(outWidth * outHeight)) : tmp;
  const strip = take(stripRows * rowBytes);
  if (top > MAX_BYTES) return undefined;
  if (top > ex.memory.buffer.byteLength) ex.memory.grow(Math.ceil((top - ex.memory.buffer.byteLength) / PAGE));
  peakBytes = Math.max(peakBytes, ex.memory.buffer.byteLength);

  const heap = new Uint8Array(ex.memory.buffer);
  const put = (at: number, values: Int32Array | Int16Array): void => heap.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), at);
  put(hBounds, horiz.bounds);
  put(hWeights, hw.weights);
  put(vBounds, vert.bounds);
  put(vWeights, vw.weights);
  const fullRow = width * stride;
  for (let r = rowFirst; r < rowLast; r += stripRows) {
    const n = Math.min(stripRows, rowLast - r);
    if (byRow) {
      for (let i = 0; i < n; i++) heap.set(data.subarray((r + i) * fullRow + x0 * stride, (r + i) * fullRow + x1 * stride), strip + i * rowBytes);
    } else {
      heap.set(data.subarray(r * fullRow, (r + n) * fullRow), strip);
    }
    const at = (r - rowFirst) * outWidth;
    // Column x of a copied row sits at src + x * stride.
    const src = byRow ? strip - x0 * stride : strip;
    ex.horizontalStrip(src, rowBytes, n, MODE[kind], stride, x0, x1, rowBuf, rowBufBytes, outWidth, hBounds, hWeights, hw.kstride, tmp[0]! + at, (tmp[1] ?? 0) + at, (tmp[2] ?? 0) + at);
  }
  if (needVertical) {
    for (let p = 0; p < planes; p++) ex.vertical(tmp[p]!, outWidth, out[p]!, outHeight, vBounds, vWeights, vw.kstride, rowFirst);
  }
  const size = outWidth * (needVertical ? outHeight : rows);
  const result = out.map((at) => heap.slice(at, at + size));
  if (ex.memory.buffer.byteLength > RETAIN_BYTES) instance = undefined;
  return result;
}

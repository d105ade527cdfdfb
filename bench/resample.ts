/**
 * `npm run bench -- resample`: Pillow's resample passes (with convert('L') or band extraction, as
 * toTensor uses them) in WebAssembly (resamplePlanes) beside the JavaScript reference
 * (resamplePlanesJs), same inputs, same run, one core, median ms per call. Sizes: what the default
 * path resizes after a reduced decode (224 px, 504x378 = a 12 MP photo at 1/8 scale) and what
 * exact mode resizes (full-size 640x480 .. 12 MP), to the seed's 28x28 luma and to a 224x224 RGB
 * model input. Each pair's outputs are compared byte for byte first.
 */
import assert from 'node:assert/strict';
import { loadavg } from 'node:os';
import { fitBox, resamplePlanes, resamplePlanesJs, type Box } from '../inference/src/resample.ts';
import { resampleWasmStatus } from '../inference/src/resample-wasm.ts';
import type { Interpolation } from '../inference/src/filters.ts';

const SECONDS = Number(process.env.BENCH_RESAMPLE_SECONDS ?? 0.6);

interface Case { name: string; width: number; height: number; kind: 'luma' | 'rgb'; out: number; interpolation: Interpolation }

const CASES: Case[] = [
  { name: '224x224 -> 28x28 L', width: 224, height: 224, kind: 'luma', out: 28, interpolation: 'lanczos' },
  { name: '504x378 -> 28x28 L', width: 504, height: 378, kind: 'luma', out: 28, interpolation: 'lanczos' },
  { name: '640x480 -> 28x28 L', width: 640, height: 480, kind: 'luma', out: 28, interpolation: 'lanczos' },
  { name: '1920x1080 -> 28x28 L', width: 1920, height: 1080, kind: 'luma', out: 28, interpolation: 'lanczos' },
  { name: '4032x3024 -> 28x28 L', width: 4032, height: 3024, kind: 'luma', out: 28, interpolation: 'lanczos' },
  { name: '480x360 -> 224x224 RGB bicubic', width: 480, height: 360, kind: 'rgb', out: 224, interpolation: 'bicubic' },
  { name: '1920x1080 -> 224x224 RGB bicubic', width: 1920, height: 1080, kind: 'rgb', out: 224, interpolation: 'bicubic' },
];

function medianMs(fn: () => unknown): number {
  fn();
  const times: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  while (times.length < 5 || (performance.now() < end && times.length < 2000)) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}

/** A photo-like RGB image: smooth gradients with noise, so no filter path is trivially flat. */
function image(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  let seed = 12345;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const i = (y * width + x) * 3;
      data[i] = (x * 255) / width + (seed & 15);
      data[i + 1] = (y * 255) / height + ((seed >> 4) & 15);
      data[i + 2] = ((x + y) & 255) ^ ((seed >> 8) & 31);
    }
  }
  return data;
}

export async function run(): Promise<void> {
  const status = resampleWasmStatus();
  if (!status.loaded) {
    console.log(`WebAssembly not loaded (${status.reason}): run npm run build`);
    return;
  }
  console.log(`one core, median ms per call; load average ${loadavg()[0]!.toFixed(2)} at start`);
  console.log('| resize | JavaScript | WebAssembly | JS / WASM |');
  console.log('|---|---:|---:|---:|');
  for (const c of CASES) {
    const data = image(c.width, c.height);
    const box: Box = fitBox(c.width, c.height, c.out, c.out);
    const args = [data, c.width, c.height, 3, c.kind, c.out, c.out, c.interpolation, box] as const;
    assert.deepEqual(resamplePlanes(...args), resamplePlanesJs(...args), `${c.name}: WebAssembly and JavaScript differ`);
    const js = medianMs(() => resamplePlanesJs(...args));
    const wasm = medianMs(() => resamplePlanes(...args));
    console.log(`| ${c.name} | ${js.toFixed(3)} | ${wasm.toFixed(3)} | ${(js / wasm).toFixed(1)}x |`);
  }
  console.log(`WebAssembly memory of this thread after the run: ${(resampleWasmStatus().peakMemoryBytes / 2 ** 20).toFixed(1)} MiB (peak); load average ${loadavg()[0]!.toFixed(2)} at end`);
}

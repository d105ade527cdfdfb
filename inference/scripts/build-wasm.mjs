#!/usr/bin/env node
// Compiles inference/assembly/resample.ts (AssemblyScript) to inference/dist/resample.wasm, where
// src/resample-wasm.ts looks for it beside its own compiled file. Run by `npm run build` (root and
// inference) and by the Dockerfile's build stage; skipped when the .wasm is newer than its sources.
// No binary is committed: the module is always built from the source in the repository.
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const source = join(root, 'assembly', 'resample.ts');
const out = join(root, 'dist', 'resample.wasm');

const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
};
const inputs = [fileURLToPath(import.meta.url), ...readdirSync(join(root, 'assembly')).map((f) => join(root, 'assembly', f))];
if (mtime(out) > Math.max(...inputs.map(mtime))) process.exit(0);

mkdirSync(dirname(out), { recursive: true });
const { default: asc } = await import('assemblyscript/asc');
// -O3 --noAssert: a release build (no bounds assertions: the module only touches raw memory the
// caller laid out). --runtime stub: nothing is allocated or collected inside the module.
// SIMD is part of WebAssembly 2.0 (Node >= 16.4, every V8/arm64 build): enabled explicitly.
const { error, stderr } = await asc.main([
  source, '--outFile', out,
  '-O3', '--noAssert', '--runtime', 'stub', '--enable', 'simd',
  '--initialMemory', '1',
]);
if (error) {
  console.error(`build-wasm: asc failed on ${source}\n${stderr.toString()}`);
  process.exit(1);
}

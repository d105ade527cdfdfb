#!/usr/bin/env node
// Trims a production node_modules for one target platform, inside the image build (the Dockerfiles run it
// in the stage that installed the dependencies, so the removed files never reach a layer):
//   node prune-node-modules.mjs <node_modules> --platform linux --arch x64|arm64 [--dry-run]
// What goes, and why it is safe at run time:
//   - onnxruntime-node's binaries for every other os/arch (the package carries all of them, ~240 MB);
//   - source maps and TypeScript declarations (.map, .d.ts, .d.mts, .d.cts): only tools read them;
//   - a package's build/esm and build/esnext copies when neither its "main" nor its "exports" point into
//     them: Node resolves a package through "main"/"exports" only ("module", "esnext" and "browser" are
//     bundler fields), so those copies are unreachable (the OpenTelemetry packages ship three builds each).
// Licence files and READMEs are left alone; nothing outside node_modules is touched.
// Prints a JSON summary (bytes and files removed per rule) on stdout.
import { lstatSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    platform: { type: 'string', default: process.platform },
    arch: { type: 'string', default: process.arch },
    'dry-run': { type: 'boolean', default: false },
  },
});

const root = positionals[0];
if (!root || positionals.length !== 1) {
  console.error('usage: prune-node-modules.mjs <node_modules> --platform linux --arch x64|arm64 [--dry-run]');
  process.exit(2);
}
if (!existsSync(root) || !lstatSync(root).isDirectory()) {
  console.error(`prune-node-modules: ${root} is not a directory`);
  process.exit(2);
}
const platform = values.platform;
// Accept Docker's TARGETARCH spelling as well as Node's process.arch spelling.
const arch = { amd64: 'x64', x86_64: 'x64', aarch64: 'arm64' }[values.arch] ?? values.arch;
const dryRun = values['dry-run'];

const summary = { platform, arch, dryRun, removed: {} };

function sizeOf(path) {
  const st = lstatSync(path);
  if (!st.isDirectory()) return { bytes: st.size, files: 1 };
  let bytes = 0;
  let files = 0;
  for (const entry of readdirSync(path)) {
    const s = sizeOf(join(path, entry));
    bytes += s.bytes;
    files += s.files;
  }
  return { bytes, files };
}

function remove(rule, path) {
  const { bytes, files } = sizeOf(path);
  const r = (summary.removed[rule] ??= { bytes: 0, files: 0 });
  r.bytes += bytes;
  r.files += files;
  if (!dryRun) rmSync(path, { recursive: true, force: true });
}

// 1. onnxruntime-node: keep bin/napi-v*/<platform>/<arch> only. Every copy of the package counts.
function pruneOnnxruntime(pkgDir) {
  const bin = join(pkgDir, 'bin');
  if (!existsSync(bin)) return;
  let kept = 0;
  for (const napi of readdirSync(bin)) {
    const napiDir = join(bin, napi);
    if (!lstatSync(napiDir).isDirectory()) continue;
    for (const os of readdirSync(napiDir)) {
      const osDir = join(napiDir, os);
      if (os !== platform) {
        remove('onnxruntime-other-platforms', osDir);
        continue;
      }
      for (const cpu of readdirSync(osDir)) {
        if (cpu === arch) kept++;
        else remove('onnxruntime-other-platforms', join(osDir, cpu));
      }
    }
  }
  if (kept === 0) {
    console.error(`prune-node-modules: ${relative(process.cwd(), bin)} has no binaries for ${platform}/${arch}`);
    process.exit(1);
  }
}

function referencedByResolution(pkg, dirName) {
  // Node reads "main" and "exports" only; a build directory mentioned there must stay.
  const fields = JSON.stringify([pkg.main ?? '', pkg.exports ?? '']);
  return fields.includes(`build/${dirName}`);
}

function prunePackage(pkgDir) {
  let pkg;
  try {
    pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  } catch {
    return;
  }
  if (pkg.name === 'onnxruntime-node') pruneOnnxruntime(pkgDir);
  for (const dirName of ['esm', 'esnext']) {
    const dir = join(pkgDir, 'build', dirName);
    if (existsSync(dir) && !referencedByResolution(pkg, dirName)) remove(`unreferenced-build-${dirName}`, dir);
  }
}

const droppable = /\.(?:js|mjs|cjs)\.map$|\.d\.(?:ts|mts|cts)$|\.d\.(?:ts|mts|cts)\.map$/;

function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    // Workspace packages are symlinks into the app tree, not dependencies: leave them alone.
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) {
      if (existsSync(join(full, 'package.json'))) prunePackage(full);
      if (existsSync(full)) walk(full);
    } else if (entry.isFile() && droppable.test(entry.name)) {
      remove(entry.name.endsWith('.map') ? 'source-maps' : 'type-declarations', full);
    }
  }
}

walk(root);

let total = 0;
for (const r of Object.values(summary.removed)) total += r.bytes;
summary.totalBytes = total;
summary.remainingBytes = sizeOf(root).bytes;
process.stdout.write(`${JSON.stringify(summary)}\n`);

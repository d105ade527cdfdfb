#!/usr/bin/env node
// Trims a production node_modules for one target platform, inside the image build (the Dockerfile runs it
// in the stage that installed the dependencies, so the removed files never reach a layer):
//   node prune-node-modules.mjs <node_modules> --platform linux --arch x64|arm64 [--dry-run]
// What goes, and why it is safe at run time:
//   - onnxruntime-node's binaries for every other os/arch (the package carries all of them, ~240 MB);
//   - a package's build/esm and build/esnext copies when neither its "main" nor its "exports" point into
//     them: Node resolves a package through "main"/"exports" only ("module", "esnext" and "browser" are
//     bundler fields), so those copies are unreachable (the OpenTelemetry packages ship three builds each);
//   - source maps, TypeScript declarations and sources (Node never loads them from node_modules), Markdown docs;
//   - test, example, benchmark and coverage folders at a package's root.
// Licence and notice files stay; nothing outside node_modules is touched, workspace links are not followed.
// Prints a JSON summary (bytes and files removed per rule) on stdout.
import { lstatSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
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

// Folders a package root may ship that nothing requires at run time.
const unusedRootDirs = new Set(['test', 'tests', '__tests__', 'example', 'examples', 'benchmark', 'benchmarks', 'coverage', '.github']);

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
  for (const entry of readdirSync(pkgDir, { withFileTypes: true })) {
    if (entry.isDirectory() && unusedRootDirs.has(entry.name)) remove('tests-examples-benchmarks', join(pkgDir, entry.name));
  }
}

/** A package's own folder: node_modules/<name> or node_modules/@scope/<name> (not a package.json deeper inside). */
function isPackageRoot(dir) {
  const parent = basename(dirname(dir));
  return parent === 'node_modules' || (parent.startsWith('@') && basename(dirname(dirname(dir))) === 'node_modules');
}

// Node strips types only outside node_modules (ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING), so .ts/.mts/.cts
// sources there are never loaded; declarations are for tools.
function fileRule(name) {
  if (/\.(?:js|mjs|cjs|ts|mts|cts)\.map$/.test(name)) return 'source-maps';
  if (/\.d\.(?:ts|mts|cts)$/.test(name)) return 'type-declarations';
  if (/\.(?:ts|mts|cts)$/.test(name)) return 'typescript-sources';
  // Documentation, but never a licence or notice.
  if (/\.(?:md|markdown)$/i.test(name) && !/^(?:licen[cs]e|notice|copying)/i.test(name)) return 'markdown-docs';
  return undefined;
}

function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    // Workspace packages are symlinks into the app tree, not dependencies: leave them alone.
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) {
      if (isPackageRoot(full) && existsSync(join(full, 'package.json'))) prunePackage(full);
      if (existsSync(full)) walk(full);
    } else if (entry.isFile()) {
      const rule = fileRule(entry.name);
      if (rule) remove(rule, full);
    }
  }
}

walk(root);

let total = 0;
for (const r of Object.values(summary.removed)) total += r.bytes;
summary.totalBytes = total;
summary.remainingBytes = sizeOf(root).bytes;
process.stdout.write(`${JSON.stringify(summary)}\n`);

#!/usr/bin/env node
// Runs every *.test.ts / *.test.mts in the repository with node's own test runner (through tsx).
// Extra arguments filter by path substring (which `node --test`'s globs cannot express):
//   node scripts/run-tests.mjs inference/ scoring-service/
// Results print through the spec reporter on stdout; which file is running (N of M) and how long each
// took print on stderr through scripts/test-progress-reporter.mjs.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const skip = new Set(['node_modules', 'dist', '.git', '.cache']);

function find(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skip.has(entry.name)) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...find(full));
    else if (/\.test\.m?ts$/.test(entry.name)) out.push(relative(root, full));
  }
  return out;
}

const filters = process.argv.slice(2);
const files = find(root)
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('run-tests: no test files matched', filters);
  process.exit(1);
}
// The core's native decoders, libjpeg-turbo's TurboJPEG and libspng (scripts/debian-lib.sh installs or
// unpacks each; the variable is set only when the system's loader would not find the library).
const nativeEnv = {};
for (const [variable, pkg, soname] of [['TURBOJPEG_LIBRARY', 'libturbojpeg0', 'libturbojpeg.so.0'], ['SPNG_LIBRARY', 'libspng0', 'libspng.so.0']]) {
  if (process.env[variable]) continue;
  const found = spawnSync('sh', [join(root, 'scripts', 'debian-lib.sh'), pkg, soname], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).stdout?.trim();
  if (found) nativeEnv[variable] = found;
}
console.error(`run-tests: ${files.length} test file(s) on Node ${process.version}`);
const result = spawnSync(
  process.execPath,
  [
    '--import', 'tsx', '--test',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    `--test-reporter=${join(root, 'scripts', 'test-progress-reporter.mjs')}`, '--test-reporter-destination=stderr',
    ...files,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, ...nativeEnv, MD_TEST_FILE_COUNT: String(files.length) } },
);
process.exit(result.status ?? 1);

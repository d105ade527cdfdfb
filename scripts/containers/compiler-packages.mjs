#!/usr/bin/env node
// Prints the packages the build of some workspaces needs beyond their production dependencies,
// pinned to the versions in package-lock.json: the TypeScript compiler, the `@types/*`
// devDependencies of those workspaces, and the other compilers they declare (COMPILERS: the
// inference workspace builds its WebAssembly with AssemblyScript). The Dockerfile installs them outside the app tree:
//   npm install --prefix /build --no-save $(node compiler-packages.mjs inference scoring-service)
// Run from the directory holding package-lock.json and the workspace folders.
import { readFileSync } from 'node:fs';

const workspaces = process.argv.slice(2);
if (workspaces.length === 0) {
  console.error('usage: compiler-packages.mjs <workspace folder>...');
  process.exit(2);
}

const COMPILERS = new Set(['assemblyscript']);

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const names = new Set(['typescript']);
for (const ws of workspaces) {
  const pkg = JSON.parse(readFileSync(`${ws}/package.json`, 'utf8'));
  for (const name of Object.keys(pkg.devDependencies ?? {})) {
    if (name.startsWith('@types/') || COMPILERS.has(name)) names.add(name);
  }
}
// tsconfig.base.json's "types": ["node"] needs @types/node even when no workspace lists it.
names.add('@types/node');

const specs = [];
for (const name of [...names].sort()) {
  // The hoisted copy, else a workspace's own nested copy: the one the checkout compiles against.
  const version = [`node_modules/${name}`, ...workspaces.map((ws) => `${ws}/node_modules/${name}`)]
    .map((path) => lock.packages?.[path]?.version)
    .find((v) => v !== undefined);
  if (!version) {
    console.error(`compiler-packages: ${name} is not in package-lock.json (run npm install in the checkout)`);
    process.exit(1);
  }
  specs.push(`${name}@${version}`);
}
process.stdout.write(`${specs.join(' ')}\n`);

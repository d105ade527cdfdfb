// The two scripts the Dockerfile runs inside the build stage, on small fake trees:
// prune-node-modules.mjs (what it removes and what it must keep) and compiler-packages.mjs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';

const SCRIPTS = join(__dirname, '..', '..', 'scripts', 'containers');

function write(path: string, content: string | object = ''): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
}

function runScript(script: string, args: string[], cwd?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(SCRIPTS, script), ...args], { cwd, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('prune-node-modules.mjs', () => {
  let dir = '';
  let nm = '';

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'prune-test-'));
    nm = join(dir, 'node_modules');
    const ort = join(nm, 'onnxruntime-node');
    write(join(ort, 'package.json'), { name: 'onnxruntime-node', main: 'dist/index.js' });
    write(join(ort, 'dist', 'index.js'), 'module.exports = {};');
    for (const target of ['linux/x64', 'linux/arm64', 'darwin/arm64', 'win32/x64']) {
      write(join(ort, 'bin', 'napi-v6', target, 'onnxruntime_binding.node'), 'binary');
    }
    // CommonJS through "main": its esm/esnext copies are unreachable.
    const cjs = join(nm, '@opentelemetry', 'core');
    write(join(cjs, 'package.json'), { name: '@opentelemetry/core', main: 'build/src/index.js', module: 'build/esm/index.js', esnext: 'build/esnext/index.js' });
    for (const build of ['src', 'esm', 'esnext']) write(join(cjs, 'build', build, 'index.js'), '');
    write(join(cjs, 'build', 'src', 'index.d.ts'), '');
    write(join(cjs, 'build', 'src', 'index.js.map'), '{}');
    write(join(cjs, 'LICENSE'), 'Apache-2.0');
    write(join(cjs, 'LICENSE.md'), 'Apache-2.0');
    write(join(cjs, 'README.md'), '# core');
    write(join(cjs, 'src', 'index.ts'), 'export {};');
    write(join(cjs, 'test', 'index.test.js'), '');
    // A package.json deeper inside a package marks no package root: its test/ folder is runtime code here.
    write(join(cjs, 'build', 'src', 'platform', 'package.json'), { type: 'commonjs' });
    write(join(cjs, 'build', 'src', 'platform', 'test', 'index.js'), '');
    write(join(cjs, 'build', 'src', 'data.map'), 'not a source map');
    // "exports" points into build/esm: it must stay.
    const esm = join(nm, '@opentelemetry', 'api');
    write(join(esm, 'package.json'), { name: '@opentelemetry/api', main: 'build/src/index.js', exports: { '.': { import: './build/esm/index.js', default: './build/src/index.js' } } });
    for (const build of ['src', 'esm', 'esnext']) write(join(esm, 'build', build, 'index.js'), '');
    // A workspace link: never followed or touched.
    write(join(dir, 'scoring-service', 'dist', 'server.js.map'), '{}');
    mkdirSync(join(nm, '@model-deploy'), { recursive: true });
    symlinkSync(join('..', '..', 'scoring-service'), join(nm, '@model-deploy', 'scoring-service'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps only the target platform of onnxruntime and reachable code, and says what it removed', () => {
    const r = runScript('prune-node-modules.mjs', [nm, '--platform', 'linux', '--arch', 'arm64']);
    assert.equal(r.status, 0, r.stderr);
    const ort = join(nm, 'onnxruntime-node', 'bin', 'napi-v6');
    assert.ok(existsSync(join(ort, 'linux', 'arm64', 'onnxruntime_binding.node')));
    for (const gone of ['linux/x64', 'darwin', 'win32']) assert.equal(existsSync(join(ort, gone)), false, gone);
    assert.ok(existsSync(join(nm, 'onnxruntime-node', 'dist', 'index.js')));

    const core = join(nm, '@opentelemetry', 'core');
    assert.ok(existsSync(join(core, 'build', 'src', 'index.js')));
    for (const kept of ['LICENSE', 'LICENSE.md', 'build/src/platform/test/index.js', 'build/src/data.map']) {
      assert.ok(existsSync(join(core, kept)), kept);
    }
    for (const gone of ['build/esm', 'build/esnext', 'build/src/index.d.ts', 'build/src/index.js.map', 'README.md', 'src/index.ts', 'test']) {
      assert.equal(existsSync(join(core, gone)), false, gone);
    }
    const api = join(nm, '@opentelemetry', 'api');
    assert.ok(existsSync(join(api, 'build', 'esm', 'index.js')), 'build/esm is named in "exports" and must stay');
    assert.equal(existsSync(join(api, 'build', 'esnext')), false);
    assert.ok(existsSync(join(dir, 'scoring-service', 'dist', 'server.js.map')), 'workspace links are not followed');

    const summary = JSON.parse(r.stdout) as { arch: string; removed: Record<string, { files: number; bytes: number }>; totalBytes: number };
    assert.equal(summary.arch, 'arm64');
    assert.equal(summary.removed['onnxruntime-other-platforms']?.files, 3);
    assert.equal(summary.removed['unreferenced-build-esm']?.files, 1);
    assert.equal(summary.removed['unreferenced-build-esnext']?.files, 2);
    assert.equal(summary.removed['tests-examples-benchmarks']?.files, 1);
    assert.equal(summary.removed['typescript-sources']?.files, 1);
    assert.equal(summary.removed['markdown-docs']?.files, 1);
    assert.ok(summary.totalBytes > 0);
  });

  it("accepts Docker's TARGETARCH spelling (amd64) for x64", () => {
    const r = runScript('prune-node-modules.mjs', [nm, '--platform', 'linux', '--arch', 'amd64']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(nm, 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64')));
    assert.equal(existsSync(join(nm, 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'arm64')), false);
  });

  it('changes nothing with --dry-run', () => {
    const r = runScript('prune-node-modules.mjs', [nm, '--platform', 'linux', '--arch', 'x64', '--dry-run']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(nm, 'onnxruntime-node', 'bin', 'napi-v6', 'win32', 'x64')));
    assert.ok(existsSync(join(nm, '@opentelemetry', 'core', 'build', 'esnext')));
  });

  it('fails, naming the platform, when onnxruntime has no binaries for the target', () => {
    const r = runScript('prune-node-modules.mjs', [nm, '--platform', 'linux', '--arch', 'riscv64']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no binaries for linux\/riscv64/);
  });

  it('fails with a usage message without a directory', () => {
    const r = runScript('prune-node-modules.mjs', []);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /usage: prune-node-modules\.mjs <node_modules>/);
    const missing = runScript('prune-node-modules.mjs', [join(dir, 'nope')]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /is not a directory/);
  });
});

describe('compiler-packages.mjs', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'compiler-packages-test-'));
    write(join(dir, 'package-lock.json'), {
      packages: {
        'node_modules/typescript': { version: '5.9.3' },
        'node_modules/@types/node': { version: '20.19.43' },
        'node_modules/@types/pngjs': { version: '6.0.5' },
        'web/node_modules/@types/ws': { version: '8.5.0' },
        'node_modules/assemblyscript': { version: '0.28.20' },
      },
    });
    write(join(dir, 'core', 'package.json'), { devDependencies: { '@types/pngjs': '^6', autocannon: '^8' } });
    write(join(dir, 'web', 'package.json'), { devDependencies: { '@types/ws': '^8' } });
    write(join(dir, 'wasm', 'package.json'), { devDependencies: { assemblyscript: '^0.28', eslint: '^9' } });
    write(join(dir, 'bad', 'package.json'), { devDependencies: { '@types/missing': '^1' } });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("prints the compiler and the workspaces' @types packages at the lock file's versions", () => {
    const r = runScript('compiler-packages.mjs', ['core', 'web'], dir);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '@types/node@20.19.43 @types/pngjs@6.0.5 @types/ws@8.5.0 typescript@5.9.3');
  });

  it('adds the other compilers a workspace builds with (AssemblyScript), and no other devDependency', () => {
    const r = runScript('compiler-packages.mjs', ['core', 'wasm'], dir);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '@types/node@20.19.43 @types/pngjs@6.0.5 assemblyscript@0.28.20 typescript@5.9.3');
  });

  it('fails, naming the package, when the lock file lacks one', () => {
    const r = runScript('compiler-packages.mjs', ['bad'], dir);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /@types\/missing is not in package-lock\.json/);
  });
});

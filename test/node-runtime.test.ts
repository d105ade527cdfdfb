// The Node version the project runs on is chosen once (package.json engines) and every part agrees:
// the test run itself, scripts/use-node.sh's pinned binary, @types/node, the workflows' setup-node.
// use-node.sh is run for real in a scratch copy of the repository layout, with a stand-in `node` 20
// and `npm` on PATH, so no download happens here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';

const REPO = join(__dirname, '..');
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { engines: { node: string }; devDependencies: Record<string, string> };
const MAJOR = Number(/^>=(\d+)$/.exec(pkg.engines.node)?.[1]);
const script = readFileSync(join(REPO, 'scripts', 'use-node.sh'), 'utf8');
const PINNED = /^MD_NODE_VERSION=(\d+\.\d+\.\d+)$/m.exec(script)?.[1] ?? '';
const PACKAGE = `node-linux-${process.arch}`;
const scratch: string[] = [];

after(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('one Node version everywhere', () => {
  it('package.json requires a single major (engines ">=N")', () => {
    assert.ok(MAJOR >= 24, `engines.node is ${pkg.engines.node}`);
  });

  it('the tests run on that major', () => {
    assert.ok(Number(process.versions.node.split('.')[0]) >= MAJOR, `running on ${process.version}; source scripts/use-node.sh first`);
  });

  it('use-node.sh pins a release of that major, and @types/node describes it', () => {
    assert.equal(PINNED.split('.')[0], String(MAJOR));
    assert.equal(/^\^?(\d+)\./.exec(pkg.devDependencies['@types/node'] ?? '')?.[1], String(MAJOR));
  });

  it('every workflow sets up that major', () => {
    const dir = join(REPO, '.github', 'workflows');
    for (const file of readdirSync(dir)) {
      const versions = [...readFileSync(join(dir, file), 'utf8').matchAll(/node-version:\s*(\S+)/g)].map((m) => m[1]);
      for (const v of versions) assert.equal(v, String(MAJOR), `${file}: node-version ${v}`);
    }
  });
});

/** A scratch repository root holding scripts/use-node.sh, and a bin directory for stand-in tools. */
function layout(): { root: string; bin: string; cached: string } {
  const root = mkdtempSync(join(tmpdir(), 'use-node-'));
  scratch.push(root);
  mkdirSync(join(root, 'scripts'));
  copyFileSync(join(REPO, 'scripts', 'use-node.sh'), join(root, 'scripts', 'use-node.sh'));
  const bin = join(root, 'fake-bin');
  mkdirSync(bin);
  // An old system Node: answers the script's version questions as Node 20 would.
  tool(bin, 'node', 'case "$*" in *--version*) echo v20.19.0 ;; *) echo 20 ;; esac');
  return { root, bin, cached: join(root, '.cache', 'node', `${PACKAGE}-${PINNED}`, 'bin', 'node') };
}

function tool(bin: string, name: string, body: string): void {
  writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(bin, name), 0o755);
}

/** Sources the script with `sh` (POSIX, as a user's shell may be) and reports which node is then first. */
function source(root: string, path: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('sh', ['-c', '. scripts/use-node.sh && command -v node && node --version'], {
    cwd: root,
    env: { PATH: path, HOME: root },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}

describe('scripts/use-node.sh', { skip: process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch) }, () => {
  it('keeps a Node of the required major that is already on PATH, silently, without fetching', () => {
    const { root } = layout();
    const r = source(root, `${dirname(process.execPath)}:/usr/bin:/bin`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.deepEqual(r.stdout.split('\n'), [process.execPath, process.version]);
    assert.equal(existsSync(join(root, '.cache')), false);
  });

  it('with an older Node first on PATH, puts the pinned binary from .cache/node/ first', () => {
    const { root, bin, cached } = layout();
    mkdirSync(dirname(cached), { recursive: true });
    // The real binary of the required major stands in for the fetched one.
    symlinkSync(process.execPath, cached);
    const r = source(root, `${bin}:/usr/bin:/bin`);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\n'), [cached, process.version]);
    assert.equal(r.stderr, `use-node: Node ${process.version} from .cache/node/ is first on PATH for this shell (the node found before was v20.19.0)`);
  });

  it('refuses a fetched tarball whose sha512 is not the pinned one, and installs nothing', () => {
    const { root, bin, cached } = layout();
    // `npm pack <pkg>@<version>` writes <pkg>-<version>.tgz into the working directory.
    tool(bin, 'npm', `printf 'not node' > "${PACKAGE}-${PINNED}.tgz"`);
    const r = source(root, `${bin}:/usr/bin:/bin`);
    assert.equal(r.status, 1);
    const bogus = `sha512-${spawnSync('sh', ['-c', "printf 'not node' | openssl dgst -sha512 -binary | openssl base64 -A"], { encoding: 'utf8' }).stdout}`;
    const pin = new RegExp(`^MD_NODE_INTEGRITY_${process.arch.toUpperCase()}='(sha512-[^']+)'$`, 'm').exec(script)?.[1];
    assert.equal(
      r.stderr.split('\n').pop(),
      `use-node: ${PACKAGE}-${PINNED}.tgz has integrity ${bogus}; scripts/use-node.sh pins ${pin}. Not using it.`,
    );
    assert.equal(existsSync(cached), false);
    assert.deepEqual(readdirSync(join(root, '.cache', 'node')), [], 'the scratch fetch directory is removed');
  });
});

// `npm run predict -- <files or folders>` through the real CLI (tsx runs the source).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { modelDir, repoRoot } from './helpers.js';

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'inference/src/cli.ts'), ...args], { encoding: 'utf8', cwd: repoRoot });

describe('predict CLI', () => {
  let folder: string;
  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'model-deploy-predict-'));
    await copyFile(join(modelDir, 'samples/sneaker.png'), join(folder, 'sneaker.png'));
    // The ftyp box an iPhone photo starts with; the refusal is made from it.
    await writeFile(join(folder, 'IMG_0001.HEIC'), Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic'), Buffer.alloc(4), Buffer.from('mif1heic'), Buffer.alloc(64, 9)]));
    await writeFile(join(folder, 'notes.txt'), 'not an image');
  });
  after(() => rm(folder, { recursive: true, force: true }));

  it('labels the images of a folder, and names what it refused (an iPhone HEIC) on stderr with exit code 1', () => {
    const r = cli(folder);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^.*sneaker\.png\tSneaker\t(0|1)\.\d{3}$/m);
    assert.match(r.stderr, /IMG_0001\.HEIC\terror\tunsupported image format: HEIC\/HEIF \(an iPhone camera's default\)/);
    assert.doesNotMatch(r.stdout + r.stderr, /notes\.txt/, 'files that are not images by name are not listed');
  });

  it('--json prints one object per image', () => {
    const r = cli('--json', '--top', '2', join(folder, 'sneaker.png'));
    assert.equal(r.status, 0, r.stderr);
    const line = JSON.parse(r.stdout) as { label: string; top: unknown[] };
    assert.equal(line.label, 'Sneaker');
    assert.equal(line.top.length, 2);
  });

  it('a path that does not exist exits 2, naming it', () => {
    const r = cli(join(folder, 'missing.jpg'));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /predict: cannot read .*missing\.jpg/);
  });
});

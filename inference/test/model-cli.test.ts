// `npm run model -- describe|card <dir>` through the real CLI (tsx runs the source).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { describeModel } from '../src/index.js';
import { fixturesDir, repoRoot } from './helpers.js';

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'inference/src/model-cli.ts'), ...args], { encoding: 'utf8', cwd: repoRoot });

describe('model CLI', () => {
  it('describe prints the derived description for a person, --json as JSON', () => {
    const dir = join(fixturesDir, 'folders', 'hf-convnext');
    const text = cli('describe', dir);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^model {3}hf-convnext 1 \(hugging-face: config.json, preprocessor_config.json, model.onnx\)$/m);
    assert.match(text.stdout, /^resize {2}shortest edge 18 \(crop_pct 0.875\), centre crop 16x16 \(Hugging Face floor\), bicubic$/m);
    // A 16-px crop: camera frames go to 1/8 at either gap.
    assert.match(text.stdout, /^decode {2}JPEG 1920x1080 at 1\/8, 4032x3024 at 1\/8 \(REDUCING_GAP 4\)$/m);
    const json = cli('describe', dir, '--json');
    assert.equal(json.status, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { input: { name: string } }).input.name, 'pixel_values');
  });

  it('describe says how camera-sized JPEGs are decoded, and what REDUCING_GAP=2 would change (MobileNetV2-shaped: shortest edge 256)', async () => {
    const work = await mkdtemp(join(tmpdir(), 'model-deploy-cli-'));
    try {
      const copy = join(work, 'hf-mobilenet');
      await cp(join(fixturesDir, 'folders', 'hf-convnext'), copy, { recursive: true });
      const processor = JSON.parse(await readFile(join(copy, 'preprocessor_config.json'), 'utf8')) as Record<string, unknown>;
      // The fixture's model takes 16x16: the short side resized to 256 and a 16-px crop (crop_pct 1/16)
      // read 67.5 rows of a 1080-row frame, which keeps 4 x 16 whole but not at 1/2, and 2 x 16 at 1/2.
      await writeFile(join(copy, 'preprocessor_config.json'), JSON.stringify({ ...processor, crop_pct: 16 / 256, resample: 2 }));
      const text = cli('describe', copy);
      assert.equal(text.status, 0, text.stderr);
      assert.match(text.stdout, /^decode {2}JPEG 1920x1080 whole, 4032x3024 at 1\/2 \(REDUCING_GAP 4\); REDUCING_GAP=2: at 1\/2, at 1\/4 \(docs\/models.md\)$/m);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  it('card writes a v2 card that reads back to the same description, beside a copy of the folder', async () => {
    const work = await mkdtemp(join(tmpdir(), 'model-deploy-cli-'));
    try {
      const source = join(fixturesDir, 'folders', 'hf-keras-nhwc');
      const copy = join(work, 'hf-keras-nhwc');
      await cp(source, copy, { recursive: true });
      const out = cli('card', source, '--out', join(copy, 'card.json'));
      assert.equal(out.status, 0, out.stderr);
      const card = JSON.parse(await readFile(join(copy, 'card.json'), 'utf8')) as { schemaVersion: number; sha256: string };
      assert.equal(card.schemaVersion, 2);
      assert.match(card.sha256, /^[0-9a-f]{64}$/);
      const fromFolder = await describeModel(source);
      const fromCard = await describeModel(copy);
      assert.deepEqual({ ...fromCard, source: undefined }, { ...fromFolder, source: undefined });
      assert.equal(fromCard.source.format, 'card-v2');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  it('a broken folder exits 1 with the refusal on stderr', () => {
    const r = cli('describe', join(fixturesDir, 'folders'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^model: .*folders: holds neither card.json nor config.json/);
  });

  it('a wrong call prints the usage and exits 2', () => {
    const r = cli('explain', 'x');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /usage: npm run model -- describe/);
  });
});

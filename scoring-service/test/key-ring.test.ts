/**
 * API keys: constant-time matching by slot, and rotation through the key file (as a Kubernetes
 * Secret update does it: the file's content changes while the service runs).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Classifier } from '@model-deploy/inference';
import { buildApp, ConfigError, KeyRing } from '../src/index.js';
import { loadSamples, modelDir } from './helpers.js';

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('KeyRing', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'scoring-keys-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names the matching slot and rejects everything else', () => {
    const ring = new KeyRing(['alpha-key', 'beta-key', 'gamma-key']);
    assert.equal(ring.match('alpha-key'), 'primary');
    assert.equal(ring.match('beta-key'), 'secondary');
    assert.equal(ring.match('gamma-key'), 'key3');
    for (const wrong of ['', 'alpha', 'alpha-key ', 'ALPHA-KEY', 'alpha-keyx']) assert.equal(ring.match(wrong), undefined, wrong);
    assert.throws(() => new KeyRing([]), /at least one key/);
  });

  it('refuses a missing or empty key file at start-up, naming the variable', async () => {
    assert.throws(() => KeyRing.fromFile(join(dir, 'absent'), 100), (err: unknown) => err instanceof ConfigError && /^Invalid configuration: SCORING_API_KEYS_FILE must name a readable file/.test(err.message));
    await writeFile(join(dir, 'empty'), '\n , \n');
    assert.throws(() => KeyRing.fromFile(join(dir, 'empty'), 100), /SCORING_API_KEYS_FILE \(.*empty\) holds no key/);
  });

  it('picks up a rotated key file without a restart; an empty or missing file keeps the current keys', async () => {
    const file = join(dir, 'keys');
    await writeFile(file, 'old-primary\nold-secondary\n');
    const ring = KeyRing.fromFile(file, 50);
    const warnings: string[] = [];
    const infos: string[] = [];
    ring.setLogger({ warn: (_o, m) => warnings.push(m), info: (o, m) => infos.push(`${m} ${JSON.stringify(o)}`) });
    try {
      assert.equal(ring.match('old-primary'), 'primary');
      // Rotation step 1: the new key becomes primary, the old primary stays as secondary.
      await writeFile(file, 'new-primary,old-primary');
      await until(() => ring.match('new-primary') === 'primary', 'the new primary key');
      assert.equal(ring.match('old-primary'), 'secondary');
      assert.equal(ring.match('old-secondary'), undefined);
      // Step 2: the old key is retired. Replaced atomically, as a Secret volume does.
      await writeFile(join(dir, 'keys.tmp'), 'new-primary\n');
      await rename(join(dir, 'keys.tmp'), file);
      await until(() => ring.match('old-primary') === undefined, 'the old key to be retired');
      await writeFile(file, '');
      await until(() => warnings.length > 0, 'a warning about the empty file');
      assert.equal(ring.match('new-primary'), 'primary');
      await rm(file);
      await until(() => warnings.length > 1, 'a warning about the missing file');
      assert.equal(ring.match('new-primary'), 'primary');
      assert.ok(infos.every((line) => !/new-primary|old-primary/.test(line)));
    } finally {
      ring.close();
    }
  });

  it('rotation through the key file reaches the app: old key 401, new key 200', async () => {
    const file = join(dir, 'app-keys');
    await writeFile(file, 'first-key\n');
    const ring = KeyRing.fromFile(file, 50);
    const classifier = await Classifier.load({ modelDir, intraOpThreads: 1 });
    const app = await buildApp({ classifier, auth: { mode: 'bearer', keys: ring } });
    const sample = (await loadSamples())[0]!;
    const score = async (key: string): Promise<number> =>
      (await app.inject({ method: 'POST', url: '/score', headers: { authorization: `Bearer ${key}` }, payload: { [sample.name]: sample.base64 } })).statusCode;
    try {
      assert.equal(await score('first-key'), 200);
      assert.equal(await score('second-key'), 401);
      await writeFile(file, 'second-key\n');
      await until(async () => (await score('second-key')) === 200, 'the rotated key to be accepted');
      assert.equal(await score('first-key'), 401);
    } finally {
      ring.close();
      await app.close();
      await classifier.close();
    }
  });
});

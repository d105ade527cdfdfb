// The module process with its HTTP port already taken: it exits 1 naming the variable to set (PORT),
// as the scoring service does (both use scoring-service's listenFailure), before it connects anywhere.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { EdgeHub } from './support/edge-hub.js';
import { ModuleProcess } from './support/module-process.js';

let hub: EdgeHub;
let journalDir: string;
const squatter = createServer();

before(async () => {
  hub = await EdgeHub.start();
  journalDir = mkdtempSync(join(tmpdir(), 'edge-journal-'));
  squatter.listen(0, '127.0.0.1');
  await once(squatter, 'listening');
});
after(async () => {
  squatter.close();
  await hub.close();
  rmSync(journalDir, { recursive: true, force: true });
});

it('a port already in use: exit 1 with a message naming PORT', async () => {
  const port = (squatter.address() as { port: number }).port;
  const proc = new ModuleProcess({ ...hub.moduleEnv(), PORT: String(port), HOST: '127.0.0.1', JOURNAL_DIR: journalDir, SCORING_API_KEYS: 'edge-key-0123456789' });
  const { code } = await proc.exited;
  assert.equal(code, 1);
  assert.equal(
    proc.stderr.join('').trim(),
    `edge-module: cannot listen on 127.0.0.1:${port}: port ${port} is already in use (another instance of this service?); ` +
      'set PORT to a free port, e.g. PORT=5002, or PORT=0 for any free one',
  );
});

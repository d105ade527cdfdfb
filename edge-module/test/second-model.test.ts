// The real module process with the second bundled model, a Hugging Face-style folder with no card of
// ours (model/fashion-rgb-keras: 32x32 RGB, NHWC input, Softmax at the end of the graph): the same
// messages carry its predictions, named after the folder.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { EdgeHub, type OutputMessage } from './support/edge-hub.js';
import { freePort, ModuleProcess } from './support/module-process.js';

const MODEL_DIR = fileURLToPath(new URL('../../model/fashion-rgb-keras/', import.meta.url));
// What PyTorch predicted for each sample at training time (model/train_rgb.py): the module must agree.
const training = JSON.parse(readFileSync(join(MODEL_DIR, 'training.json'), 'utf8')) as { samples: Record<string, { predicted: string }> };

describe('edge module process with the second bundled model', () => {
  let hub: EdgeHub;
  let proc: ModuleProcess;
  let journalDir: string;

  before(async () => {
    hub = await EdgeHub.start({ desired: { reportIntervalSeconds: 1 } });
    journalDir = mkdtempSync(join(tmpdir(), 'edge-journal-'));
    proc = new ModuleProcess({
      ...hub.moduleEnv(),
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      JOURNAL_DIR: journalDir,
      SCORING_API_KEYS: 'edge-second-model-key-0123',
      MODEL_DIR,
      LOG_LEVEL: 'info',
    });
    await proc.waitForLog(/^edge module started$/);
    await hub.waitForModule();
  });

  after(async () => {
    const exit = await proc?.stop('SIGTERM');
    await hub?.close();
    rmSync(journalDir, { recursive: true, force: true });
    assert.equal(exit?.code, 0, 'a clean stop on SIGTERM');
  });

  it('labels every sample as PyTorch did, under the folder\'s name', async () => {
    const ids = new Map<string, string>();
    let n = 0;
    for (const file of Object.keys(training.samples)) {
      const id = `rgb-${++n}`;
      ids.set(id, file);
      await hub.sendImage(readFileSync(join(MODEL_DIR, 'samples', file)), { messageId: id, properties: { fileName: file } });
    }
    const forId = (id: string): OutputMessage[] => hub.outputsOn('predictions').filter((m) => m.correlationId === id);
    await hub.waitFor(() => [...ids.keys()].every((id) => forId(id).length > 0), 30_000, 'a prediction for every sample');
    for (const [id, file] of ids) {
      const prediction = forId(id)[0]!.json as Record<string, unknown>;
      assert.equal(prediction.modelName, 'fashion-rgb-keras');
      const label = prediction.uncertain ? prediction.bestGuess : prediction.label;
      assert.equal(label, training.samples[file]!.predicted, file);
    }
  });
});

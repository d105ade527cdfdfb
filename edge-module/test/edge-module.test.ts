// The real module process (node edge-module/dist/main.js, after `npm run build`) with the real Azure IoT
// device SDK, against a real MQTT broker over TLS standing in for edgeHub (test/support/edge-hub.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EdgeHub, type OutputMessage } from './support/edge-hub.js';
import { freePort, ModuleProcess } from './support/module-process.js';

const MODEL_DIR = new URL('../../model/', import.meta.url);
const card = JSON.parse(readFileSync(new URL('card.json', MODEL_DIR), 'utf8')) as { name: string; version: string; sha256: string; labels: string[] };
const expected = JSON.parse(readFileSync(new URL('samples/labels.json', MODEL_DIR), 'utf8')) as Record<string, string>;
const sample = (file: string): Buffer => readFileSync(new URL(`samples/${file}`, MODEL_DIR));
// The placeholder model (random weights) cannot be expected to get the samples right; the trained one must.
const trained = !card.version.includes('untrained');
const API_KEY = 'edge-test-key-0123456789';

type Json = Record<string, unknown>;
const body = (m: OutputMessage): Json => m.json as Json;

async function startModule(hub: EdgeHub, journalDir: string, extra: Record<string, string> = {}): Promise<{ proc: ModuleProcess; http: string }> {
  const port = await freePort();
  const proc = new ModuleProcess({
    ...hub.moduleEnv(),
    PORT: String(port),
    HOST: '127.0.0.1',
    JOURNAL_DIR: journalDir,
    SCORING_API_KEYS: API_KEY,
    LOG_LEVEL: 'info',
    ...extra,
  });
  await proc.waitForLog(/^edge module started$/);
  await hub.waitForModule();
  return { proc, http: `http://127.0.0.1:${port}` };
}

describe('edge module process: refuses to start outside IoT Edge', () => {
  it('names the variables it needs', async () => {
    const proc = new ModuleProcess({});
    const { code } = await proc.exited;
    assert.equal(code, 1);
    const stderr = proc.stderr.join('');
    assert.match(stderr, /EdgeHubConnectionString/);
    assert.match(stderr, /EdgeModuleCACertificateFile/);
    assert.match(stderr, /missing: IOTEDGE_WORKLOADURI, IOTEDGE_DEVICEID/);
  });
});

describe('edge module process against the edgeHub stand-in', () => {
  let hub: EdgeHub;
  let proc: ModuleProcess;
  let http: string;
  let journalDir: string;
  let counter = 0;
  const nextId = (prefix: string): string => `${prefix}-${++counter}`;

  before(async () => {
    hub = await EdgeHub.start({ desired: { reportIntervalSeconds: 1 } });
    journalDir = mkdtempSync(join(tmpdir(), 'edge-journal-'));
    ({ proc, http } = await startModule(hub, journalDir));
  });

  after(async () => {
    const exit = await proc?.stop('SIGTERM');
    await hub?.close();
    rmSync(journalDir, { recursive: true, force: true });
    assert.equal(exit?.code, 0, 'a clean stop on SIGTERM');
  });

  const predictionsFor = (id: string): OutputMessage[] => hub.outputsOn('predictions').filter((m) => m.correlationId === id);
  const errorsFor = (id: string): OutputMessage[] => hub.outputsOn('errors').filter((m) => m.correlationId === id);

  it('labels every sample image as model/samples/labels.json says', async (t) => {
    const ids = new Map<string, string>();
    for (const file of Object.keys(expected)) {
      const id = nextId('sample');
      ids.set(id, file);
      await hub.sendImage(sample(file), { messageId: id, properties: { fileName: file } });
    }
    await hub.waitFor(() => [...ids.keys()].every((id) => predictionsFor(id).length > 0), 30_000, 'a prediction for every sample');
    for (const [id, file] of ids) {
      const [message] = predictionsFor(id);
      const prediction = body(message!);
      assert.equal(message!.contentType, 'application/json');
      assert.equal(message!.correlationId, id);
      assert.equal(prediction.fileName, file);
      assert.equal(prediction.modelVersion, card.version);
      assert.equal(typeof prediction.confidence, 'number');
      if (trained) assert.equal(prediction.label, expected[file], file);
      else assert.ok(card.labels.includes(String(prediction.label)), `${file}: ${String(prediction.label)}`);
    }
    if (!trained) t.diagnostic(`placeholder model ${card.version}: labels checked against the class list only`);
  });

  it('reads the seed JSON format: one prediction per image, a bad image named on the errors output', async () => {
    const id = nextId('json');
    const request = { 'coat.png': sample('coat.png').toString('base64'), 'broken.png': 'not base64 at all!', 'bag.png': sample('bag.png').toString('base64') };
    await hub.sendImage(JSON.stringify(request), { messageId: id, contentType: 'application/json' });
    await hub.waitFor(() => predictionsFor(id).length === 2 && errorsFor(id).length === 1, 20_000, 'two predictions and one error');
    assert.deepEqual(predictionsFor(id).map((m) => body(m).fileName).sort(), ['bag.png', 'coat.png']);
    if (trained) for (const m of predictionsFor(id)) assert.equal(body(m).label, expected[String(body(m).fileName)]);
    const error = body(errorsFor(id)[0]!);
    assert.equal(error.fileName, 'broken.png');
    assert.equal(error.error, 'invalid_base64');
    assert.match(String(error.message), /"broken\.png": not valid base64/);
  });

  it('puts bad input on the errors output, names the problem, and keeps running', async () => {
    const cases: Array<[Buffer | string, string]> = [
      ['this is not an image', 'invalid_image'],
      ['', 'empty_message'],
      ['{"a.png": ', 'invalid_json'],
      [Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'invalid_image'],
    ];
    const ids = cases.map(() => nextId('bad'));
    for (const [i, [payload]] of cases.entries()) await hub.sendImage(payload, { messageId: ids[i] });
    await hub.waitFor(() => ids.every((id) => errorsFor(id).length === 1), 20_000, 'an error for each bad input');
    for (const [i, [, code]] of cases.entries()) {
      const error = body(errorsFor(ids[i]!)[0]!);
      assert.equal(error.error, code, JSON.stringify(error));
      assert.ok(String(error.message).length > 10);
    }
    // Still alive and predicting.
    const id = nextId('after-bad');
    await hub.sendImage(sample('sandal.png'), { messageId: id });
    await hub.waitFor(() => predictionsFor(id).length === 1, 20_000, 'a prediction after the bad inputs');
    assert.ok(proc.running);
  });

  it('applies a twin change live and reports it; rejects a bad one naming the property', async () => {
    const version = hub.patchDesired({ topK: 3, confidenceThreshold: 0.999, includeProbabilities: true });
    await hub.waitForReported((r) => (r.settingsStatus as Json | undefined)?.desiredVersion === version, 20_000, 'the applied settings');
    const reported = hub.twin.reported;
    assert.equal((reported.settingsStatus as Json).status, 'applied');
    assert.deepEqual({ ...(reported.settings as Json) }, { topK: 3, confidenceThreshold: 0.999, includeProbabilities: true, maxImagesPerMessage: 64, reportIntervalSeconds: 1 });

    const id = nextId('twin');
    await hub.sendImage(sample('trouser.png'), { messageId: id, properties: { fileName: 'trouser.png' } });
    await hub.waitFor(() => predictionsFor(id).length === 1, 20_000, 'a prediction with the new settings');
    const prediction = body(predictionsFor(id)[0]!);
    assert.equal((prediction.top as unknown[]).length, 3);
    assert.equal(Object.keys(prediction.probabilities as Json).length, card.labels.length);
    const uncertain = (prediction.confidence as number) < 0.999;
    assert.equal(prediction.uncertain, uncertain);
    assert.equal(prediction.label, uncertain ? 'uncertain' : prediction.bestGuess ?? prediction.label);
    if (uncertain) assert.ok(card.labels.includes(String(prediction.bestGuess)));

    const bad = hub.patchDesired({ topK: 0 });
    await hub.waitForReported((r) => (r.settingsStatus as Json | undefined)?.desiredVersion === bad, 20_000, 'the rejection');
    const status = hub.twin.reported.settingsStatus as Json;
    assert.equal(status.status, 'rejected');
    assert.equal(status.property, 'topK');
    assert.match(String(status.error), /topK must be an integer from 1 to 10 \(got 0\)/);
    assert.equal((hub.twin.reported.settings as Json).topK, 3, 'the last good settings stay');

    const reset = hub.patchDesired({ topK: null, confidenceThreshold: null, includeProbabilities: null });
    await hub.waitForReported((r) => (r.settingsStatus as Json | undefined)?.desiredVersion === reset && (r.settings as Json).topK === 1, 20_000, 'the reset');
  });

  it('reports the model and its counters in the reported properties', async () => {
    const reported = await hub.waitForReported((r) => ((r.counters as Json | undefined)?.predicted as number) > 0, 20_000, 'counters');
    assert.deepEqual(reported.model, { name: card.name, version: card.version, sha256: card.sha256 });
    const counters = reported.counters as Json;
    for (const key of ['received', 'predicted', 'errors', 'replayed', 'unfinished']) assert.equal(typeof counters[key], 'number', key);
    assert.ok(Date.parse(String(reported.startedAt)) > 0);
  });

  it('answers the score method exactly as POST /score answers, and getStatus', async () => {
    const request = { 'ankle-boot.png': sample('ankle-boot.png').toString('base64'), 'dress.png': sample('dress.png').toString('base64') };
    const method = await hub.invokeMethod('score', request);
    const response = await fetch(`${http}/score`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify(request),
    });
    assert.equal(response.status, 200);
    assert.deepEqual(method, { status: 200, payload: await response.json() });
    if (trained) assert.deepEqual(method.payload, [{ 'ankle-boot.png': 'Ankle boot' }, { 'dress.png': 'Dress' }]);

    const bad = await hub.invokeMethod('score', { 'x.png': 'AAAA' });
    assert.equal(bad.status, 400);
    assert.match(String((bad.payload as Json).error), /x\.png/);

    const status = await hub.invokeMethod('getStatus', {});
    assert.equal(status.status, 200);
    const payload = status.payload as Json;
    assert.equal(payload.ready, true);
    assert.equal(payload.connected, true);
    assert.deepEqual(payload.model, { name: card.name, version: card.version, sha256: card.sha256 });
    assert.ok(((payload.counters as Json).received as number) > 0);
    assert.equal((payload.journal as Json).fsync, 'batch');
  });

  it('serves the scoring service\'s seed contract and health routes over HTTP', async () => {
    assert.deepEqual(await (await fetch(`${http}/v2/health/ready`)).json(), { ready: true });
    assert.deepEqual(await (await fetch(`${http}/v2/health/live`)).json(), { live: true });
    const unauthorised = await fetch(`${http}/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(unauthorised.status, 401);
    const ok = await fetch(`${http}/score`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({ 'shirt.png': sample('shirt.png').toString('base64') }),
    });
    assert.equal(ok.status, 200);
    const [entry] = (await ok.json()) as Array<Record<string, string>>;
    if (trained) assert.equal(entry!['shirt.png'], 'Shirt');
    else assert.ok(card.labels.includes(entry!['shirt.png']!));
    // The image file itself as the body, as a camera app on the device's network may send it.
    const raw = await fetch(`${http}/score?name=shirt.png`, {
      method: 'POST',
      headers: { 'content-type': 'image/png', authorization: `Bearer ${API_KEY}` },
      body: sample('shirt.png'),
    });
    assert.equal(raw.status, 200);
    assert.deepEqual(await raw.json(), [entry]);
  });

  it('survives a connection loss: reconnects and catches up on the images sent meanwhile', async () => {
    const connections = hub.connections;
    const ids = Array.from({ length: 30 }, () => nextId('outage'));
    for (const id of ids.slice(0, 10)) await hub.sendImage(sample('pullover.png'), { messageId: id });
    await hub.pause();
    // edgeHub keeps the module's session: these are queued for it while it is away.
    for (const id of ids.slice(10)) await hub.sendImage(sample('pullover.png'), { messageId: id });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await hub.resume();
    await hub.waitFor(() => ids.every((id) => predictionsFor(id).length > 0), 60_000, 'a prediction for every image sent around the outage');
    assert.ok(hub.connections > connections, 'the module reconnected');
    assert.ok(proc.running);
  });
});

describe('edge module process: the model in a worker thread (INFERENCE_WORKER=true)', () => {
  it('predicts the samples and stops cleanly', async () => {
    const hub = await EdgeHub.start();
    const journalDir = mkdtempSync(join(tmpdir(), 'edge-journal-worker-'));
    let proc: ModuleProcess | undefined;
    try {
      ({ proc } = await startModule(hub, journalDir, { INFERENCE_WORKER: 'true', HEAP_GROWING_PERCENT: '150' }));
      const starting = proc.lines.find((l) => l.msg === 'edge module starting');
      assert.equal(starting?.inference, 'worker thread');
      assert.equal(starting?.heapGrowingPercent, 150);
      const files = Object.keys(expected);
      for (const file of files) await hub.sendImage(sample(file), { messageId: `w-${file}`, properties: { fileName: file } });
      const outputs = await hub.waitForOutputs('predictions', files.length, 30_000);
      for (const output of outputs) {
        const prediction = body(output);
        if (trained) assert.equal(prediction.label, expected[String(prediction.fileName)]);
        else assert.ok(card.labels.includes(String(prediction.label)));
      }
      assert.equal((await proc.stop('SIGTERM')).code, 0);
    } finally {
      await proc?.stop('SIGKILL');
      await hub.close();
      rmSync(journalDir, { recursive: true, force: true });
    }
  });
});

describe('edge module process: started before edgeHub listens', () => {
  it('keeps trying, then connects, subscribes and predicts', async () => {
    const hub = await EdgeHub.start();
    const journalDir = mkdtempSync(join(tmpdir(), 'edge-journal-late-'));
    await hub.pause();
    const port = await freePort();
    const proc = new ModuleProcess({ ...hub.moduleEnv(), PORT: String(port), HOST: '127.0.0.1', JOURNAL_DIR: journalDir, SCORING_AUTH: 'disabled' });
    try {
      await proc.waitForLog(/^cannot connect to edgeHub; retrying/);
      const ready = await fetch(`http://127.0.0.1:${port}/v2/health/live`);
      assert.equal(ready.status, 200, 'HTTP is up while edgeHub is away');
      await hub.resume();
      await hub.waitForModule(30_000);
      await hub.sendImage(sample('bag.png'), { messageId: 'late-1' });
      const [prediction] = await hub.waitForOutputs('predictions', 1, 30_000);
      assert.equal(prediction!.correlationId, 'late-1');
    } finally {
      await proc.stop('SIGTERM');
      await hub.close();
      rmSync(journalDir, { recursive: true, force: true });
    }
  });
});

describe('edge module process: kill -9 in the middle of a stream loses nothing', () => {
  it('every image sent gets a prediction after a SIGKILL and a restart', async (t) => {
    const hub = await EdgeHub.start();
    const journalDir = mkdtempSync(join(tmpdir(), 'edge-journal-kill-'));
    let proc: ModuleProcess | undefined;
    try {
      ({ proc } = await startModule(hub, journalDir));
      const total = 300;
      const image = sample('sneaker.png');
      const ids = Array.from({ length: total }, (_, i) => `stream-${i}`);
      let killedAfter = -1;
      const killed = hub.waitFor(() => hub.outputsOn('predictions').length >= total / 3 || undefined, 60_000, 'a third of the predictions')
        .then(() => {
          killedAfter = hub.outputsOn('predictions').length;
          proc!.child.kill('SIGKILL');
        });
      // A steady stream, as a camera would send it; it goes on while the module is dead (edgeHub queues it).
      for (const [i, id] of ids.entries()) {
        await hub.sendImage(image, { messageId: id, properties: { fileName: `frame-${i}.png` } });
        if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 15));
      }
      await killed;
      const exit = await proc.exited;
      assert.equal(exit.signal, 'SIGKILL');

      ({ proc } = await startModule(hub, journalDir));
      const replay = proc.lines.find((l) => l.msg === 'edge module starting')?.journal as { replaying: number } | undefined;
      const seen = (): Map<string, number> => {
        const counts = new Map<string, number>();
        for (const m of hub.outputsOn('predictions')) counts.set(m.correlationId!, (counts.get(m.correlationId!) ?? 0) + 1);
        return counts;
      };
      await hub.waitFor(() => ids.every((id) => seen().has(id)) || undefined, 90_000, 'a prediction for every image of the stream');
      const counts = seen();
      const lost = ids.filter((id) => !counts.has(id));
      const duplicated = [...counts.values()].filter((n) => n > 1).length;
      t.diagnostic(`${total} images; SIGKILL after ${killedAfter} predictions; ${replay?.replaying ?? '?'} journal entries replayed; ` +
        `${lost.length} lost; ${duplicated} images predicted twice (${hub.outputsOn('predictions').length} prediction messages)`);
      assert.deepEqual(lost, []);
      assert.equal(hub.outputsOn('errors').length, 0);
    } finally {
      await proc?.stop('SIGTERM');
      await hub.close();
      rmSync(journalDir, { recursive: true, force: true });
    }
  });
});

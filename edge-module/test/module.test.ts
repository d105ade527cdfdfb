// The module wiring with an injected client, classifier and a real journal: no broker, no process.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { BufferPool } from '@model-deploy/codecs';
import { Journal } from '../src/journal.js';
import { EdgeModule, type EdgeModuleOptions } from '../src/module.js';
import { FakeClassifier, FakeModuleClient, image, LABELS, MemoryLogger } from './support/fakes.js';

let dir: string;
const running: EdgeModule[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'edge-module-test-'));
});
afterEach(async () => {
  for (const module of running.splice(0)) await module.stop(100);
  rmSync(dir, { recursive: true, force: true });
});

interface Setup {
  module: EdgeModule;
  client: FakeModuleClient;
  classifier: FakeClassifier;
  journal: Journal;
  log: MemoryLogger;
}

async function setup(options: Partial<EdgeModuleOptions> & { desired?: Record<string, unknown>; fsync?: 'batch' | 'always'; start?: boolean } = {}): Promise<Setup> {
  const client = (options.client as FakeModuleClient | undefined) ?? new FakeModuleClient(options.desired ?? { $version: 1 });
  const classifier = (options.classifier as FakeClassifier | undefined) ?? new FakeClassifier();
  const journal = Journal.open({ dir, fsync: options.fsync ?? 'batch' });
  const log = new MemoryLogger();
  const module = new EdgeModule({ retry: { initialMs: 5, maxMs: 20 }, ...options, client, classifier, journal, log });
  client.useTap(module.tap);
  running.push(module);
  if (options.start !== false) await module.start();
  return { module, client, classifier, journal, log };
}

async function until<T>(check: () => T | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const topicFor = (props: string): string => `devices/dev/modules/classifier/inputs/images/${props}`;

describe('module: inputs become outputs', () => {
  it('one prediction per image, JSON, correlated to the input, and the journal entry is retired', async () => {
    const { client, journal } = await setup();
    client.deliver('images', image(8), { messageId: 'in-1', properties: { fileName: 'bag.png' } });
    const [out] = await until(() => client.outputsOn('predictions').length === 1 && client.outputsOn('predictions'), 'a prediction');
    assert.equal(out!.message.contentType, 'application/json');
    assert.equal(out!.message.contentEncoding, 'utf-8');
    assert.equal(out!.message.correlationId, 'in-1');
    assert.equal(out!.message.messageId, 'in-1:0');
    assert.equal(out!.body.fileName, 'bag.png');
    assert.equal(out!.body.label, 'Bag');
    assert.equal(out!.body.modelVersion, '9.9.9');
    assert.equal(typeof out!.body.confidence, 'number');
    await until(() => journal.stats.live === 0, 'retirement');
  });

  it('a JSON message with several images gives one message per image, bad ones on errors', async () => {
    const { client } = await setup();
    const body = JSON.stringify({ 'a.png': image(1).toString('base64'), 'b.png': Buffer.from('nope').toString('base64'), 'c.png': image(9).toString('base64') });
    client.deliver('images', body, { messageId: 'batch-1', contentType: 'application/json' });
    await until(() => client.sent.length === 3, 'three outputs');
    assert.deepEqual(client.outputsOn('predictions').map((o) => [o.body.fileName, o.body.label, o.body.imageIndex]), [['a.png', 'Trouser', 0], ['c.png', 'Ankle boot', 2]]);
    const [error] = client.outputsOn('errors');
    assert.equal(error!.body.fileName, 'b.png');
    assert.equal(error!.body.error, 'invalid_image');
    assert.equal(error!.message.correlationId, 'batch-1');
  });

  it('bad input goes to the errors output and the module carries on', async () => {
    const { client, module } = await setup();
    client.deliver('images', '', { messageId: 'empty' });
    client.deliver('images', '{"a.png": ', { messageId: 'broken-json' });
    client.deliver('other', image(1), { messageId: 'wrong-input' });
    client.deliver('images', image(3), { messageId: 'fine' });
    await until(() => client.sent.length === 4, 'four outputs');
    const codes = Object.fromEntries(client.outputsOn('errors').map((o) => [o.message.correlationId, o.body.error]));
    assert.deepEqual(codes, { 'empty': 'empty_message', 'broken-json': 'invalid_json', 'wrong-input': 'unknown_input' });
    assert.equal(client.outputsOn('predictions')[0]!.body.label, 'Dress');
    assert.deepEqual((module.status().counters as Record<string, number>).errors, 3);
  });

  it('waits out an overloaded classifier instead of failing the input', async () => {
    const classifier = new FakeClassifier();
    classifier.overloadTimes = 3;
    const { client } = await setup({ classifier });
    client.deliver('images', image(2), { messageId: 'x' });
    await until(() => client.outputsOn('predictions').length === 1, 'a prediction');
    assert.equal(classifier.calls, 4);
    assert.equal(client.outputsOn('errors').length, 0);
  });
});

describe('module: nothing is retired before edgeHub acknowledged it', () => {
  it('keeps the entry while the output is unacknowledged, and retires it after', async () => {
    const { client, journal } = await setup();
    client.ackMode = 'hold';
    client.deliver('images', image(1), { messageId: 'held' });
    await until(() => client.heldCount === 1, 'the send');
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(journal.stats.live, 1);
    client.releaseHeld();
    await until(() => journal.stats.live === 0, 'retirement');
  });

  it('retries a failed send until it is acknowledged', async () => {
    const { client, journal, module } = await setup();
    client.ackMode = { failTimes: 3 };
    client.deliver('images', image(1), { messageId: 'flaky' });
    await until(() => client.sent.length === 1, 'the acknowledged send');
    assert.equal(client.attempts.length, 4);
    assert.equal(client.sent[0]!.message.messageId, 'flaky:0', 'a retry keeps the message id, so duplicates can be recognised');
    await until(() => journal.stats.live === 0, 'retirement');
    assert.equal((module.status().counters as Record<string, number>).sendRetries, 3);
  });

  it('replays what the previous run left in the journal, and skips edgeHub redelivering the same message', async () => {
    // A previous run journaled two inputs and died before finishing them.
    const previous = Journal.open({ dir });
    const topic = topicFor('%24.mid=left-1&fileName=a.png');
    previous.append({ inputName: 'images', messageId: 'left-1', properties: [['fileName', 'a.png']], body: image(5), receivedAt: 1 });
    previous.append({ inputName: 'images', messageId: 'left-2', properties: [], body: image(6), receivedAt: 2 });

    const { client, module, journal } = await setup();
    await until(() => client.sent.length === 2, 'the replayed outputs');
    assert.deepEqual(client.sent.map((s) => [s.message.correlationId, s.body.replayed]), [['left-1', true], ['left-2', true]]);
    // edgeHub had not seen the PUBACK for left-1 and sends it again: acknowledged, not processed twice.
    let acked = false;
    module.tap(topic, image(5), () => (acked = true));
    assert.equal(acked, true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(client.sent.length, 2);
    const counters = module.status().counters as Record<string, number>;
    assert.equal(counters.replayed, 2);
    assert.equal(counters.redeliveriesSkipped, 1);
    await until(() => journal.stats.live === 0, 'retirement');
  });
});

describe('module: photo-sized payloads in reused buffers', () => {
  /** A payload the fake classifier reads ("IMG" ... label byte last) of `bytes`, with filler unique to `seed`. */
  const photo = (bytes: number, seed: number, label: number): Buffer => {
    const buffer = Buffer.alloc(bytes, seed);
    buffer.write('IMG');
    for (let i = 3; i < bytes - 1; i += 997) buffer[i] = (seed * 31 + i) & 0xff;
    buffer[bytes - 1] = label;
    return buffer;
  };

  it('copies each into a pooled buffer, gives it back only once retired, and a reused one carries the new bytes', async () => {
    // Shared, as the module's own pool is: the journal writes and checksums the SharedArrayBuffer's bytes.
    const payloadBuffers = new BufferPool({ largest: 1 << 20, keepBytes: 8 << 20, shared: true });
    const first = await setup({ payloadBuffers });
    const sent = [0, 1, 2, 3].map((k) => photo(200_000 + k * 1000, k, k + 1));
    sent.forEach((body, k) => first.client.deliver('images', body, { messageId: `p-${k}` }));
    await until(() => first.client.outputsOn('predictions').length === 4, 'four predictions');
    assert.deepEqual(first.client.outputsOn('predictions').map((o) => o.body.label).sort(), [1, 2, 3, 4].map((i) => LABELS[i]).sort());
    await until(() => first.journal.stats.live === 0, 'retirement');
    assert.equal(payloadBuffers.lent, 0, 'every buffer given back once its entry was retired');
    assert.ok(payloadBuffers.idle >= 4 * 256 * 1024, 'kept for the next payloads');

    // Outputs held: nothing is retired, so nothing may be given back; the buffers are the reused ones.
    first.client.ackMode = 'hold';
    const held = [4, 5, 6].map((k) => photo(210_000 + k, k, k + 1));
    held.forEach((body, k) => first.client.deliver('images', body, { messageId: `h-${k}` }));
    await until(() => first.client.heldCount === 3, 'three held sends');
    assert.equal(payloadBuffers.lent, 3);
    assert.ok(payloadBuffers.idle <= 1 * 256 * 1024, 'the held payloads took buffers given back before');
    // A small payload is not pooled.
    first.client.deliver('images', image(2), { messageId: 'small' });
    await until(() => first.client.heldCount === 4, 'the small one held too');
    assert.equal(payloadBuffers.lent, 3);
    await first.module.stop(20);
    running.splice(running.indexOf(first.module), 1);

    // What the journal kept for the held ones is their bytes exactly (replayed at the next start).
    const journal = Journal.open({ dir });
    const recovered = new Map(journal.recovered.map((e) => [e.record.messageId, e.record.body]));
    await journal.close();
    held.forEach((body, k) => assert.ok(recovered.get(`h-${k}`)?.equals(body), `h-${k} journaled whole`));
    assert.equal(payloadBuffers.lent, 3, 'not given back by a stop either (the collector frees them)');
    const second = await setup();
    await until(() => second.client.sent.length === 4, 'the replayed outputs');
    assert.deepEqual(second.client.outputsOn('predictions').filter((o) => String(o.message.correlationId).startsWith('h-')).map((o) => [o.message.correlationId, o.body.label]).sort(),
      [['h-0', LABELS[5]], ['h-1', LABELS[6]], ['h-2', LABELS[7]]]);
  });
});

describe('module: the transport tap', () => {
  it('journals a delivery before acknowledging it, and the SDK event for the same payload is ignored', async () => {
    const { client, journal, module } = await setup();
    const payload = image(4);
    let liveAtAck = -1;
    client.ackMode = 'hold';
    module.tap(topicFor('%24.mid=t-1'), payload, (error) => {
      assert.equal(error, undefined);
      liveAtAck = journal.stats.appended;
    });
    assert.equal(liveAtAck, 1, 'acknowledged after the append');
    // The SDK then emits the same delivery as an inputMessage (same Buffer): not journaled twice.
    client.emit('inputMessage', 'images', Object.assign(new (await import('azure-iot-common')).default.Message(payload), { messageId: 't-1' }));
    await until(() => client.heldCount === 1, 'one send');
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(journal.stats.appended, 1);
    assert.equal(client.heldCount, 1);
    client.releaseHeld();
  });

  it('with fsync "always" the acknowledgement waits for the fdatasync', async () => {
    const { module, journal } = await setup({ fsync: 'always' });
    const before = journal.stats.fsyncs;
    await new Promise<void>((resolve, reject) => module.tap(topicFor('%24.mid=t-2'), image(1), (error) => (error ? reject(error) : resolve())));
    assert.ok(journal.stats.fsyncs > before);
  });

  it('holds the acknowledgement while too many inputs wait for the classifier, and lets it go when they drain', async () => {
    const classifier = new FakeClassifier();
    let open!: () => void;
    classifier.gate = new Promise((resolve) => (open = resolve));
    const { module } = await setup({ classifier, maxBacklog: 4, maxImagesInFlight: 2 });
    const acks: boolean[] = [];
    for (let i = 0; i < 6; i++) {
      const index = acks.push(false) - 1;
      module.tap(topicFor(`%24.mid=b-${i}`), image(i), () => (acks[index] = true));
    }
    assert.deepEqual(acks, [true, true, true, true, false, false], 'above 4 waiting inputs, acknowledgements wait');
    classifier.gate = undefined;
    open();
    await until(() => acks[4] && acks[5], 'the held acknowledgements');
  });

  it('does not acknowledge deliveries once stopping (edgeHub keeps them)', async () => {
    const { module } = await setup();
    await module.stop(100);
    const results: Array<Error | undefined> = [];
    module.tap(topicFor('%24.mid=late'), image(1), (error) => results.push(error));
    assert.equal(results.length, 1);
    assert.match(String(results[0]), /module is stopping/);
  });
});

describe('module: twin', () => {
  it('applies valid desired properties live and reports them with the model and counters', async () => {
    const { client, module } = await setup({ desired: { $version: 3, topK: 2 } });
    assert.equal(module.currentSettings.topK, 2);
    const reported = client.twin.lastReported;
    assert.deepEqual(reported.model, { name: 'fake-model', version: '9.9.9', sha256: 'ab'.repeat(32) });
    assert.deepEqual((reported.settingsStatus as Record<string, unknown>).status, 'applied');
    assert.equal((reported.settingsStatus as Record<string, unknown>).desiredVersion, 3);
    assert.ok(reported.counters && reported.startedAt);

    client.twin.patch({ $version: 4, confidenceThreshold: 0.9 });
    assert.equal(module.currentSettings.confidenceThreshold, 0.9);
    client.deliver('images', image(8), { messageId: 'u' });
    const [out] = await until(() => client.outputsOn('predictions').length === 1 && client.outputsOn('predictions'), 'a prediction');
    assert.equal(out!.body.label, 'uncertain');
    assert.equal(out!.body.bestGuess, 'Bag');
    assert.equal((out!.body.top as unknown[]).length, 2);
  });

  it('rejects a bad patch, keeps the last good settings, and reports the property and expected value', async () => {
    const { client, module } = await setup({ desired: { $version: 1, topK: 3 } });
    client.twin.patch({ $version: 2, topK: 50 });
    assert.equal(module.currentSettings.topK, 3);
    await until(() => (client.twin.lastReported.settingsStatus as Record<string, unknown>).status === 'rejected', 'the rejection report');
    const status = client.twin.lastReported.settingsStatus as Record<string, unknown>;
    assert.equal(status.property, 'topK');
    assert.equal(status.desiredVersion, 2);
    assert.match(String(status.error), /topK must be an integer from 1 to 10 \(got 50\)/);
    assert.equal((client.twin.lastReported.settings as Record<string, unknown>).topK, 3);
  });

  it('changes the log level from the twin and back to the start level when removed', async () => {
    const { client, log } = await setup();
    client.twin.patch({ $version: 2, logLevel: 'debug' });
    assert.equal(log.level, 'debug');
    client.twin.patch({ $version: 3, logLevel: null });
    assert.equal(log.level, 'info');
  });
});

describe('module: direct methods and connection', () => {
  it('getStatus answers the model, settings, counters and journal', async () => {
    const { client } = await setup();
    client.deliver('images', image(1), { messageId: 's' });
    await until(() => client.sent.length === 1, 'an output');
    const { status, payload } = await client.invoke('getStatus', null);
    const body = payload as Record<string, Record<string, unknown>>;
    assert.equal(status, 200);
    assert.equal(body.model!.version, '9.9.9');
    assert.equal(body.counters!.received, 1);
    assert.equal(body.journal!.fsync, 'batch');
    assert.equal(body.ready, true);
  });

  it('score answers with the handler\'s status and body, with the twin\'s topK', async () => {
    const calls: Array<[unknown, number]> = [];
    const { client } = await setup({
      desired: { $version: 1, topK: 4 },
      score: async (payload, topK) => {
        calls.push([payload, topK]);
        return { status: 400, body: { error: 'the request body holds no image' } };
      },
    });
    assert.deepEqual(await client.invoke('score', {}), { status: 400, payload: { error: 'the request body holds no image' } });
    assert.deepEqual(calls, [[{}, 4]]);
  });

  it('score without a handler answers 501', async () => {
    const { client } = await setup();
    assert.equal((await client.invoke('score', {})).status, 501);
  });

  it('keeps trying to connect at start, and reconnects after the SDK gives up', async () => {
    const client = new FakeModuleClient();
    client.openFailures = 2;
    const { log } = await setup({ client });
    assert.equal(client.opens, 3);
    assert.ok(log.lines.some((l) => /cannot connect to edgeHub/.test(l.msg)));
    client.openFailures = 1;
    client.emit('disconnect', new Error('retry policy gave up'));
    await until(() => client.opens === 5, 'two more opens');
  });

  it('reads the twin again after a reconnection (patches sent meanwhile were missed)', async () => {
    const { client, module } = await setup({ desired: { $version: 1, topK: 1 } });
    // A patch the module never saw while it was away:
    client.twin.properties.desired.topK = 5;
    client.twin.properties.desired.$version = 2;
    client.emit('connect');
    await until(() => module.currentSettings.topK === 5, 'the settings from the re-read twin');
    assert.equal((client.twin.lastReported.settingsStatus as Record<string, unknown>).desiredVersion, 2);
  });

  it('does not lose an input whose outputs never got through before stop: the next start replays it', async () => {
    const first = await setup();
    first.client.ackMode = 'hold';
    first.client.deliver('images', image(7), { messageId: 'pending' });
    await until(() => first.client.heldCount === 1, 'the send');
    await first.module.stop(20);
    running.splice(running.indexOf(first.module), 1);

    const second = await setup();
    await until(() => second.client.sent.length === 1, 'the replayed output');
    assert.equal(second.client.sent[0]!.message.correlationId, 'pending');
    assert.equal(second.client.sent[0]!.body.label, LABELS[7]);
  });
});

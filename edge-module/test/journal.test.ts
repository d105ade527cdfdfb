import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { InputRecord } from '../src/input-record.js';
import { acceptFrame, crc32, readSegment } from '../src/journal-format.js';
import { Journal } from '../src/journal.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'journal-test-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function record(n: number, bodyBytes = 100): InputRecord {
  return {
    inputName: 'images',
    messageId: `m${n}`,
    contentType: 'image/png',
    properties: [['fileName', `f${n}.png`], ['$.cdid', 'dev']],
    body: Buffer.alloc(bodyBytes, n % 256),
    receivedAt: 1_700_000_000_000 + n,
  };
}

function segments(): string[] {
  return readdirSync(dir).filter((n) => n.startsWith('segment-')).sort();
}

function newestSegment(): string {
  return join(dir, segments().at(-1)!);
}

describe('journal: bad calls', () => {
  it('refuses appends after close', async () => {
    const journal = Journal.open({ dir });
    await journal.close();
    assert.throws(() => journal.append(record(1)), /journal is closed/);
  });

  it('ignores retiring an unknown or already retired entry', async () => {
    const journal = Journal.open({ dir });
    const entry = journal.append(record(1));
    journal.retire(entry.seq);
    journal.retire(entry.seq);
    journal.retire(12345);
    assert.equal(journal.stats.retired, 1);
    await journal.close();
  });
});

describe('journal: recovery after a crash', () => {
  it('gives back exactly the unretired entries, byte for byte, and keeps numbering after them', async () => {
    const first = Journal.open({ dir });
    const entries = [1, 2, 3, 4, 5].map((n) => first.append(record(n)));
    first.retire(entries[1]!.seq);
    first.retire(entries[3]!.seq);
    await first.close();

    const second = Journal.open({ dir });
    assert.deepEqual(second.recovered.map((e) => e.record.messageId), ['m1', 'm3', 'm5']);
    assert.ok(second.recovered.every((e) => e.replayed));
    assert.deepEqual(second.recovered[1]!.record, record(3));
    const next = second.append(record(6));
    assert.ok(next.seq > entries[4]!.seq, 'sequence numbers continue after the recovered ones');
    await second.close();
  });

  it('keeps an entry written with write(2) only — no fsync, no close — as after kill -9', () => {
    const journal = Journal.open({ dir, fsync: 'batch', fsyncIntervalMs: 10_000 });
    journal.append(record(7));
    // No close(): the process "dies" here. A second open reads what the kernel has.
    const reopened = Journal.open({ dir });
    assert.deepEqual(reopened.recovered.map((e) => e.record.messageId), ['m7']);
  });

  it('cuts a torn record at the end of the newest segment and keeps everything before it', async () => {
    const journal = Journal.open({ dir });
    journal.append(record(1));
    journal.append(record(2));
    await journal.close();
    const file = newestSegment();
    const size = statSync(file).size;
    truncateSync(file, size - 10);

    const warnings: string[] = [];
    const reopened = Journal.open({ dir, onWarning: (message, details) => warnings.push(`${message} ${JSON.stringify(details)}`) });
    assert.deepEqual(reopened.recovered.map((e) => e.record.messageId), ['m1']);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /torn record.*truncated frame/);
    await reopened.close();
    // The damage is gone for good: a third open sees a clean journal.
    const third = Journal.open({ dir, onWarning: (message) => assert.fail(`unexpected warning ${message}`) });
    assert.deepEqual(third.recovered.map((e) => e.record.messageId), ['m1']);
    await third.close();
  });

  it('rejects a record whose checksum does not match (garbage after the last good frame)', async () => {
    const journal = Journal.open({ dir });
    journal.append(record(1));
    await journal.close();
    const file = newestSegment();
    const good = readFileSync(file);
    // A plausible frame header followed by bytes that do not match its CRC.
    const bogus = Buffer.alloc(8 + 20, 0xab);
    bogus.writeUInt32LE(20, 0);
    bogus.writeUInt32LE((crc32(bogus.subarray(8)) ^ 1) >>> 0, 4);
    appendFileSync(file, bogus);
    const warnings: string[] = [];
    const reopened = Journal.open({ dir, onWarning: (message, details) => warnings.push(String(details.damage)) });
    assert.deepEqual(reopened.recovered.map((e) => e.record.messageId), ['m1']);
    assert.deepEqual(warnings, ['checksum mismatch']);
    assert.ok(good.length > 0);
    await reopened.close();
  });

  it('treats an impossible frame length as damage instead of allocating it', () => {
    writeFileSync(join(dir, 'segment-000000000001.log'), Buffer.from([0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]));
    const warnings: string[] = [];
    const journal = Journal.open({ dir, onWarning: (_m, details) => warnings.push(String(details.damage)) });
    assert.equal(journal.recovered.length, 0);
    assert.match(warnings[0]!, /impossible frame length/);
  });
});

describe('journal: size stays bounded', () => {
  it('rotates into a fresh segment holding only the live entries and deletes the old ones', async () => {
    const journal = Journal.open({ dir, segmentBytes: 64 * 1024 });
    const keep: number[] = [];
    for (let n = 0; n < 2000; n++) {
      const entry = journal.append(record(n, 500));
      if (n % 500 === 0) keep.push(entry.seq);
      else journal.retire(entry.seq);
      if (n % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await new Promise((resolve) => setImmediate(resolve));
    await journal.settled();
    const stats = journal.stats;
    assert.ok(stats.rotations > 5, `rotated ${stats.rotations} times`);
    assert.ok(stats.fileBytes < 2 * 64 * 1024, `journal holds ${stats.fileBytes} bytes for 2000 x 500 B appended`);
    assert.ok(segments().length <= 2, `segments on disk: ${segments().join(', ')}`);
    await journal.close();

    const reopened = Journal.open({ dir });
    assert.deepEqual(reopened.recovered.map((e) => e.seq), keep);
    await reopened.close();
  });

  it('does not rotate at every append when the live entries alone exceed segmentBytes (a window of large photos)', async () => {
    // 64 entries of 20 KB in flight (~1.3 MB live) against 256 KB segments: before, every append after the
    // first rotation rotated again and rewrote all 64 (~1,000 rotations, over 1 GB written).
    const segmentBytes = 256 * 1024;
    const journal = Journal.open({ dir, segmentBytes });
    const window: number[] = [];
    for (let n = 0; n < 1000; n++) {
      window.push(journal.append(record(n, 20_000)).seq);
      if (window.length > 64) journal.retire(window.shift()!);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await journal.settled();
    const { rotations, fileBytes, liveBytes } = journal.stats;
    const appended = 1000 * 20_000;
    // Each rotation waits for as many new bytes as it carried (~1.3 MB): ~15 for 20 MB appended.
    assert.ok(rotations >= 5 && rotations <= Math.ceil(appended / liveBytes) + 2, `rotated ${rotations} times for ${appended} B appended, ${liveBytes} B live`);
    assert.ok(fileBytes <= 2 * liveBytes + 2 * 20_100, `journal holds ${fileBytes} bytes for ${liveBytes} live`);
    await journal.close();
    const reopened = Journal.open({ dir });
    assert.deepEqual(reopened.recovered.map((e) => e.seq), window);
    await reopened.close();
  });
});

describe('journal: durability', () => {
  it('durable() resolves after an fdatasync covering earlier appends, one sync for many waiters', async () => {
    const journal = Journal.open({ dir, fsync: 'always' });
    const before = journal.stats.fsyncs;
    journal.append(record(1));
    const waits = [journal.durable(), journal.durable(), journal.durable()];
    journal.append(record(2));
    waits.push(journal.durable());
    await Promise.all(waits);
    const used = journal.stats.fsyncs - before;
    assert.ok(used >= 1 && used <= 2, `fsyncs used: ${used}`);
    // Nothing new written: resolves without another sync.
    await journal.durable();
    assert.equal(journal.stats.fsyncs - before, used);
    await journal.close();
  });

  it('in batch mode syncs on its own timer', async () => {
    const journal = Journal.open({ dir, fsync: 'batch', fsyncIntervalMs: 5 });
    journal.append(record(1));
    const deadline = Date.now() + 5000;
    while (journal.stats.fsyncs === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.ok(journal.stats.fsyncs >= 1);
    await journal.close();
  });
});

describe('journal: frames', () => {
  it('keeps the payload uncopied in an accept frame, with the CRC of the whole body as readSegment checks it', () => {
    const r = record(7, 300_000);
    const frame = acceptFrame(7, r);
    assert.equal(frame[1], r.body, 'the payload is the very buffer given');
    const bytes = Buffer.concat(frame);
    const parsed = readSegment(bytes);
    assert.equal(parsed.damage, undefined);
    assert.equal(parsed.goodBytes, bytes.length);
    assert.equal(bytes.readUInt32LE(4), crc32(bytes.subarray(8)));
    const [accepted] = parsed.records;
    assert.ok(accepted?.type === 'accept' && accepted.seq === 7 && accepted.record.body.equals(r.body));
  });

  it('rotates segments of large payloads and recovers every live one, byte for byte', async () => {
    const journal = Journal.open({ dir, fsync: 'batch', segmentBytes: 1 << 20 });
    const entries = Array.from({ length: 12 }, (_, i) => journal.append(record(i, 250_000)));
    for (const e of entries.slice(0, 5)) journal.retire(e.seq);
    for (let i = 12; i < 20; i++) journal.append(record(i, 250_000));
    assert.ok(journal.stats.rotations >= 2, `rotations ${journal.stats.rotations}`);
    await journal.close();
    const reopened = Journal.open({ dir, fsync: 'batch', segmentBytes: 1 << 20 });
    const seen = reopened.recovered.map((e) => e.record.messageId);
    assert.deepEqual(seen, Array.from({ length: 15 }, (_, i) => `m${i + 5}`));
    for (const e of reopened.recovered) assert.ok(e.record.body.equals(record(Number(e.record.messageId!.slice(1)), 250_000).body));
    await reopened.close();
  });
});

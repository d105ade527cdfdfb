/**
 * The module's durable journal: every input delivery is appended here BEFORE the broker gets its PUBACK,
 * and retired once the hub has acknowledged every output produced for it. Entries not retired when the
 * process dies are replayed at the next start (at-least-once; a replay may duplicate a prediction).
 *
 * Files: `segment-<n>.log` in one directory, append-only frames
 *   u32 LE body length | u32 LE CRC-32 of the body | body
 *   body = 0x41 'A' | f64 seq | u32 header length | header JSON | payload     (an accepted input)
 *        = 0x52 'R' | u32 count | count × f64 seq                            (retired inputs)
 * A torn or corrupt frame at the end of the newest segment (a crash mid-write) is cut off at open.
 * Size is bounded by rotation: when the active segment passes `segmentBytes`, the live entries are copied
 * into a fresh segment, which is fsynced before the older segments are deleted. The next rotation waits
 * until at least as many bytes as were carried over (and `segmentBytes`) have been appended, so when the
 * live entries alone exceed `segmentBytes` (a window of large photos) a rotation is not repeated at every
 * append: each byte is rewritten at most about once, and the files hold at most ~2x the larger of the
 * live bytes and `segmentBytes`, plus the segments awaiting deletion.
 *
 * Durability: `append` returns after write(2), i.e. the bytes are in the kernel and survive the death of
 * the process (kill -9, OOM kill, crash). Surviving a power cut or kernel panic needs fdatasync:
 * `durable()` resolves after one covering every append made before the call ("group commit"), and in
 * "batch" mode a timer issues one every `fsyncIntervalMs` anyway.
 *
 * Longer than 300 lines on purpose: the append path, group commit, rotation with compaction and recovery
 * at open all share the Journal's segment and live-entry state; the frame format is in journal-format.ts.
 */
import { close as closeFs, closeSync, fdatasync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writevSync } from 'node:fs';
import { open as openAsync, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { acceptFrame, frameBytes, readSegment, retireFrame, type Frame } from './journal-format.js';
import type { InputRecord } from './input-record.js';

export type FsyncMode = 'always' | 'batch';

export interface JournalOptions {
  dir: string;
  /** "always": callers wait for durable() before acknowledging; "batch": fdatasync every fsyncIntervalMs. */
  fsync?: FsyncMode;
  fsyncIntervalMs?: number;
  /** Rotate (and compact) once the active segment is larger than this (default 8 MiB; see `rotateAt`). */
  segmentBytes?: number;
  /** Told about recovered damage (torn tail, corrupt segment). */
  onWarning?: (message: string, details: Record<string, unknown>) => void;
}

export interface JournalEntry {
  seq: number;
  record: InputRecord;
  /** True for entries found at open (not retired by the previous process). */
  replayed: boolean;
}

export interface JournalStats {
  /** Entries appended and not yet retired. */
  live: number;
  /** Bytes of the live entries' frames. */
  liveBytes: number;
  /** Bytes in all segment files. */
  fileBytes: number;
  segments: number;
  appended: number;
  retired: number;
  fsyncs: number;
  rotations: number;
}

const SEGMENT = /^segment-(\d{12})\.log$/;

interface Segment {
  index: number;
  path: string;
  fd: number;
  bytes: number;
  /** Bytes copied in when the segment was created (the live entries of a rotation or of the open). */
  carried: number;
}

interface Live {
  entry: JournalEntry;
  frame: Frame;
}

export class Journal {
  readonly dir: string;
  readonly fsyncMode: FsyncMode;
  /** Entries the previous process left unretired, in append order. */
  readonly recovered: JournalEntry[];

  private readonly segmentBytes: number;
  private readonly warn: (message: string, details: Record<string, unknown>) => void;
  private readonly live = new Map<number, Live>();
  private active: Segment;
  private older: Segment[] = [];
  /** Segments replaced by a rotation, deleted once the new segment is on disk. */
  private deleting: Segment[] = [];
  private nextSeq: number;
  private liveBytes = 0;
  private pendingRetires: number[] = [];
  private retireScheduled = false;
  /** Incremented by every write; `syncedGeneration` is the last value an fdatasync has covered. */
  private writeGeneration = 0;
  private syncedGeneration = 0;
  private syncWaiters: Array<{ generation: number; resolve: () => void; reject: (e: Error) => void }> = [];
  private syncQueued = false;
  /** Serialises fdatasync and segment deletion, so a file is never closed under a pending sync. */
  private io: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private counters = { appended: 0, retired: 0, fsyncs: 0, rotations: 0 };

  private constructor(options: JournalOptions, active: Segment, nextSeq: number, recovered: Live[]) {
    this.dir = options.dir;
    this.fsyncMode = options.fsync ?? 'batch';
    this.segmentBytes = options.segmentBytes ?? 8 * 1024 * 1024;
    this.warn = options.onWarning ?? (() => undefined);
    this.active = active;
    this.nextSeq = nextSeq;
    for (const item of recovered) {
      this.live.set(item.entry.seq, item);
      this.liveBytes += frameBytes(item.frame);
    }
    this.recovered = recovered.map((item) => item.entry);
    if (this.fsyncMode === 'batch') {
      this.timer = setInterval(() => {
        if (this.writeGeneration > this.syncedGeneration) this.queueSync();
      }, options.fsyncIntervalMs ?? 20);
      this.timer.unref();
    }
  }

  /**
   * Opens (or creates) the journal in `options.dir`: reads every segment, cuts a torn tail, and compacts
   * the unretired entries into a fresh segment (fsynced) before deleting the old ones.
   */
  static open(options: JournalOptions): Journal {
    mkdirSync(options.dir, { recursive: true });
    const warn = options.onWarning ?? (() => undefined);
    const names = readdirSync(options.dir).filter((n) => SEGMENT.test(n)).sort();
    const live = new Map<number, Live>();
    let maxSeq = 0;
    let lastIndex = 0;
    names.forEach((name, i) => {
      const path = join(options.dir, name);
      lastIndex = Number(SEGMENT.exec(name)![1]);
      const data = readFileSync(path);
      const { records, goodBytes, damage } = readSegment(data);
      if (damage) {
        const newest = i === names.length - 1;
        warn(newest ? 'journal: cut a torn record at the end of the newest segment (crash during a write)'
          : 'journal: a segment is damaged; entries after the damage are unreadable',
        { segment: name, offset: goodBytes, damage, lostBytes: data.length - goodBytes });
      }
      for (const record of records) {
        if (record.type === 'accept') {
          maxSeq = Math.max(maxSeq, record.seq);
          if (!live.has(record.seq)) {
            live.set(record.seq, { entry: { seq: record.seq, record: record.record, replayed: true }, frame: acceptFrame(record.seq, record.record) });
          }
        } else {
          for (const seq of record.seqs) {
            maxSeq = Math.max(maxSeq, seq);
            live.delete(seq);
          }
        }
      }
    });
    // The survivors go into a fresh segment (synced) before the old files are deleted: this also drops the torn tail.
    const recovered = [...live.values()].sort((a, b) => a.entry.seq - b.entry.seq);
    const active = Journal.createSegment(options.dir, lastIndex + 1, recovered.map((l) => l.frame));
    for (const name of names) unlinkSync(join(options.dir, name));
    syncDir(options.dir);
    return new Journal(options, active, maxSeq + 1, recovered);
  }

  /** Writes `frames` into a new segment and fdatasyncs it; the segment stays open for appends. */
  private static createSegment(dir: string, index: number, frames: Frame[]): Segment {
    const path = join(dir, `segment-${String(index).padStart(12, '0')}.log`);
    const fd = openSync(path, 'wx');
    const bytes = writeAll(fd, frames.flat());
    fdatasyncSync(fd);
    syncDir(dir);
    return { index, path, fd, bytes, carried: bytes };
  }

  /**
   * Appends an accepted input. When this returns, the entry survives the death of this process;
   * await `durable()` for it to survive a power cut as well.
   */
  append(record: InputRecord): JournalEntry {
    if (this.closed) throw new Error('journal is closed');
    const entry: JournalEntry = { seq: this.nextSeq++, record, replayed: false };
    const frame = acceptFrame(entry.seq, record);
    this.write(frame);
    this.live.set(entry.seq, { entry, frame });
    this.liveBytes += frameBytes(frame);
    this.counters.appended++;
    if (this.active.bytes > this.rotateAt()) this.rotate();
    return entry;
  }

  /** Marks an entry done (all its outputs acknowledged). Written on the next turn of the event loop, batched. */
  retire(seq: number): void {
    const item = this.live.get(seq);
    if (!item) return;
    this.live.delete(seq);
    this.liveBytes -= frameBytes(item.frame);
    this.counters.retired++;
    this.pendingRetires.push(seq);
    if (!this.retireScheduled) {
      this.retireScheduled = true;
      setImmediate(() => this.flushRetires());
    }
  }

  /** Resolves once everything appended before the call has been fdatasync'ed (one sync serves all waiters). */
  durable(): Promise<void> {
    const generation = this.writeGeneration;
    if (this.syncedGeneration >= generation) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.syncWaiters.push({ generation, resolve, reject });
      this.queueSync();
    });
  }

  /** Resolves once the fdatasyncs and rotations queued so far are done (old segments deleted). */
  async settled(): Promise<void> {
    await this.io;
  }

  has(seq: number): boolean {
    return this.live.has(seq);
  }

  get stats(): JournalStats {
    return {
      live: this.live.size,
      liveBytes: this.liveBytes,
      fileBytes: [...this.older, ...this.deleting].reduce((n, s) => n + s.bytes, this.active.bytes),
      segments: this.older.length + this.deleting.length + 1,
      ...this.counters,
    };
  }

  /** Flushes pending retirements, syncs and closes the files. Unretired entries stay for the next start. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flushRetires();
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.io;
    fdatasyncSync(this.active.fd);
    this.syncedGeneration = this.writeGeneration;
    for (const waiter of this.syncWaiters) waiter.resolve();
    this.syncWaiters = [];
    for (const segment of [...this.older, ...this.deleting, this.active]) if (segment.fd >= 0) closeSync(segment.fd);
    this.older = [];
    this.deleting = [];
  }

  private write(frame: Frame): void {
    this.active.bytes += writeAll(this.active.fd, frame);
    this.writeGeneration++;
  }

  private flushRetires(): void {
    this.retireScheduled = false;
    if (this.pendingRetires.length === 0 || this.closed) return;
    const seqs = this.pendingRetires;
    this.pendingRetires = [];
    this.write([retireFrame(seqs)]);
    if (this.active.bytes > this.rotateAt()) this.rotate();
  }

  private queueSync(): void {
    if (this.syncQueued || this.closed) return;
    this.syncQueued = true;
    this.io = this.io.then(async () => {
      this.syncQueued = false;
      if (this.closed) return;
      const generation = this.writeGeneration;
      const fd = this.active.fd;
      try {
        await new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
        this.counters.fsyncs++;
        this.syncedGeneration = Math.max(this.syncedGeneration, generation);
        const waiting = this.syncWaiters;
        this.syncWaiters = waiting.filter((w) => w.generation > this.syncedGeneration);
        for (const w of waiting) if (w.generation <= this.syncedGeneration) w.resolve();
      } catch (error) {
        const waiting = this.syncWaiters;
        this.syncWaiters = [];
        for (const w of waiting) w.reject(error as Error);
      }
      if (this.syncWaiters.length > 0) this.queueSync();
    });
  }

  /**
   * Size of the active segment past which the next append or retirement rotates: `segmentBytes`, or once
   * as many bytes as the segment was created with have been appended, whichever is later. Without the
   * second term, live entries larger than `segmentBytes` (64 photos of 250 KB in flight against 8 MiB)
   * made every append rotate, rewriting them all, and the module crawled (20 img/s, p99 25 s).
   */
  private rotateAt(): number {
    return Math.max(this.segmentBytes, 2 * this.active.carried);
  }

  /**
   * Starts a new segment holding a copy of every live entry; later appends go there. The old segments are
   * deleted only after the new one is on disk, so a crash at any point leaves at least one full copy.
   */
  private rotate(): void {
    const frames = [...this.live.values()].sort((a, b) => a.entry.seq - b.entry.seq).map((l) => l.frame);
    const index = this.active.index + 1;
    const path = join(this.dir, `segment-${String(index).padStart(12, '0')}.log`);
    const fd = openSync(path, 'wx');
    const bytes = writeAll(fd, frames.flat());
    // This rotation alone owns the segments it replaces; a failed deletion hands them back to `older`.
    const obsolete = [...this.older, this.active];
    this.older = [];
    this.deleting.push(...obsolete);
    this.active = { index, path, fd, bytes, carried: bytes };
    this.writeGeneration++;
    this.counters.rotations++;
    this.io = this.io.then(async () => {
      const remaining = [...obsolete];
      // Off the event loop: deleting a segment of several MB and syncing the directory took ~20% of
      // the module's main thread under a load of 250 KB photos when done synchronously.
      try {
        await new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
        await syncDirAsync(this.dir);
        while (remaining.length > 0) {
          const segment = remaining[0]!;
          if (segment.fd >= 0) await closeFd(segment.fd);
          segment.fd = -1;
          await unlink(segment.path);
          remaining.shift();
        }
        await syncDirAsync(this.dir);
      } catch (error) {
        // The old segments still hold every entry; the next rotation tries to delete them again.
        this.older.unshift(...remaining);
        this.warn('journal: could not finish a rotation', { error: (error as Error).message });
      } finally {
        this.deleting = this.deleting.filter((s) => !obsolete.includes(s));
      }
    });
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function syncDirAsync(dir: string): Promise<void> {
  const handle = await openAsync(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => closeFs(fd, (e) => (e ? reject(e) : resolve())));
}

/** Writes the buffers one after the other (gathered, not concatenated: no copy of a payload); returns the bytes written. */
function writeAll(fd: number, buffers: Buffer[]): number {
  const total = buffers.reduce((n, b) => n + b.length, 0);
  let pending = buffers.filter((b) => b.length > 0);
  while (pending.length > 0) {
    // libuv writes every buffer it is given and retries short writes; a short count is handled anyway.
    let written = writevSync(fd, pending);
    let i = 0;
    while (i < pending.length && written >= pending[i]!.length) written -= pending[i++]!.length;
    pending = pending.slice(i);
    if (written > 0) pending[0] = pending[0]!.subarray(written);
  }
  return total;
}

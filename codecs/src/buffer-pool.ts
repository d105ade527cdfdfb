/**
 * Reused buffers for photo-sized bytes that live a few tens of milliseconds: the scoring service's
 * request bodies (scoring-service/src/body-buffers.ts) and the edge module's input payloads
 * (edge-module/src/intake.ts, given back once the journal entry is retired). A fresh ~250-400 KB
 * Buffer per photo is off-heap memory V8 frees only at a collection: past ~64 MB of it since the last
 * full one, V8 starts another, and photo loads ran dozens of them (bench/README.md). Whoever takes a
 * buffer must give it back only once nothing can read it any more; one never given back is simply
 * left to the collector.
 */
/** Largest reused buffer by default: a 1920-px JPEG's JSON body is ~0.4 MB; a 12-MP photo's (~5 MB) is read the usual way. */
export const POOLED_BUFFER_BYTES = 1 << 20;
/** Nothing smaller is pooled (a 28x28 PNG's body is ~1 KB: a fresh Buffer costs nothing there). */
export const MIN_POOLED_BYTES = 64 << 10;

/**
 * Reused buffers in power-of-two sizes from MIN_POOLED_BYTES to `largest`: bytes take the smallest
 * that holds them, so a buffer never holds more than twice what it carries (Fastify's chunks and
 * their copy held twice too), and a crowd of small uploads cannot each pin a large buffer. Idle
 * buffers are kept up to `keepBytes` in all; more in use at once are allocated and left to the collector.
 */
export interface BufferPoolOptions {
  /** Largest size pooled (default POOLED_BUFFER_BYTES); larger bytes are not pooled. */
  largest?: number;
  /** Idle buffers kept for the next users, in bytes in all (default 16 MiB). */
  keepBytes?: number;
  /**
   * Buffers over SharedArrayBuffers: a worker thread is handed a view of one without a copy
   * (postMessage shares the memory instead of cloning it). The service's decoded photos and the edge
   * module's payloads reach the preprocessing threads this way; whoever gives a buffer back must know
   * the thread is done with it. Default false.
   */
  shared?: boolean;
}

export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private idleBytes = 0;
  /** Buffers currently lent out (for tests). */
  lent = 0;
  readonly largest: number;
  readonly shared: boolean;
  private readonly keepBytes: number;

  constructor(options: BufferPoolOptions = {}) {
    this.largest = options.largest ?? POOLED_BUFFER_BYTES;
    this.keepBytes = options.keepBytes ?? 16 << 20;
    this.shared = options.shared ?? false;
  }

  /** A buffer of at least `bytes` (MIN_POOLED_BYTES..largest), or undefined when such bytes are not pooled. */
  take(bytes: number): Buffer | undefined {
    if (!(bytes >= MIN_POOLED_BYTES && bytes <= this.largest)) return undefined;
    const size = Math.max(MIN_POOLED_BYTES, 2 ** Math.ceil(Math.log2(bytes)));
    this.lent++;
    const reused = this.free.get(size)?.pop();
    if (reused) this.idleBytes -= size;
    return reused ?? (this.shared ? Buffer.from(new SharedArrayBuffer(size)) : Buffer.allocUnsafeSlow(size));
  }

  give(buffer: Buffer): void {
    this.lent--;
    if (this.idleBytes + buffer.length > this.keepBytes) return;
    const list = this.free.get(buffer.length) ?? [];
    list.push(buffer);
    this.free.set(buffer.length, list);
    this.idleBytes += buffer.length;
  }

  /** Bytes of idle buffers kept for the next users. */
  get idle(): number {
    return this.idleBytes;
  }
}

/**
 * Image preprocessing spread over worker threads, so that decoding and resizing photos neither
 * serialise on one thread nor stall the event loop that answers HTTP requests and MQTT messages.
 *
 * The threads take photos from one queue, in the order they came, without the calling thread
 * handing each one out. A photo in shared memory (the service's and the edge module's pooled
 * buffers) is announced to every thread; the first thread free claims it with a compare-and-swap
 * on a shared state word, and the others skip it. The calling thread is often busy (onnxruntime
 * runs a batch synchronously there, HTTP and MQTT are read there), so a pool that waits for it to
 * hand out the next photo leaves threads idle, and one that hands each thread several photos ahead
 * (piscina's per-thread assignment, used here before) lets a photo wait behind a slow one on its
 * thread while the other thread overtakes it: 40% of 1920-px photos were overtaken, by 6 ms in the
 * median and 16 ms at p90 (bench/README.md). A photo that is not in shared memory would be copied to
 * every thread, so it goes to one thread only (moved when handed over, `transfer`).
 *
 * A thread that dies fails the photo it was decoding (InferenceFailedError), and the unshared ones sent
 * to it alone; the shared photos it had not claimed are done by the others, and a new thread takes its
 * place. Announcing a photo costs the calling thread one postMessage per thread (a view of shared
 * memory, nothing copied).
 *
 * Small images stay on the calling thread: a 28x28 PNG costs ~30 µs in place against ~100 µs for
 * the round trip to a worker, and its decoding is not what loads a core.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { checkEncoded, jpegSize, pngSize, type ImageLimits } from './decode.js';
import { InferenceFailedError, inferenceErrorFrom, isInferenceErrorCode } from './errors.js';
import { ImagePreprocessor, SMALL_IMAGE_RATIO } from './image.js';
import { inputGeometry } from './model-card.js';
import type { ModelDescription } from './model-description.js';

export interface PreprocessPoolOptions {
  /**
   * Worker threads (at most 127); 0 preprocesses every image on the calling thread. Default: availableParallelism(),
   * which on Node 24 (libuv 1.49+) is the smaller of the affinity mask and a container's CPU quota.
   */
  threads?: number;
  /** Fast paths off: every image decoded at full size (Pillow-identical pixels). Default false. */
  exact?: boolean;
  /** Apply the EXIF orientation before preprocessing (image.ts). Default true. */
  exifOrientation?: boolean;
  /** The reduced decode's gap (ClassifierOptions.reducingGap). Default REDUCE_TO_MULTIPLE. */
  reducingGap?: number;
  /**
   * Images of at most this many times the model's pixels (from the header) are preprocessed on the
   * calling thread. Default 16 (112x112 for a 28x28 model).
   */
  inlineMaxPixelsRatio?: number;
}

/**
 * The largest image (from its PNG or JPEG header) decoded on the calling thread when the caller says it
 * is idle: a 1920x1080 frame, ~3-5 ms of one core by default (~10 ms in exact mode). Larger photos go to
 * the threads even then, so that a request arriving meanwhile is not held behind a 12 MP decode.
 */
export const IDLE_INLINE_MAX_PIXELS = 1920 * 1080;

/** What a worker thread is started with (preprocess-worker.ts). */
export interface PreprocessWorkerData {
  description: ModelDescription;
  limits: ImageLimits;
  exact: boolean;
  exifOrientation: boolean;
  /** undefined: REDUCE_TO_MULTIPLE. */
  reducingGap: number | undefined;
  /** The claim words (Int32Array over it), one per slot: see slotState(). */
  states: SharedArrayBuffer;
  /** This thread's owner code in a claim word, 1..MAX_PREPROCESS_THREADS. */
  code: number;
}

/** An image announced to a thread: it may preprocess it once it has claimed `slot` for `seq`. */
export interface PreprocessTask {
  seq: number;
  slot: number;
  bytes: Uint8Array;
}

/** A thread's messages: loaded once, then one answer per image it claimed. */
export type WorkerMessage =
  | { kind: 'loaded' }
  | ({ kind: 'done'; seq: number } & ({ ok: true; tensor: Float32Array } | { ok: false; code: string; message: string }));

/** Slots of the claim ring: images announced and not answered at once, beyond which they wait in order. */
export const SLOTS = 4096;
const OWNER_BITS = 7;
const SEQ_MASK = (1 << 24) - 1;
/** Owner codes are 7 bits, 0 meaning "not claimed". */
export const MAX_PREPROCESS_THREADS = (1 << OWNER_BITS) - 1;

/**
 * A claim word: the image's sequence number (24 bits: a slot is reused only once its last image
 * is answered, so 16 M apart never meet) and its owner (0 until a thread claims it).
 */
export function slotState(seq: number, owner: number): number {
  return ((seq & SEQ_MASK) << OWNER_BITS) | owner;
}

function workerFile(): URL {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './preprocess-worker-tsx.mjs' : './preprocess-worker.js', here);
}

interface Task {
  bytes: Uint8Array;
  transfer: boolean;
  resolve: (tensor: Float32Array) => void;
  reject: (error: unknown) => void;
  /** Index of the one thread a non-shared image was sent to. */
  pinned?: number;
}

interface Thread {
  worker: Worker;
  /** Counts towards the pool's readiness (a replacement counts at once: images sent meanwhile wait in its queue). */
  loaded: boolean;
  /** Settles once the thread has loaded (its addons are in) or has exited: close() stops it only then. */
  started: Promise<void>;
  /** Non-shared images sent to this thread and not answered. */
  pinned: number;
}

export class PreprocessPool {
  readonly threads: number;
  private readonly local: ImagePreprocessor;
  private readonly inlineMaxPixels: number;
  private readonly workerData: Omit<PreprocessWorkerData, 'code'> | undefined;
  private readonly states: Int32Array<SharedArrayBuffer>;
  private readonly pool: Thread[] = [];
  /** Images announced to the threads, by sequence number. */
  private readonly tasks = new Map<number, Task>();
  /** Images waiting for their slot to free (more than SLOTS in flight), in order. */
  private readonly backlog: Task[] = [];
  private nextSeq = 0;
  private closing = false;
  private referenced = false;
  private readonly allLoaded: Promise<void> = Promise.resolve();
  private loadedOrFailed: { resolve: () => void; reject: (error: Error) => void } | undefined;

  constructor(description: ModelDescription, private readonly limits: ImageLimits, options: PreprocessPoolOptions = {}) {
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 0) throw new RangeError(`preprocess threads must be a non-negative integer (got ${threads})`);
    // Owner codes are 7 bits; more decoding threads than that would wait on the calling thread anyway.
    this.threads = Math.min(threads, MAX_PREPROCESS_THREADS);
    const exact = options.exact ?? false;
    const exifOrientation = options.exifOrientation ?? true;
    const reducingGap = options.reducingGap;
    if (reducingGap !== undefined && !(reducingGap >= 1)) throw new RangeError(`reducingGap must be a number of at least 1 (got ${reducingGap})`);
    this.local = new ImagePreprocessor(description, limits, { exact, exifOrientation, reducingGap });
    const geometry = inputGeometry(description);
    this.inlineMaxPixels = (options.inlineMaxPixelsRatio ?? SMALL_IMAGE_RATIO) * geometry.width * geometry.height;
    this.states = new Int32Array(new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT));
    if (this.threads > 0) {
      this.workerData = { description, limits, exact, exifOrientation, reducingGap, states: this.states.buffer };
      this.allLoaded = new Promise((resolve, reject) => (this.loadedOrFailed = { resolve, reject }));
      // Only ready() reports a start-up failure; nobody may be waiting on it yet.
      this.allLoaded.catch(() => undefined);
      for (let index = 0; index < this.threads; index++) this.pool.push(this.start(index));
    }
  }

  /** Images handed to the worker threads and not yet back (the batcher waits for them; batcher.ts). */
  get inFlight(): number {
    return this.tasks.size + this.backlog.length;
  }

  /** Resolves once every worker thread has loaded, so the first images do not pay for start-up. */
  ready(): Promise<void> {
    return this.allLoaded;
  }

  /**
   * Preprocesses one encoded image into the model's input (in its layout); throws the core's typed
   * errors. An image in shared memory is read in place by whichever thread is free first. Any other
   * goes to one thread: with `transfer`, an image that alone views its whole ArrayBuffer is moved
   * there (the caller's view is detached) instead of copied (ClassifyOptions.transfer).
   */
  async preprocess(bytes: Uint8Array, transfer = false, idle = false): Promise<Float32Array> {
    const format = checkEncoded(bytes, this.limits);
    // `idle` (the caller's word: nothing else admitted, one request at a time): with no image in the
    // threads' hands either, a photo of up to IDLE_INLINE_MAX_PIXELS is decoded here, without the two
    // thread hops (~0.5 ms of a lone 224-px photo's ~3); nothing waits behind it on this thread.
    if (this.pool.length === 0 || this.isSmall(bytes, format, this.inlineMaxPixels) || (idle && this.inFlight === 0 && this.isSmall(bytes, format, IDLE_INLINE_MAX_PIXELS))) {
      return this.local.preprocess(bytes);
    }
    if (this.closing) throw new InferenceFailedError('image preprocessing failed: the pool is closed');
    return new Promise<Float32Array>((resolve, reject) => {
      const task: Task = { bytes, transfer, resolve, reject };
      if (this.backlog.length > 0 || !this.announce(task)) this.backlog.push(task);
      this.reference();
    });
  }

  /** Stops the worker threads; images in flight fail with InferenceFailedError. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const stopped = new InferenceFailedError('image preprocessing failed: the pool was closed');
    for (const task of [...this.tasks.values(), ...this.backlog]) task.reject(stopped);
    this.tasks.clear();
    this.backlog.length = 0;
    this.loadedOrFailed?.reject(stopped);
    // A thread still loading (at start-up, or a replacement) is stopped once it has loaded: Node aborts
    // the process when a worker is terminated inside a native addon's initialisation.
    await Promise.all(this.pool.map(({ worker, started }) => started.then(() => worker.terminate())));
  }

  /** Images no thread has claimed yet (announced or waiting for a slot). */
  get waiting(): number {
    let waiting = this.backlog.length;
    for (const seq of this.tasks.keys()) if (this.claimWord(seq) === slotState(seq, 0)) waiting++;
    return waiting;
  }

  /** The pool's worker threads (for tests that must stop one). */
  get workers(): readonly Worker[] {
    return this.pool.map(({ worker }) => worker);
  }

  /** Gives `task` the next sequence number and announces it; false when its slot is still taken. */
  private announce(task: Task): boolean {
    const seq = this.nextSeq;
    if (this.tasks.has(seq - SLOTS)) return false;
    this.nextSeq++;
    Atomics.store(this.states, slotOf(seq), slotState(seq, 0));
    this.tasks.set(seq, task);
    const message = taskMessage(seq, task.bytes);
    if (task.bytes.buffer instanceof SharedArrayBuffer) {
      for (const { worker } of this.pool) worker.postMessage(message);
    } else {
      let index = 0;
      for (let i = 1; i < this.pool.length; i++) if (this.pool[i]!.pinned < this.pool[index]!.pinned) index = i;
      task.pinned = index;
      this.pool[index]!.pinned++;
      this.pool[index]!.worker.postMessage(message, task.transfer && ownsItsMemory(task.bytes) ? [task.bytes.buffer] : []);
    }
    return true;
  }

  private settle(seq: number, outcome: { tensor: Float32Array } | { error: unknown }): void {
    const task = this.tasks.get(seq);
    if (!task) return; // failed already (its thread died after answering)
    this.tasks.delete(seq);
    if (task.pinned !== undefined) this.pool[task.pinned]!.pinned--;
    if ('tensor' in outcome) task.resolve(outcome.tensor);
    else task.reject(outcome.error);
    while (this.backlog.length > 0 && this.announce(this.backlog[0]!)) this.backlog.shift();
    if (this.tasks.size === 0 && this.backlog.length === 0) this.unreference();
  }

  private start(index: number): Thread {
    const code = index + 1;
    const worker = new Worker(workerFile(), { workerData: { ...this.workerData!, code } satisfies PreprocessWorkerData, name: `preprocess-${code}` });
    let started!: () => void;
    const thread: Thread = { worker, loaded: false, started: new Promise((resolve) => (started = resolve)), pinned: 0 };
    if (!this.referenced) worker.unref();
    worker.on('message', (message: WorkerMessage) => {
      if (message.kind === 'loaded') {
        started();
        thread.loaded = true;
        if (this.pool.every((t) => t.loaded)) this.loadedOrFailed?.resolve();
        return;
      }
      if (message.ok) this.settle(message.seq, { tensor: message.tensor });
      else this.settle(message.seq, { error: inferenceErrorFrom(isInferenceErrorCode(message.code) ? message.code : 'inference_failed', message.message) });
    });
    let failure: Error | undefined;
    worker.on('error', (error) => (failure = error));
    worker.on('exit', () => {
      started();
      if (this.closing || this.pool[index] !== thread) return;
      if (!thread.loaded) {
        // One that cannot even load must fail start-up rather than be restarted for ever.
        const error = new InferenceFailedError(`image preprocessing threads failed to start: ${failure?.message ?? 'the thread exited'}`, { cause: failure });
        this.loadedOrFailed?.reject(error);
        void this.close();
        return;
      }
      // What it held fails: the images it claimed, and those only it was sent.
      const held = [...this.tasks].filter(([seq, task]) => task.pinned === index || this.claimWord(seq) === slotState(seq, code));
      for (const [, task] of held) task.pinned = undefined;
      // A new thread takes its place, told of every shared image no thread has claimed yet.
      const next = this.start(index);
      next.loaded = true; // the pool was ready already; images sent meanwhile wait in its queue
      this.pool[index] = next;
      for (const [seq, task] of this.tasks) {
        if (task.pinned === undefined && this.claimWord(seq) === slotState(seq, 0)) next.worker.postMessage(taskMessage(seq, task.bytes));
      }
      for (const [seq] of held) this.settle(seq, { error: new InferenceFailedError('image preprocessing failed: its worker thread stopped', { cause: failure }) });
    });
    return thread;
  }

  /** Threads keep the process alive only while they have images to do: an idle pool does not hold a CLI open. */
  private reference(): void {
    if (this.referenced) return;
    this.referenced = true;
    for (const { worker } of this.pool) worker.ref();
  }

  private unreference(): void {
    if (!this.referenced) return;
    this.referenced = false;
    for (const { worker } of this.pool) worker.unref();
  }

  /** The claim word of `seq`'s slot: slotState(seq, 0) until a thread claims it, slotState(seq, its code) after. */
  private claimWord(seq: number): number {
    return Atomics.load(this.states, slotOf(seq));
  }

  private isSmall(bytes: Uint8Array, format: string, maxPixels: number): boolean {
    const size = format === 'png' ? pngSize(bytes) : format === 'jpeg' ? jpegSize(bytes) : undefined;
    return size !== undefined && size.width * size.height <= maxPixels;
  }
}

function slotOf(seq: number): number {
  return seq & (SLOTS - 1);
}

function taskMessage(seq: number, bytes: Uint8Array): PreprocessTask {
  return { seq, slot: slotOf(seq), bytes };
}

/** Whether `view` is the only view of its whole ArrayBuffer, so that moving the buffer moves nothing else. */
export function ownsItsMemory<T extends ArrayBufferView>(view: T): view is T & { buffer: ArrayBuffer } {
  return view.buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
}

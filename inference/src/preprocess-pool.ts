/**
 * Image preprocessing spread over worker threads, so that decoding and resizing photos neither
 * serialise on one thread nor stall the event loop that answers HTTP requests and MQTT messages.
 *
 * piscina runs the pool: the Node.js project's own worker-pool library (maintained under the
 * nodejs/ organisation's members, used by Fastify's and Vitest's ecosystems), no runtime dependency
 * of its own. It keeps a fixed set of threads, queues tasks, and replaces a thread that dies, failing
 * only the tasks that thread held, which this class turns into InferenceFailedError.
 *
 * Small images stay on the calling thread: a 28x28 PNG costs ~30 µs in place against ~100 µs for
 * the round trip to a worker, and its decoding is not what loads a core.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { checkEncoded, jpegSize, pngSize, type ImageLimits } from './decode.js';
import { ImageTooLargeError, InferenceFailedError, InvalidImageError } from './errors.js';
import { ImagePreprocessor, SMALL_IMAGE_RATIO } from './image.js';
import { inputGeometry } from './model-card.js';
import type { ModelDescription } from './model-description.js';

export interface PreprocessPoolOptions {
  /**
   * Worker threads; 0 preprocesses every image on the calling thread. Default: availableParallelism(),
   * which on Node 24 (libuv 1.49+) is the smaller of the affinity mask and a container's CPU quota.
   */
  threads?: number;
  /** Fast paths off: every image decoded at full size (Pillow-identical pixels). Default false. */
  exact?: boolean;
  /** Apply the EXIF orientation before preprocessing (image.ts). Default true. */
  exifOrientation?: boolean;
  /**
   * Images of at most this many times the model's pixels (from the header) are preprocessed on the
   * calling thread. Default 16 (112x112 for a 28x28 model).
   */
  inlineMaxPixelsRatio?: number;
}

/** What a worker thread is started with (preprocess-worker.ts). */
export interface PreprocessWorkerData {
  description: ModelDescription;
  limits: ImageLimits;
  exact: boolean;
  exifOrientation: boolean;
}

export interface PreprocessTask {
  bytes: Uint8Array;
}

export type WorkerAnswer = { ok: true; tensor: Float32Array } | { ok: false; code: string; message: string };

function workerFile(): string {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('./preprocess-worker-tsx.mjs', here).href : new URL('./preprocess-worker.js', here).href;
}

/**
 * Tasks a pool thread holds: a thread that finishes a photo starts the next one it already holds
 * instead of waiting for the calling thread to hand it one, and the calling thread is often
 * busy (onnxruntime runs a batch synchronously there, ~4-8 ms under load, while a 1920-px
 * photo decodes in ~2.5 ms): two held tasks still left the threads idle during a run. Only
 * one task per thread decodes at a time, so the bound on decoded pixels in memory is the
 * thread count whatever this is. Measured on 1920-px photos, 16 connections, 2 cores
 * (2026-12-03, alternating loads beside two Pillow processes): the service 1.86-2.05x
 * against 1.58-1.88x with two (p99/mean 2.07-2.54 against 2.34-2.62; one task per thread
 * had been worse still), the edge module 307-314 against 287-302 img/s.
 */
export const TASKS_PER_THREAD = 4;

export class PreprocessPool {
  readonly threads: number;
  private readonly local: ImagePreprocessor;
  private readonly pool: Piscina<PreprocessTask, WorkerAnswer> | undefined;
  private readonly inlineMaxPixels: number;

  constructor(description: ModelDescription, private readonly limits: ImageLimits, options: PreprocessPoolOptions = {}) {
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 0) throw new RangeError(`preprocess threads must be a non-negative integer (got ${threads})`);
    this.threads = threads;
    const exact = options.exact ?? false;
    const exifOrientation = options.exifOrientation ?? true;
    this.local = new ImagePreprocessor(description, limits, { exact, exifOrientation });
    const geometry = inputGeometry(description);
    this.inlineMaxPixels = (options.inlineMaxPixelsRatio ?? SMALL_IMAGE_RATIO) * geometry.width * geometry.height;
    if (threads > 0) {
      const workerData: PreprocessWorkerData = { description, limits, exact, exifOrientation };
      this.pool = new Piscina<PreprocessTask, WorkerAnswer>({
        filename: workerFile(),
        name: 'default',
        minThreads: threads,
        maxThreads: threads,
        idleTimeout: Number.POSITIVE_INFINITY,
        concurrentTasksPerWorker: TASKS_PER_THREAD,
        // Tasks are async (libvips decodes on libuv's pool): let the worker's event loop run.
        atomics: 'async',
        workerData,
      });
      let loaded = 0;
      this.allLoaded = new Promise((resolve, reject) => {
        this.pool!.on('message', (message: { preprocessWorkerLoaded?: boolean }) => {
          if (message?.preprocessWorkerLoaded && ++loaded === threads) resolve();
        });
        // A worker that dies fails its tasks (handled in preprocess()) and the pool replaces it; one
        // that cannot even load must fail start-up rather than leave ready() pending for ever.
        this.pool!.on('error', (error: Error) => {
          if (loaded < threads) reject(new InferenceFailedError(`image preprocessing threads failed to start: ${error.message}`, { cause: error }));
        });
      });
      // Only ready() reports a start-up failure; nobody may be waiting on it yet.
      this.allLoaded.catch(() => undefined);
    }
  }

  private readonly allLoaded: Promise<void> = Promise.resolve();
  private sent = 0;

  /** Images handed to the worker threads and not yet back (the batcher waits for them; batcher.ts). */
  get inFlight(): number {
    return this.sent;
  }

  /** Resolves once every worker thread has loaded, so the first images do not pay for start-up. */
  ready(): Promise<void> {
    return this.allLoaded;
  }

  /**
   * Preprocesses one encoded image into the model's input (in its layout); throws the core's typed
   * errors. With `transfer`, an image that alone views its whole ArrayBuffer is moved to the worker
   * thread (the caller's view is detached) instead of copied (ClassifyOptions.transfer).
   */
  async preprocess(bytes: Uint8Array, transfer = false): Promise<Float32Array> {
    const format = checkEncoded(bytes, this.limits);
    if (!this.pool || this.isSmall(bytes, format)) return this.local.preprocess(bytes);
    let answer: WorkerAnswer;
    this.sent++;
    try {
      answer = await this.pool.run({ bytes }, transfer && ownsItsMemory(bytes) ? { transferList: [bytes.buffer] } : {});
    } catch (cause) {
      throw new InferenceFailedError('image preprocessing failed: its worker thread stopped', { cause });
    } finally {
      this.sent--;
    }
    if (answer.ok) return answer.tensor;
    if (answer.code === 'image_too_large') throw new ImageTooLargeError(answer.message);
    if (answer.code === 'invalid_image') throw new InvalidImageError(answer.message);
    throw new InferenceFailedError(answer.message);
  }

  /** Stops the worker threads; images in flight fail with InferenceFailedError. */
  async close(): Promise<void> {
    await this.pool?.destroy();
  }

  /** Images waiting for a free thread (in the pool's queue, not yet handed to a thread). */
  get waiting(): number {
    return this.pool?.queueSize ?? 0;
  }

  /** The pool's worker threads (for tests that must stop one). */
  get workers(): readonly Worker[] {
    return this.pool?.threads ?? [];
  }

  private isSmall(bytes: Uint8Array, format: string): boolean {
    const size = format === 'png' ? pngSize(bytes) : format === 'jpeg' ? jpegSize(bytes) : undefined;
    return size !== undefined && size.width * size.height <= this.inlineMaxPixels;
  }
}

/** Whether `bytes` is the only view of its whole ArrayBuffer, so that moving the buffer moves nothing else. */
export function ownsItsMemory(bytes: Uint8Array): bytes is Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
}

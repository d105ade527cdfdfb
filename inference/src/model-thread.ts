/**
 * The model's runs on a thread of their own, while everything else of the core (preprocessing small
 * images, batching, scoring) stays on the calling thread: the `modelThread` option of Classifier.load.
 *
 * onnxruntime-node runs a model synchronously on the thread that calls session.run, so in-process a
 * batch stops the event loop for its whole length. INFERENCE_WORKER (worker-classifier.ts) moves the
 * whole core into a worker, image bytes and preprocessing included; this moves only session.run: the
 * batch's tensor goes over (transferred, not copied) and the output comes back, so the calling thread
 * preprocesses and answers messages while the model runs, and the next batch forms meanwhile.
 *
 * The thread opens its own session on the same model file and checks its sha256 against the one the
 * calling thread verified. If the thread dies, the runs in flight fail and the next run starts a new one.
 */
import type { Worker } from 'node:worker_threads';
import { startCoreWorker } from './core-worker.js';
import type * as ort from 'onnxruntime-node';

/** A tensor as it crosses the thread boundary. */
export interface WireTensor {
  type: ort.Tensor.Type;
  data: ort.Tensor.DataType;
  dims: readonly number[];
}

export interface ModelThreadData {
  modelPath: string;
  sha256: string;
  sessionOptions: ort.InferenceSession.SessionOptions;
}

export type ToModelThread = { type: 'run'; id: number; feeds: Record<string, WireTensor> };

export type FromModelThread =
  | { type: 'ready' }
  | { type: 'load-error'; message: string }
  | { type: 'result'; id: number; outputs: Record<string, WireTensor> }
  | { type: 'error'; id: number; message: string };

/** What Classifier needs of a session: ort.InferenceSession fits, and so does ModelThread. */
export interface ModelRunner {
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, Pick<ort.Tensor, 'type' | 'data' | 'dims'>>>;
  release(): Promise<void>;
}

interface Pending {
  resolve(outputs: Record<string, WireTensor>): void;
  reject(error: Error): void;
}

/** The buffer of a typed array that owns all of it, so it can be transferred; undefined if it is a view (it is copied then). */
function ownedBuffer(data: unknown): ArrayBuffer | undefined {
  if (!ArrayBuffer.isView(data)) return undefined;
  const { buffer } = data;
  return buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buffer.byteLength ? buffer : undefined;
}

export function transferList(tensors: Record<string, WireTensor>): ArrayBuffer[] {
  return Object.values(tensors).flatMap((t) => ownedBuffer(t.data) ?? []);
}

export class ModelThread implements ModelRunner {
  private worker: Promise<Worker> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  private constructor(private readonly data: ModelThreadData) {}

  /** Starts the thread and waits until its session is open (rejects with its load error). */
  static async start(data: ModelThreadData): Promise<ModelThread> {
    const thread = new ModelThread(data);
    await thread.started();
    return thread;
  }

  /**
   * Runs the model on the thread. The feeds' buffers are transferred when the tensors own them whole:
   * the caller must not use them afterwards (Classifier builds a fresh tensor for every run).
   */
  async run(feeds: Record<string, ort.Tensor>): Promise<Record<string, WireTensor>> {
    if (this.closed) throw new Error('the model thread is closed');
    const worker = await this.started();
    const id = this.nextId++;
    const wire: Record<string, WireTensor> = {};
    for (const [name, tensor] of Object.entries(feeds)) wire[name] = { type: tensor.type, data: tensor.data, dims: tensor.dims };
    return new Promise((resolve, reject) => {
      try {
        worker.postMessage({ type: 'run', id, feeds: wire } satisfies ToModelThread, transferList(wire));
      } catch (error) {
        reject(error as Error);
        return;
      }
      this.pending.set(id, { resolve, reject });
      worker.ref();
    });
  }

  async release(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = await this.worker?.catch(() => undefined);
    this.failAll(new Error('the model thread is closed'));
    await worker?.terminate();
  }

  /** The running thread, started (again, after a death) on demand. */
  private started(): Promise<Worker> {
    this.worker ??= this.spawn();
    return this.worker;
  }

  private spawn(): Promise<Worker> {
    const worker = startCoreWorker(import.meta.url, './model-thread-worker', this.data);
    // The thread keeps the process alive only while a run is in flight (receive() and failAll() unref it).
    worker.unref();
    const ready = new Promise<Worker>((resolve, reject) => {
      let loaded = false;
      worker.on('message', (message: FromModelThread) => {
        if (message.type === 'ready') {
          loaded = true;
          resolve(worker);
        } else if (message.type === 'load-error') reject(new Error(message.message));
        else this.receive(message);
      });
      worker.on('error', (error) => {
        if (!loaded) reject(error);
      });
      worker.once('exit', (code) => {
        if (!loaded) reject(new Error(`the model thread exited with code ${code} while loading`));
        // Runs in flight on a dead thread fail; the next run starts a new one.
        if (this.worker === ready) this.worker = undefined;
        this.failAll(new Error(`the model thread exited with code ${code}`));
      });
    });
    ready.catch(() => {
      if (this.worker === ready) this.worker = undefined;
    });
    return ready;
  }

  private receive(message: FromModelThread): void {
    if (message.type !== 'result' && message.type !== 'error') return;
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    if (message.type === 'result') pending.resolve(message.outputs);
    else pending.reject(new Error(message.message));
    if (this.pending.size === 0) void this.worker?.then((worker) => worker.unref(), () => undefined);
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

/**
 * The inference core hosted in a worker thread, behind the same calls as Classifier (a way of hosting
 * the core, so it sits beside it; the scoring service and the edge module choose it with INFERENCE_WORKER).
 *
 * onnxruntime-node runs a model synchronously on the calling thread, so in-process every batch stops
 * the event loop: no request is read or answered while the model runs. With the core in a worker,
 * the HTTP thread keeps working during a batch, and the requests that arrive meanwhile form the next
 * one. Batching, admission control, preprocessing and the model are the core's, unchanged.
 *
 * Opt-in (INFERENCE_WORKER=true): where the CPU is saturated either way it gains nothing over
 * in-process (bench/README.md has the figures), so the simpler in-process path is the default. It
 * matters where the HTTP thread must stay responsive during long batches, or where spare cores exist.
 */
import type { Worker } from 'node:worker_threads';
import { startCoreWorker } from './core-worker.js';
import type { Classifier, ClassifierObserver, ClassifierOptions, ClassifyOptions, ClassifyResult, Prediction } from './classifier.js';
import { inferenceErrorFrom, isInferenceErrorCode, ModelNotReadyError } from './errors.js';
import { ownsItsMemory } from './preprocess-pool.js';
import type { ModelDescription as ModelCard } from './model-description.js';

/** What a host of the core offers its adapters: Classifier in-process, WorkerClassifier in a thread. */
export type HostedClassifier = Pick<Classifier, 'card' | 'ready' | 'queueDepth' | 'classifyAll' | 'classifyTensor' | 'close'>;

/** An error as it crosses the thread boundary; the core's own come back as their classes (fromWire). */
export interface WireError {
  name: string;
  code: string | undefined;
  message: string;
  retryAfterSeconds: number | undefined;
}

export type ToWorker =
  | { type: 'classifyAll'; id: number; images: Uint8Array[]; topK: number | undefined }
  | { type: 'classifyTensor'; id: number; data: Float32Array; count: number; topK: number | undefined }
  | { type: 'close' };

type WireResult = { ok: true; prediction: Prediction } | { ok: false; error: WireError };

export type FromWorker =
  | { type: 'ready'; card: ModelCard }
  | { type: 'load-error'; error: WireError }
  | { type: 'results'; id: number; results: WireResult[] }
  | { type: 'predictions'; id: number; predictions: Prediction[] }
  | { type: 'failed'; id: number; error: WireError }
  | { type: 'batch'; size: number; ms: number }
  | { type: 'rejected'; reason: 'overloaded'; images: number }
  | { type: 'closed' };

/** The error on this side of the thread boundary: the core's class for a core code, else a plain Error of the same name. */
function fromWire(wire: WireError): Error {
  if (isInferenceErrorCode(wire.code)) {
    return inferenceErrorFrom(wire.code, wire.message, wire.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: wire.retryAfterSeconds });
  }
  const error = new Error(wire.message);
  error.name = wire.name;
  return error;
}

interface Pending {
  resolve(message: FromWorker): void;
  reject(error: Error): void;
  images: number;
}

export interface WorkerClassifierOptions extends ClassifierOptions {
  /**
   * Called if the worker thread dies while serving (not after close()). The classifier then answers
   * model_not_ready; a server should log and exit so that its supervisor restarts it.
   */
  onCrash?(error: Error): void;
}

export class WorkerClassifier implements HostedClassifier {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private inFlight = 0;
  private closing = false;
  private closed: Promise<void> | undefined;
  private markClosedByWorker: () => void = () => undefined;
  private readonly closedByWorker = new Promise<void>((resolve) => (this.markClosedByWorker = resolve));

  private constructor(
    private readonly worker: Worker,
    readonly card: ModelCard,
    private readonly observer: ClassifierObserver | undefined,
    onCrash: ((error: Error) => void) | undefined,
  ) {
    let crash: Error | undefined;
    worker.on('message', (message: FromWorker) => this.receive(message));
    worker.on('error', (err) => (crash = err));
    worker.on('exit', (code) => {
      const wasClosing = this.closing;
      this.closing = true;
      this.failAll(new Error('the inference worker exited'));
      if (!wasClosing) onCrash?.(crash ?? new Error(`the inference worker exited with code ${code}`));
    });
  }

  /**
   * Starts a worker thread and loads the core's Classifier in it with `options` (same meaning as
   * Classifier.load); rejects with the core's load error (e.g. a sha256 mismatch) if that fails.
   */
  static load(options: WorkerClassifierOptions): Promise<WorkerClassifier> {
    const { observer, onCrash, ...workerData } = options;
    const worker = startCoreWorker(import.meta.url, './worker-classifier-thread', workerData);
    return new Promise((resolve, reject) => {
      const onMessage = (message: FromWorker): void => {
        if (message.type === 'ready') {
          worker.off('message', onMessage);
          worker.off('error', onError);
          resolve(new WorkerClassifier(worker, message.card, observer, onCrash));
        } else if (message.type === 'load-error') {
          worker.off('error', onError);
          reject(fromWire(message.error));
        }
      };
      const onError = (err: Error): void => reject(err);
      worker.on('message', onMessage);
      worker.once('error', onError);
      worker.once('exit', (code) => reject(new Error(`the inference worker exited with code ${code} while loading`)));
    });
  }

  /** True from the end of load() until close() begins. */
  get ready(): boolean {
    return !this.closing;
  }

  /** Images sent to the worker and not yet answered. */
  get queueDepth(): number {
    return this.inFlight;
  }

  async classifyAll(images: Uint8Array[], options: ClassifyOptions = {}): Promise<ClassifyResult[]> {
    // Copied unless the caller hands the images over (ClassifyOptions.transfer): a caller's Buffer may
    // share memory with others (Node's pool), and only images that own theirs are moved.
    const transfer = options.transfer ? [...new Set(images.filter(ownsItsMemory).map((image) => image.buffer))] : [];
    const message = await this.call({ type: 'classifyAll', id: 0, images, topK: options.topK }, images.length, transfer);
    if (message.type !== 'results') throw new Error(`unexpected answer ${message.type}`);
    return message.results.map((r) => (r.ok ? r : { ok: false, error: fromWire(r.error) })) as ClassifyResult[];
  }

  async classifyTensor(data: Float32Array, count: number, options: ClassifyOptions = {}): Promise<Prediction[]> {
    const message = await this.call({ type: 'classifyTensor', id: 0, data, count, topK: options.topK }, count);
    if (message.type !== 'predictions') throw new Error(`unexpected answer ${message.type}`);
    return message.predictions;
  }

  /** Stops admitting work, lets the worker finish what it holds, then ends the thread. */
  close(): Promise<void> {
    this.closing = true;
    this.closed ??= new Promise<void>((resolve) => {
      this.worker.once('exit', () => resolve());
      this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    });
    // The thread's libraries may keep its event loop alive; once the core has closed, end it.
    this.closedByWorker.then(() => void this.worker.terminate());
    return this.closed;
  }

  private call(message: ToWorker & { id: number }, images: number, transfer: ArrayBuffer[] = []): Promise<FromWorker> {
    if (this.closing) {
      return Promise.reject(new ModelNotReadyError('the model is shutting down'));
    }
    const id = this.nextId++;
    message.id = id;
    this.inFlight += images;
    return new Promise<FromWorker>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, images });
      this.worker.postMessage(message, transfer);
    });
  }

  private receive(message: FromWorker): void {
    switch (message.type) {
      case 'batch':
        this.observer?.onBatch?.(message.size, message.ms);
        return;
      case 'rejected':
        this.observer?.onRejected?.(message.reason, message.images);
        return;
      case 'closed':
        this.markClosedByWorker();
        return;
      case 'results':
      case 'predictions':
      case 'failed': {
        const pending = this.pending.get(message.id);
        if (pending === undefined) return;
        this.pending.delete(message.id);
        this.inFlight -= pending.images;
        if (message.type === 'failed') pending.reject(fromWire(message.error));
        else pending.resolve(message);
        return;
      }
      default:
        return;
    }
  }

  private failAll(err: Error): void {
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      this.inFlight -= pending.images;
      pending.reject(err);
    }
  }
}

/**
 * The inference core's entry point: a Classifier opens a model folder (model-session.ts), preprocesses
 * images (inline, or in the PreprocessPool for large photos), admits them into a bounded queue, runs
 * them through onnxruntime in micro-batches (batcher.ts) and answers each image's prediction.
 *
 * Longer than 300 lines because the options and result types that every adapter reads are documented
 * here beside the one class whose admission, batching and answer paths share its state.
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Batcher } from './batcher.js';
import {
  InferenceError,
  InferenceFailedError,
  InvalidTensorError,
  ModelNotReadyError,
  OverloadedError,
} from './errors.js';
import { toFloat16Bits } from './float16.js';
import { inputGeometry, type InputGeometry } from './model-card.js';
import type { ModelDescription } from './model-description.js';
import { float16Scores, float16Tensor, openModel } from './model-session.js';
import { ModelThread, type ModelRunner } from './model-thread.js';
import { PreprocessPool } from './preprocess-pool.js';

export interface ClassifierOptions {
  /**
   * Folder holding the model: a card (card.json v1 or v2) and the model file it names, or a Hugging
   * Face or timm export (model.onnx + config.json [+ preprocessor_config.json]).
   */
  modelDir: string;
  /** The model's name; the folder's name (or the card's `name`) when absent. */
  modelName?: string;
  /** Most images in one model run. Default 32. */
  maxBatchSize?: number;
  /** How long an idle engine waits for a batch to fill, in ms, while requests overlap (batcher.ts: once a wait gathers nobody, lone requests run at once). Default 2. */
  maxBatchWaitMs?: number;
  /** Most images admitted and not yet answered; beyond it calls fail with OverloadedError. Default 512. */
  maxQueue?: number;
  /** Largest encoded image in bytes. Default 8 MiB. */
  maxImageBytes?: number;
  /** Largest width x height, checked from the header before decoding. Default 40 M. */
  maxImagePixels?: number;
  /** onnxruntime intra-op threads. Default: the machine's available parallelism. */
  intraOpThreads?: number;
  /**
   * Whether onnxruntime's intra-op threads spin (busy-wait) between parallel sections instead of
   * sleeping. Default true (onnxruntime's own default). Spinning shaves wake-up latency but burns CPU
   * while the process does other work (HTTP, decoding) — which a container's CPU limit counts.
   */
  intraOpSpinning?: boolean;
  /**
   * Worker threads that decode and resize images (small ones stay on the calling thread); 0 keeps
   * all preprocessing on the calling thread. Default: os.availableParallelism(), which on Node 24
   * (libuv 1.49+) honours a container's CPU quota as well as the affinity mask.
   */
  preprocessThreads?: number;
  /**
   * Exact mode: every image decoded at full size and resized by the card's filter, pixels identical
   * to Pillow's; no reduced decode of large images. Default false.
   */
  exactPreprocessing?: boolean;
  /**
   * How much of the reduction a large JPEG (or WebP, TIFF...) keeps for the model's own filter after
   * the decoder's shrink, as Pillow's `reducing_gap`: the decoded image keeps at least this many times
   * the output across the region the resize reads. Default REDUCE_TO_MULTIPLE (4). 2 is what Pillow's
   * thumbnail() and libvips' thumbnail keep: it lets a 224-px model decode a 1920x1080 frame at 1/2
   * (~1.5x less CPU), at a mean 0.25-0.45 grey level from the exact path instead of 0.0 (docs/models.md).
   * Ignored in exact mode.
   */
  reducingGap?: number;
  /**
   * Turn each image as its EXIF orientation tag says before preprocessing, as Pillow's
   * ImageOps.exif_transpose (and Hugging Face's load_image) do. Default true; false for models
   * trained on pixels as stored (plain Image.open, torchvision's decode_jpeg).
   */
  exifOrientation?: boolean;
  /**
   * Run the model on this many threads of their own (model-thread.ts), each with its own session and
   * its own batches, while preprocessing and batching stay on the calling thread, which goes on working
   * while batches run. Up to this many batches run at once; an image goes to the thread with the fewest
   * images. Default 0: the model runs on the calling thread. On a small machine, N threads with one
   * intra-op thread each do more per CPU-second than one session spread over N intra-op threads.
   * 'auto': one per CPU, at most 4, and at most as many copies of the model file as fit in
   * AUTO_MODEL_THREADS_BYTES (256 MiB: a 100 MB model gets 2 threads, a 330 MB ViT-B 1), at least 1.
   * With threads, intraOpThreads defaults to the CPUs divided among them (1 each when they match).
   */
  modelThreads?: number | 'auto';
  /** Hooks for metrics; called synchronously, must not throw. */
  observer?: ClassifierObserver;
}

export interface ClassifierObserver {
  /** After each model run: how many images it held and how long it took. */
  onBatch?(size: number, inferenceMs: number): void;
  /** When images are refused because the queue is full. */
  onRejected?(reason: 'overloaded', images: number): void;
}

export interface ClassifyOptions {
  /** How many of the most probable labels to return in `top`. Default 1, at most the number of labels. */
  topK?: number;
  /**
   * The caller hands the images over: an image that alone views its whole ArrayBuffer (a Buffer from
   * `Buffer.from(base64)`, a `readFile`, a message of its own) may be moved to a decoding thread, which
   * leaves the caller's view empty (detached), instead of being copied there. Images that share their
   * memory (slices of Node's Buffer pool or of a larger buffer) are copied as without it. Default false.
   * Why: copying a photo's bytes to the thread and leaving the original for the calling thread's
   * garbage collector cost the scoring service ~4% of its CPU per 1920-px photo (bench/README.md).
   */
  transfer?: boolean;
}

export interface Prediction {
  /** The most probable label (for a multi-label model: the highest-scoring one). */
  label: string;
  /** Multi-label models only: every label whose score reaches the threshold, highest first. */
  labels?: string[];
  /** Its index in the card's labels. */
  index: number;
  /** Its score after the activation (a probability). */
  confidence: number;
  /** The topK most probable labels, most probable first. */
  top: Array<{ label: string; probability: number }>;
  /** Every label's score after the activation, in label order. */
  probabilities: Float32Array;
}

export type ClassifyResult = { ok: true; prediction: Prediction } | { ok: false; error: InferenceError };

export const DEFAULTS = {
  maxBatchSize: 32,
  maxBatchWaitMs: 2,
  maxQueue: 512,
  maxImageBytes: 8 * 1024 * 1024,
  maxImagePixels: 40_000_000,
} as const;

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer (got ${value})`);
  return v;
}

/** The one inference core: a verified, warmed ONNX model behind a bounded micro-batching queue. */
export class Classifier {
  /** The description the model is served by (read from its folder and checked against the model). */
  readonly card: ModelDescription;
  readonly geometry: InputGeometry;
  readonly maxQueue: number;
  private readonly preprocessor: PreprocessPool;
  /** One per session: its batches, and the images submitted to it and not yet answered. */
  private readonly lanes: Array<{ session: ModelRunner; batcher: Batcher<Float32Array, Prediction>; pending: number }>;
  private admitted = 0;
  private closing = false;

  private constructor(
    card: ModelDescription,
    sessions: ModelRunner[],
    options: ClassifierOptions,
  ) {
    this.card = card;
    this.geometry = inputGeometry(card);
    this.maxQueue = positiveInt('maxQueue', options.maxQueue, DEFAULTS.maxQueue);
    this.preprocessor = new PreprocessPool(
      card,
      {
        maxImageBytes: positiveInt('maxImageBytes', options.maxImageBytes, DEFAULTS.maxImageBytes),
        maxImagePixels: positiveInt('maxImagePixels', options.maxImagePixels, DEFAULTS.maxImagePixels),
      },
      { ...(options.preprocessThreads === undefined ? {} : { threads: options.preprocessThreads }), exact: options.exactPreprocessing ?? false, exifOrientation: options.exifOrientation ?? true, reducingGap: options.reducingGap },
    );
    this.observer = options.observer;
    // A model exported with a fixed batch of 1 takes one image per run.
    const maxBatchSize = card.input.shape[0] === 1 ? 1 : positiveInt('maxBatchSize', options.maxBatchSize, DEFAULTS.maxBatchSize);
    const maxBatchWaitMs = Math.max(0, options.maxBatchWaitMs ?? DEFAULTS.maxBatchWaitMs);
    this.lanes = sessions.map((session) => ({
      session,
      pending: 0,
      batcher: new Batcher<Float32Array, Prediction>({
        maxBatchSize,
        maxBatchWaitMs,
        incoming: () => this.preprocessor.inFlight,
        run: (inputs) => this.run(session, inputs),
        onBatch: (size, ms) => this.observer?.onBatch?.(size, ms),
      }),
    }));
  }

  private readonly observer: ClassifierObserver | undefined;

  /**
   * Reads the folder (card or export), verifies the model file's sha256 against a card's (refusing to
   * start on a mismatch), creates the onnxruntime session, completes and checks the description
   * against the model (model-folder.ts), and warms the session up at batch 1 and at the largest batch.
   */
  static async load(options: ClassifierOptions): Promise<Classifier> {
    const cpus = availableParallelism();
    const threads = positiveInt('intraOpThreads', options.intraOpThreads, cpus);
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      executionProviders: ['cpu'],
      // Session config key "session.intra_op.allow_spinning" (onnxruntime_session_options_config_keys.h).
      ...(options.intraOpSpinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
    };
    const asked = options.modelThreads ?? 0;
    if (asked !== 'auto' && (!Number.isInteger(asked) || asked < 0)) throw new RangeError(`modelThreads must be a non-negative integer or 'auto' (got ${asked})`);
    const opened = await openModel(options.modelDir, sessionOptions, options.modelName);
    const { description } = opened;
    const modelPath = join(resolve(options.modelDir), description.file);
    const modelThreads = asked === 'auto' ? autoModelThreads(cpus, statSync(modelPath).size) : asked;
    let sessions: ModelRunner[] = [opened.session];
    if (modelThreads > 0) {
      // The model was verified and described here; each thread opens its own session on the same file,
      // with the CPUs divided among the threads unless intraOpThreads was given.
      const threadOptions = { ...sessionOptions, intraOpNumThreads: options.intraOpThreads ?? Math.max(1, Math.floor(cpus / modelThreads)) };
      const data = { modelPath, sha256: description.sha256, sessionOptions: threadOptions };
      const started = await Promise.allSettled(Array.from({ length: modelThreads }, () => ModelThread.start(data)));
      await opened.session.release();
      sessions = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const failed = started.find((r) => r.status === 'rejected');
      if (failed) {
        await Promise.all(sessions.map((session) => session.release()));
        throw new InferenceFailedError(`the model threads failed to start: ${(failed.reason as Error).message}`, { cause: failed.reason });
      }
    }
    let classifier: Classifier;
    try {
      classifier = new Classifier(description, sessions, options);
    } catch (error) {
      await Promise.all(sessions.map((session) => session.release()));
      throw error;
    }
    try {
      await classifier.warmUp();
    } catch (error) {
      await classifier.close();
      throw error;
    }
    return classifier;
  }

  /** True from the end of load() until close() begins. */
  get ready(): boolean {
    return !this.closing;
  }

  /**
   * Whether `count` images just admitted are alone: the only image admitted anywhere, while a lane's
   * model serves one request at a time (batcher.ts' oneAtATime). Such a photo may be decoded on this
   * thread (PreprocessPool.preprocess): a lone request then skips the pool's thread hops. Under load
   * neither holds, and the pool keeps both cores decoding.
   */
  private idle(count: number): boolean {
    return count === 1 && this.admitted === 1 && this.lanes.some((lane) => lane.batcher.oneAtATime);
  }

  /** Images admitted and not yet answered (being decoded, waiting, or in the running batch). */
  get queueDepth(): number {
    return this.admitted;
  }

  /** Classifies one encoded image (PNG, JPEG, GIF, WebP, AVIF, TIFF). */
  async classify(image: Uint8Array, options: ClassifyOptions = {}): Promise<Prediction> {
    const topK = this.topK(options);
    this.admit(1);
    try {
      const tensor = await this.preprocessor.preprocess(image, options.transfer ?? false, this.idle(1));
      return withTopK(await this.submit(tensor), topK, this.card.labels);
    } finally {
      this.admitted -= 1;
    }
  }

  /**
   * Classifies several encoded images, admitted together or not at all (OverloadedError), each
   * answered on its own: one bad image does not fail the others. Results are in input order.
   */
  async classifyAll(images: Uint8Array[], options: ClassifyOptions = {}): Promise<ClassifyResult[]> {
    const topK = this.topK(options);
    this.admit(images.length);
    const transfer = options.transfer ?? false;
    const idle = this.idle(images.length);
    return Promise.all(
      images.map(async (image): Promise<ClassifyResult> => {
        try {
          const tensor = await this.preprocessor.preprocess(image, transfer, idle);
          return { ok: true, prediction: withTopK(await this.submit(tensor), topK, this.card.labels) };
        } catch (error) {
          if (error instanceof InferenceError) return { ok: false, error };
          return { ok: false, error: new InferenceFailedError('inference failed', { cause: error }) };
        } finally {
          this.admitted -= 1;
        }
      }),
    );
  }

  /**
   * Classifies images already preprocessed to the model's input: `count` images in the model's
   * layout (NCHW or NHWC), `count * geometry.size` finite numbers (integers 0-255 for a uint8 input).
   */
  async classifyTensor(data: Float32Array, count: number, options: ClassifyOptions = {}): Promise<Prediction[]> {
    const topK = this.topK(options);
    const { size } = this.geometry;
    if (!Number.isInteger(count) || count < 1) throw new InvalidTensorError(`tensor must hold at least one image (got ${count})`);
    if (data.length !== count * size) {
      throw new InvalidTensorError(
        `tensor has ${data.length} values; ${count} image(s) of shape [${this.card.input.shape.slice(1).join(', ')}] need ${count * size}`,
      );
    }
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) throw new InvalidTensorError(`tensor value at index ${i} is not a finite number`);
    }
    if (this.card.input.dtype === 'uint8') {
      for (let i = 0; i < data.length; i++) {
        const v = data[i]!;
        if (!Number.isInteger(v) || v < 0 || v > 255) {
          throw new InvalidTensorError(`tensor value at index ${i} is ${v}; the model's input is uint8: expected an integer from 0 to 255`);
        }
      }
    }
    this.admit(count);
    try {
      const results = await Promise.all(
        Array.from({ length: count }, (_, i) => this.submit(data.slice(i * size, (i + 1) * size))),
      );
      return results.map((p) => withTopK(p, topK, this.card.labels));
    } finally {
      this.admitted -= count;
    }
  }

  /** Stops admitting work, lets queued work finish, then releases the session. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    while (this.admitted > 0) {
      await Promise.all(this.lanes.map((lane) => lane.batcher.drained()));
      if (this.admitted > 0) await new Promise((r) => setTimeout(r, 5));
    }
    await this.preprocessor.close();
    await Promise.all(this.lanes.map((lane) => lane.session.release()));
  }

  private topK(options: ClassifyOptions): number {
    const k = options.topK ?? 1;
    if (!Number.isInteger(k) || k < 1 || k > this.card.labels.length) {
      throw new RangeError(`topK must be an integer from 1 to ${this.card.labels.length} (got ${options.topK})`);
    }
    return k;
  }

  private admit(count: number): void {
    if (this.closing) throw new ModelNotReadyError('the model is shutting down');
    if (this.admitted + count > this.maxQueue) {
      this.observer?.onRejected?.('overloaded', count);
      throw new OverloadedError(
        `server is busy: ${this.admitted} image(s) queued, ${count} more would exceed the limit of ${this.maxQueue}; retry shortly`,
        1,
      );
    }
    this.admitted += count;
  }

  /** To the session with the fewest images submitted and not yet answered (the first one when idle). */
  private async submit(tensor: Float32Array): Promise<Prediction> {
    let lane = this.lanes[0]!;
    for (const other of this.lanes) if (other.pending < lane.pending) lane = other;
    lane.pending++;
    try {
      return await lane.batcher.submit(tensor);
    } finally {
      lane.pending--;
    }
  }

  private async run(session: ModelRunner, inputs: Float32Array[]): Promise<Prediction[]> {
    const { size } = this.geometry;
    const { input, output: out, labels } = this.card;
    const n = inputs.length;
    const data = new Float32Array(n * size);
    inputs.forEach((t, i) => data.set(t, i * size));
    let output: Pick<ort.Tensor, 'type' | 'data'>;
    try {
      const dims = [n, ...input.shape.slice(1)];
      const tensor =
        input.dtype === 'float32'
          ? new ort.Tensor('float32', data, dims)
          : input.dtype === 'float16'
            ? float16Tensor(toFloat16Bits(data), dims)
            : new ort.Tensor('uint8', Uint8Array.from(data), dims);
      const results = await session.run({ [input.name]: tensor });
      output = results[out.name]!;
    } catch (cause) {
      throw new InferenceFailedError('inference failed', { cause });
    }
    const scores = output.type === 'float16' ? float16Scores(output.data) : (output.data as Float32Array);
    const classes = labels.length;
    const multiLabel = out.task === 'multi-label';
    const predictions: Prediction[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const probabilities = scores.slice(i * classes, (i + 1) * classes);
      if (out.activation === 'softmax') softmaxInPlace(probabilities);
      else if (out.activation === 'sigmoid') sigmoidInPlace(probabilities);
      let best = 0;
      for (let c = 1; c < classes; c++) if (probabilities[c]! > probabilities[best]!) best = c;
      const label = labels[best]!;
      const confidence = probabilities[best]!;
      const prediction: Prediction = { label, index: best, confidence, top: [{ label, probability: confidence }], probabilities };
      if (multiLabel) {
        prediction.labels = Array.from(probabilities.keys())
          .filter((c) => probabilities[c]! >= out.threshold)
          .sort((a, b) => probabilities[b]! - probabilities[a]!)
          .map((c) => labels[c]!);
      }
      predictions[i] = prediction;
    }
    return predictions;
  }

  private async warmUp(): Promise<void> {
    await this.preprocessor.ready();
    const { size } = this.geometry;
    const max = Math.min(32, this.maxQueue);
    for (const { session } of this.lanes) {
      await this.run(session, [new Float32Array(size)]);
      await this.run(session, Array.from({ length: max }, () => new Float32Array(size)));
    }
  }
}

/** Model copies 'auto' keeps in memory at most (one per model thread): 256 MiB. */
export const AUTO_MODEL_THREADS_BYTES = 256 * 1024 * 1024;

/** modelThreads 'auto': one per CPU, at most 4, at most as many copies of the model as fit in AUTO_MODEL_THREADS_BYTES, at least 1. */
export function autoModelThreads(cpus: number, modelBytes: number): number {
  return Math.max(1, Math.min(cpus, 4, Math.floor(AUTO_MODEL_THREADS_BYTES / Math.max(1, modelBytes))));
}

function sigmoidInPlace(v: Float32Array): void {
  for (let i = 0; i < v.length; i++) v[i] = 1 / (1 + Math.exp(-v[i]!));
}

function softmaxInPlace(v: Float32Array): void {
  let max = -Infinity;
  for (const x of v) max = Math.max(max, x);
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] = Math.exp(v[i]! - max);
  for (let i = 0; i < v.length; i++) v[i]! /= sum;
}

function withTopK(p: Prediction, k: number, labels: string[]): Prediction {
  if (k === 1) return p;
  const order = Array.from(p.probabilities.keys()).sort((a, b) => p.probabilities[b]! - p.probabilities[a]!);
  return { ...p, top: order.slice(0, k).map((i) => ({ label: labels[i]!, probability: p.probabilities[i]! })) };
}

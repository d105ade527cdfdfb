/**
 * Micro-batching: requests from many callers are gathered into one model run.
 *
 * The engine runs one batch at a time (onnxruntime already spreads a run over the intra-op threads).
 * While a batch runs, new items wait; when it finishes, everything waiting (up to maxBatchSize) goes
 * in the next run — so batches grow with load. When the engine is idle, the first item waits at most
 * maxBatchWaitMs for company — while company comes. An idle wait that gathers nobody (the timer ends
 * with only the items that started it, and no image is on its way) marks the traffic as one request at a
 * time, and the next item that finds the model idle runs on the next turn of the event loop instead:
 * waiting for company that does not come only adds maxBatchWaitMs to every answer (one 224-px photo at
 * a time: ~4.8 ms in the service with the wait, ~2.3 ms without; bench/README.md). An item submitted
 * while a run is in progress shows requests overlapping again, and idle waits resume. Under load the
 * model is rarely idle with nothing on its way, so batches form as before.
 *
 * One exception to "never wait when busy": a run that ends while items are still on their way (photos
 * being decoded by the preprocessing pool, `incoming`) and fewer than maxBatchSize are waiting holds the
 * next run until the last of them arrives, the batch is full, or maxBatchWaitMs passes. Without it, 1920-px
 * photos (16 connections) ran in batches of 2.5 on average, and a model run of one or two images costs
 * 5-20% more CPU per image than one of four or more (tutorial CNN, 1.58 / 1.36 / 1.30 ms per image at
 * batch 1 / 2 / 4, one thread); with it, batches of 3.5 and ~2.5% less server CPU per photo
 * (bench/README.md). Small images are preprocessed in place, never `incoming`, so the 28x28 workload
 * is not held.
 */
export interface BatcherOptions<In, Out> {
  maxBatchSize: number;
  maxBatchWaitMs: number;
  /** Runs one batch; must return one result per input, in order. */
  run: (inputs: In[]) => Promise<Out[]>;
  /**
   * Items on their way to submit() (images being decoded by the preprocessing pool). When a run ends
   * with fewer than maxBatchSize items waiting and some are on their way, the next run waits for them
   * up to maxBatchWaitMs.
   */
  incoming?: () => number;
  /** Called after each run with its size and duration. */
  onBatch?: (size: number, ms: number) => void;
}

interface Pending<In, Out> {
  input: In;
  resolve: (out: Out) => void;
  reject: (error: unknown) => void;
}

export class Batcher<In, Out> {
  private queue: Pending<In, Out>[] = [];
  private running = false;
  private timer: { immediate: ReturnType<typeof setImmediate> } | { timeout: ReturnType<typeof setTimeout> } | undefined;
  private idleWaiters: (() => void)[] = [];
  /** The timer holds a batch for items on their way (ends early once none are). */
  private holding = false;
  /** The last idle wait gathered nobody, and no item has arrived during a run since: do not wait. */
  private alone = false;

  constructor(private readonly options: BatcherOptions<In, Out>) {}

  /** Items waiting for a run (not counting the batch in progress). */
  get waiting(): number {
    return this.queue.length;
  }

  /** True while idle waits are skipped: requests have been coming one at a time (see the header). */
  get oneAtATime(): boolean {
    return this.alone;
  }

  submit(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      if (this.running) this.alone = false; // requests overlap: an idle model may wait for company again
      this.queue.push({ input, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves when nothing is queued or running. */
  drained(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.running) return; // the run in progress picks the queue up when it ends
    if (this.queue.length >= this.options.maxBatchSize || (this.holding && (this.options.incoming?.() ?? 0) === 0)) {
      this.flush();
    } else if (!this.timer) {
      // Even with no wait, flush on the next turn of the event loop, so images submitted in the same
      // turn (one multi-image request) share a run instead of the first one going alone.
      const onTheirWay = this.options.incoming?.() ?? 0;
      if (this.options.maxBatchWaitMs <= 0 || (this.alone && onTheirWay === 0)) {
        this.timer = { immediate: setImmediate(() => this.flush()) };
      } else {
        const waitingAtStart = this.queue.length;
        this.timer = {
          timeout: setTimeout(() => {
            // Nobody joined and nobody is on the way: requests come one at a time; stop waiting for company.
            if (this.queue.length <= waitingAtStart && (this.options.incoming?.() ?? 0) === 0) this.alone = true;
            this.flush();
          }, this.options.maxBatchWaitMs),
        };
      }
    }
  }

  private flush(): void {
    if (this.timer) {
      if ('immediate' in this.timer) clearImmediate(this.timer.immediate);
      else clearTimeout(this.timer.timeout);
      this.timer = undefined;
    }
    this.holding = false;
    if (this.running || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.options.maxBatchSize);
    this.running = true;
    const started = performance.now();
    this.options
      .run(batch.map((p) => p.input))
      .then(
        (outputs) => {
          this.options.onBatch?.(batch.length, performance.now() - started);
          batch.forEach((p, i) => p.resolve(outputs[i]!));
        },
        (error: unknown) => batch.forEach((p) => p.reject(error)),
      )
      .finally(() => {
        this.running = false;
        if (this.queue.length === 0) this.idleWaiters.splice(0).forEach((w) => w());
        else if (this.queue.length < this.options.maxBatchSize && this.options.maxBatchWaitMs > 0 && (this.options.incoming?.() ?? 0) > 0) {
          this.holding = true;
          this.timer = { timeout: setTimeout(() => this.flush(), this.options.maxBatchWaitMs) };
        } else this.flush();
      });
  }
}

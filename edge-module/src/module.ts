/**
 * The edge module's wiring: IoT Edge input messages → the inference core → output messages, the module
 * twin → live settings and reported state, direct methods → the same answers as HTTP. The module client,
 * the classifier and the journal are injected, so tests can drive this without a process or a broker.
 *
 * Delivery guarantee (at-least-once): an input is appended to the journal before edgeHub gets its PUBACK
 * (see mqtt-transport.ts), and retired only once edgeHub has acknowledged every output made from it.
 * Inputs still in the journal at start-up are processed again; their outputs may therefore be sent twice.
 */
import { setTimeout as wait } from 'node:timers/promises';
import iotCommon from 'azure-iot-common';
import type { Message } from 'azure-iot-common';
import type { DeviceMethodRequest, DeviceMethodResponse } from 'azure-iot-device';
import type { Classifier } from '@model-deploy/inference';
import type { Journal, JournalEntry } from './journal.js';
import { recordFromDelivery, recordFromMessage, type InputRecord } from './input-record.js';
import { decodeImagesInput, errorBody, isTransient, predictionBody, problemOf, type InputProblem, type PredictionContext } from './messages.js';
import { DEFAULT_SETTINGS, settingsFromDesired, type ModuleSettings } from './settings.js';

const { Message: IotMessage } = iotCommon;

export const INPUT_IMAGES = 'images';
export const OUTPUT_PREDICTIONS = 'predictions';
export const OUTPUT_ERRORS = 'errors';

/** What the module needs of the inference core's Classifier. */
export type EdgeClassifier = Pick<Classifier, 'card' | 'ready' | 'classifyAll' | 'queueDepth'>;

/** The part of the module twin the module uses (azure-iot-device's Twin fits). */
export interface TwinLike {
  properties: {
    desired: Record<string, unknown>;
    reported: { update(patch: Record<string, unknown>, done: (error?: Error) => void): void };
  };
  on(event: 'properties.desired', listener: (patch: Record<string, unknown>) => void): unknown;
}

/** The part of the SDK's ModuleClient the module uses (azure-iot-device's ModuleClient fits). */
export interface ModuleClientLike {
  on(event: 'inputMessage', listener: (inputName: string, message: Message) => void): unknown;
  on(event: 'error' | 'disconnect', listener: (error?: Error) => void): unknown;
  on(event: 'connect', listener: () => void): unknown;
  open(): Promise<unknown>;
  close(): Promise<unknown>;
  sendOutputEvent(outputName: string, message: Message): Promise<unknown>;
  getTwin(): Promise<TwinLike>;
  onMethod(methodName: string, callback: (request: DeviceMethodRequest, response: DeviceMethodResponse) => void): void;
}

/** pino-shaped logger (Fastify's `app.log` fits); `level` is changed by the twin's logLevel. */
export interface ModuleLogger {
  level: string;
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** Answers the `score` direct method exactly as `POST /score` would (status + JSON body). */
export type ScoreHandler = (payload: unknown, topK: number) => Promise<{ status: number; body: unknown }>;

export interface EdgeModuleOptions {
  client: ModuleClientLike;
  classifier: EdgeClassifier;
  journal: Journal;
  log: ModuleLogger;
  /** The `score` method; without it the method answers 501. */
  score?: ScoreHandler;
  /** Extra fields for getStatus and the reported properties (e.g. the HTTP address). */
  describe?: () => Record<string, unknown>;
  /** Images handed to the classifier at once (default 128). */
  maxImagesInFlight?: number;
  /** Above this many inputs waiting for the classifier, acknowledgements of new deliveries wait (default 256). */
  maxBacklog?: number;
  /** Retry delays for sending outputs, re-opening the connection and reading the twin (ms; default 500 → 30 000). */
  retry?: { initialMs: number; maxMs: number };
}

interface Counters {
  received: number;
  replayed: number;
  predicted: number;
  errors: number;
  sendRetries: number;
  redeliveriesSkipped: number;
}

interface Outgoing {
  output: string;
  body: Record<string, unknown>;
  messageId: string;
  properties: Array<[string, string]>;
}

type Work = { entry: JournalEntry | undefined; record: InputRecord; seq: number; replayed: boolean };


export class EdgeModule {
  readonly startedAt = new Date();
  private readonly client: ModuleClientLike;
  private readonly classifier: EdgeClassifier;
  private readonly journal: Journal;
  private readonly log: ModuleLogger;
  private readonly options: EdgeModuleOptions;
  private readonly retry: { initialMs: number; maxMs: number };
  private readonly maxImagesInFlight: number;
  private readonly maxBacklog: number;

  private settings: ModuleSettings = { ...DEFAULT_SETTINGS };
  private settingsStatus: Record<string, unknown> = { status: 'defaults', desiredVersion: null, error: null, ignored: [] };
  private twin: TwinLike | undefined;
  private lastError: { message: string; at: string } | null = null;
  private readonly counters: Counters = { received: 0, replayed: 0, predicted: 0, errors: 0, sendRetries: 0, redeliveriesSkipped: 0 };
  private reportedCounters = '';
  private reportTimer: NodeJS.Timeout | undefined;

  /** Payloads the transport tap has journaled; the SDK's inputMessage event for them is ignored. */
  private readonly tapped = new WeakSet<Buffer>();
  /** Message ids of the inputs replayed from the journal: a redelivery of one of them is not processed twice. */
  private readonly replayedIds = new Set<string>();
  private readonly queue: Work[] = [];
  private imagesInFlight = 0;
  private backlog = 0;
  private readonly heldAcks: Array<() => void> = [];
  private readonly active = new Set<Promise<void>>();
  private processing = false;
  private stopping = false;
  private closed = false;
  private connected = false;
  private reopening = false;
  private nextLocalSeq = -1;
  private readonly initialLogLevel: string;
  /** Cancels every retry wait when the module stops. */
  private readonly stopped = new AbortController();

  constructor(options: EdgeModuleOptions) {
    this.options = options;
    this.client = options.client;
    this.classifier = options.classifier;
    this.journal = options.journal;
    this.log = options.log;
    this.initialLogLevel = options.log.level;
    this.retry = options.retry ?? { initialMs: 500, maxMs: 30_000 };
    this.maxImagesInFlight = options.maxImagesInFlight ?? 128;
    this.maxBacklog = options.maxBacklog ?? 256;
  }

  /**
   * The transport tap (mqtt-transport.ts): journals a delivery, then lets the PUBACK go — after an
   * fdatasync when the journal's fsync mode is "always", and only once the backlog is below maxBacklog.
   */
  readonly tap = (topic: string, payload: Buffer, ack: (error?: Error) => void): void => {
    if (this.stopping) {
      // Not acknowledged: edgeHub keeps the message and delivers it again after the restart.
      ack(new Error('module is stopping'));
      return;
    }
    const record = recordFromDelivery(topic, payload);
    if (!record) {
      ack();
      return;
    }
    if (record.messageId !== undefined && this.replayedIds.delete(record.messageId)) {
      // edgeHub never got the PUBACK of a delivery the previous run had journaled, and sends it again:
      // the journal's copy is being processed already.
      this.counters.redeliveriesSkipped++;
      this.tapped.add(payload);
      ack();
      return;
    }
    let entry: JournalEntry;
    try {
      entry = this.journal.append(record);
    } catch (error) {
      // Without a journal entry the PUBACK is withheld, so edgeHub redelivers it after a reconnect; it is still processed now.
      this.noteError(`journal append failed: ${(error as Error).message}`, error);
      this.tapped.add(payload);
      this.accept({ entry: undefined, record, seq: this.nextLocalSeq--, replayed: false });
      ack(error as Error);
      return;
    }
    this.tapped.add(payload);
    this.accept({ entry, record, seq: entry.seq, replayed: false });
    const release = (): void => {
      if (this.journal.fsyncMode === 'always') {
        this.journal.durable().then(() => ack(), (error: Error) => {
          this.noteError(`journal fdatasync failed: ${error.message}`, error);
          ack(error);
        });
      } else ack();
    };
    // Never hold before processing has started: the twin's answer travels behind this delivery on the same connection.
    if (this.processing && this.backlog > this.maxBacklog) this.heldAcks.push(release);
    else release();
  };

  /**
   * Opens the connection (retrying until edgeHub answers), subscribes to inputs and methods, applies the
   * twin, then processes the journal's leftovers and new inputs.
   *
   * The input and method handlers are attached after the first successful open: if the SDK's first
   * connection fails, it gives up those subscriptions for good. Deliveries of a resumed session that
   * arrive before the handler exists are not lost: the transport tap has journaled them already.
   */
  async start(): Promise<void> {
    this.client.on('error', (error) => this.log.warn({ err: describeError(error) }, 'IoT Edge client error'));
    this.client.on('connect', () => this.onReconnect());
    this.client.on('disconnect', (error) => {
      this.connected = false;
      this.log.warn({ err: describeError(error) }, 'disconnected from edgeHub; reconnecting');
      void this.reopen();
    });

    for (const entry of this.journal.recovered) {
      this.counters.replayed++;
      if (entry.record.messageId !== undefined) this.replayedIds.add(entry.record.messageId);
      this.accept({ entry, record: entry.record, seq: entry.seq, replayed: true });
    }
    if (this.journal.recovered.length > 0) {
      this.log.info({ entries: this.journal.recovered.length }, 'replaying inputs left unfinished by the previous run');
    }
    await this.openWithRetry();
    this.client.on('inputMessage', (inputName, message) => this.onSdkMessage(inputName, message));
    this.client.onMethod('score', (request, response) => void this.onScore(request, response));
    this.client.onMethod('getStatus', (_request, response) => {
      response.send(200, this.status()).catch((error: Error) => this.log.warn({ err: describeError(error) }, 'could not answer getStatus'));
    });
    await this.loadTwinWithRetry();
    this.processing = true;
    this.pump();
    this.scheduleReports();
  }

  /**
   * Stops taking deliveries (unacknowledged ones come back after the restart), waits up to `graceMs` for
   * the inputs in progress, then closes the connection and the journal. Unfinished inputs stay journaled.
   */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.reportTimer) clearTimeout(this.reportTimer);
    this.releaseHeldAcks();
    const deadline = Date.now() + graceMs;
    while (this.active.size > 0 && Date.now() < deadline) {
      const grace = new AbortController();
      await Promise.race([Promise.allSettled([...this.active]), wait(Math.max(1, deadline - Date.now()), undefined, { signal: grace.signal }).catch(() => undefined)]);
      grace.abort();
    }
    if (this.active.size > 0) this.log.warn({ unfinished: this.active.size }, 'stopping with inputs in progress; they will be replayed at the next start');
    // Best effort, and bounded: with edgeHub away the SDK would keep retrying for minutes.
    await this.bounded(this.reportNow(), 2000, 'reporting the final state');
    this.closed = true;
    this.stopped.abort();
    await this.bounded(this.client.close(), 3000, 'closing the IoT Edge client');
    await this.journal.close();
  }

  /** Current state, as getStatus answers it. */
  status(): Record<string, unknown> {
    const card = this.classifier.card;
    const journal = this.journal.stats;
    return {
      ready: this.classifier.ready && this.processing,
      connected: this.connected,
      model: { name: card.name, version: card.version, sha256: card.sha256 },
      settings: this.settings,
      settingsStatus: this.settingsStatus,
      counters: { ...this.counters },
      inProgress: { queued: this.queue.length, imagesInFlight: this.imagesInFlight, unfinished: journal.live },
      journal: { fsync: this.journal.fsyncMode, ...journal },
      lastError: this.lastError,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      ...(this.options.describe?.() ?? {}),
    };
  }

  get currentSettings(): Readonly<ModuleSettings> {
    return this.settings;
  }

  // ---- inputs ---------------------------------------------------------------------------------------

  private onSdkMessage(inputName: string, message: Message): void {
    if (Buffer.isBuffer(message.data) && this.tapped.has(message.data)) return;
    if (this.stopping) return;
    // No transport tap (another transport, or a test client): journal now. The SDK has already acknowledged it.
    const record = recordFromMessage(inputName, message);
    try {
      const entry = this.journal.append(record);
      this.accept({ entry, record, seq: entry.seq, replayed: false });
    } catch (error) {
      this.noteError(`journal append failed: ${(error as Error).message}`, error);
      this.accept({ entry: undefined, record, seq: this.nextLocalSeq--, replayed: false });
    }
  }

  private accept(work: Work): void {
    if (!work.replayed) this.counters.received++;
    this.queue.push(work);
    this.backlog++;
    this.pump();
  }

  private pump(): void {
    if (!this.processing) return;
    while (this.queue.length > 0 && this.imagesInFlight < this.maxImagesInFlight) {
      const work = this.queue.shift()!;
      const task = this.process(work).catch((error: unknown) => {
        // After stop() the input stays journaled for the next start; anything else is a bug worth a log line.
        if (!this.closed) this.noteError('processing an input failed', error);
      });
      this.active.add(task);
      void task.finally(() => this.active.delete(task));
    }
  }

  private classified(): void {
    this.backlog--;
    if (this.heldAcks.length > 0 && this.backlog <= this.maxBacklog / 2) this.releaseHeldAcks();
  }

  private releaseHeldAcks(): void {
    for (const release of this.heldAcks.splice(0)) release();
  }

  private async process(work: Work): Promise<void> {
    const { record, seq } = work;
    const settings = this.settings;
    const card = this.classifier.card;
    const base = { model: { name: card.name, version: card.version }, record, replayed: work.replayed };
    const outgoing: Outgoing[] = [];
    // Deterministic, so an output sent again after a restart keeps its id: receiving time and journal
    // sequence number stand in for a missing input message id.
    const idBase = record.messageId ?? `${record.receivedAt.toString(36)}-${seq}`;

    const fail = (problem: InputProblem, name: string | undefined, index: number, count: number): void => {
      outgoing.push({
        output: OUTPUT_ERRORS,
        body: errorBody(problem, name, { ...base, index, count }),
        messageId: `${idBase}:error:${index}`,
        properties: [['error', problem.code]],
      });
    };

    // Leaving the classification stage must be counted exactly once, whatever happens (the backlog gates acknowledgements).
    let left = false;
    const leaveClassification = (): void => {
      if (left) return;
      left = true;
      this.classified();
    };
    try {
      if (record.inputName !== INPUT_IMAGES) {
        fail({ code: 'unknown_input', message: `input ${JSON.stringify(record.inputName)} is not handled: send images to input "${INPUT_IMAGES}"` }, undefined, 0, 1);
      } else {
        const decoded = decodeImagesInput(record, seq, settings);
        if (!decoded.ok) {
          fail(decoded.problem, undefined, 0, 1);
        } else {
          const images = decoded.images;
          const valid = images.flatMap((image, index) => ('bytes' in image ? [{ index, bytes: image.bytes }] : []));
          this.imagesInFlight += valid.length;
          let outcomes: Awaited<ReturnType<EdgeClassifier['classifyAll']>> = [];
          try {
            outcomes = valid.length > 0 ? await this.classifyWithRetry(valid.map((v) => v.bytes), settings.topK) : [];
          } finally {
            this.imagesInFlight -= valid.length;
            leaveClassification();
            this.pump();
          }
          const byIndex = new Map(valid.map((v, i) => [v.index, outcomes[i]]));
          images.forEach((image, index) => {
            const ctx: PredictionContext = { ...base, index, count: images.length };
            if ('problem' in image) return fail(image.problem, image.name, index, images.length);
            const outcome = byIndex.get(index);
            if (!outcome || !outcome.ok) return fail(problemOf(outcome?.error), image.name, index, images.length);
            const body = predictionBody(image.name, outcome.prediction, settings, card.labels, ctx);
            outgoing.push({
              output: OUTPUT_PREDICTIONS,
              body,
              messageId: `${idBase}:${index}`,
              // Property values travel in the MQTT topic: a client-chosen name is shortened there (the body keeps it whole).
              properties: [['fileName', image.name.slice(0, 200)], ['label', String(body.label)]],
            });
          });
        }
      }
    } finally {
      leaveClassification();
    }

    await Promise.all(outgoing.map((out) => this.sendUntilAcknowledged(out, record)));
    for (const out of outgoing) {
      if (out.output === OUTPUT_PREDICTIONS) this.counters.predicted++;
      else this.counters.errors++;
    }
    if (work.entry) this.journal.retire(work.entry.seq);
  }

  /** classifyAll, waiting out "overloaded" and "model not ready" (shared with HTTP traffic; not the input's fault). */
  private async classifyWithRetry(images: Buffer[], topK: number): ReturnType<EdgeClassifier['classifyAll']> {
    let delay = 5;
    for (;;) {
      try {
        return await this.classifier.classifyAll(images, { topK });
      } catch (error) {
        if (!isTransient(error)) throw error;
        const retryAfter = (error as { retryAfterSeconds?: number }).retryAfterSeconds;
        await this.sleep(Math.min(retryAfter !== undefined ? retryAfter * 1000 : delay, 1000));
        delay = Math.min(delay * 2, 1000);
        if (this.stopping && error.code === 'model_not_ready') throw error;
      }
    }
  }

  /** Sends one output until edgeHub acknowledges it (the SDK's promise resolves on the PUBACK). */
  private async sendUntilAcknowledged(out: Outgoing, record: InputRecord): Promise<void> {
    let delay = this.retry.initialMs;
    for (let attempt = 1; ; attempt++) {
      const message = new IotMessage(JSON.stringify(out.body));
      message.contentType = 'application/json';
      message.contentEncoding = 'utf-8';
      message.messageId = out.messageId;
      if (record.messageId) message.correlationId = record.messageId;
      for (const [key, value] of out.properties) message.properties.add(key, value);
      try {
        await this.client.sendOutputEvent(out.output, message);
        if (attempt > 1) this.log.info({ output: out.output, attempts: attempt }, 'output sent after retrying');
        return;
      } catch (error) {
        if (this.closed) throw new Error('module stopped before the output was acknowledged; the input stays journaled');
        this.counters.sendRetries++;
        this.noteError(`sending to output ${out.output} failed (attempt ${attempt}); retrying in ${delay} ms`, error, 'warn');
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.retry.maxMs);
      }
    }
  }

  // ---- connection -----------------------------------------------------------------------------------

  private async openWithRetry(): Promise<void> {
    let delay = this.retry.initialMs;
    for (;;) {
      try {
        await this.client.open();
        this.connected = true;
        this.log.info({}, 'connected to edgeHub');
        return;
      } catch (error) {
        if (this.stopping) throw error;
        this.noteError(`cannot connect to edgeHub; retrying in ${delay} ms`, error, 'warn');
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.retry.maxMs);
      }
    }
  }

  /**
   * The SDK reconnected (on its own or after reopen()): desired-property patches sent meanwhile were
   * missed, so the twin is read again, which also re-reports the state.
   */
  private onReconnect(): void {
    if (!this.twin || this.stopping) return;
    this.connected = true;
    this.log.info({}, 'reconnected to edgeHub');
    this.client.getTwin().then(
      (twin) => this.applyDesired(twin.properties.desired),
      (error: Error) => this.log.warn({ err: describeError(error) }, 'could not read the module twin after reconnecting'),
    );
  }

  /** After the SDK gave up reconnecting on its own: open again until it works. */
  private async reopen(): Promise<void> {
    if (this.reopening || this.stopping) return;
    this.reopening = true;
    try {
      await this.openWithRetry();
      if (this.twin) await this.reportNow().catch(() => undefined);
    } finally {
      this.reopening = false;
    }
  }

  // ---- twin -----------------------------------------------------------------------------------------

  private async loadTwinWithRetry(): Promise<void> {
    let delay = this.retry.initialMs;
    for (;;) {
      try {
        const twin = await this.client.getTwin();
        this.twin = twin;
        twin.on('properties.desired', () => this.applyDesired(twin.properties.desired));
        this.applyDesired(twin.properties.desired);
        return;
      } catch (error) {
        if (this.stopping) throw error;
        this.noteError(`cannot read the module twin; retrying in ${delay} ms`, error, 'warn');
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.retry.maxMs);
      }
    }
  }

  /** Validates the whole desired document; applies it, or keeps the last good settings and reports why not. */
  private applyDesired(desired: Record<string, unknown>): void {
    const version = typeof desired.$version === 'number' ? desired.$version : null;
    const result = settingsFromDesired(desired);
    const at = new Date().toISOString();
    if (result.ok) {
      this.settings = result.settings;
      this.log.level = result.settings.logLevel ?? this.initialLogLevel;
      this.settingsStatus = { status: 'applied', desiredVersion: version, error: null, property: null, ignored: result.ignored, at };
      this.log.info({ settings: result.settings, desiredVersion: version, ignored: result.ignored }, 'twin settings applied');
    } else {
      this.settingsStatus = { status: 'rejected', desiredVersion: version, error: result.error, property: result.property, ignored: [], at };
      this.log.warn({ error: result.error, desiredVersion: version }, 'twin settings rejected; keeping the previous ones');
    }
    void this.reportNow().catch((error: Error) => this.log.warn({ err: describeError(error) }, 'could not update reported properties'));
  }

  private reportedState(): Record<string, unknown> {
    const card = this.classifier.card;
    return {
      model: { name: card.name, version: card.version, sha256: card.sha256 },
      settings: { ...this.settings },
      // Reported properties cannot hold arrays: the ignored names are joined.
      settingsStatus: { ...this.settingsStatus, ignored: ((this.settingsStatus.ignored as string[] | undefined) ?? []).join(',') },
      counters: { ...this.counters, unfinished: this.journal.stats.live },
      lastError: this.lastError,
      startedAt: this.startedAt.toISOString(),
      journal: { fsync: this.journal.fsyncMode },
    };
  }

  private reportNow(): Promise<void> {
    const twin = this.twin;
    if (!twin) return Promise.resolve();
    const state = this.reportedState();
    this.reportedCounters = JSON.stringify(state.counters);
    return new Promise((resolve, reject) => twin.properties.reported.update(state, (error) => (error ? reject(error) : resolve())));
  }

  private scheduleReports(): void {
    if (this.stopping) return;
    this.reportTimer = setTimeout(() => {
      const counters = JSON.stringify(this.reportedState().counters);
      if (counters !== this.reportedCounters) {
        void this.reportNow().catch((error: Error) => this.log.debug({ err: describeError(error) }, 'could not update reported counters'));
      }
      this.scheduleReports();
    }, this.settings.reportIntervalSeconds * 1000);
    this.reportTimer.unref();
  }

  // ---- methods --------------------------------------------------------------------------------------

  private async onScore(request: DeviceMethodRequest, response: DeviceMethodResponse): Promise<void> {
    let status = 501;
    let body: unknown = { error: 'the score method is not available in this module' };
    if (this.options.score) {
      try {
        ({ status, body } = await this.options.score(request.payload, this.settings.topK));
      } catch (error) {
        this.noteError('the score method failed', error);
        status = 500;
        body = { error: 'internal error' };
      }
    }
    await response.send(status, body).catch((error: Error) => this.log.warn({ err: describeError(error) }, 'could not answer the score method'));
  }

  /** Waits for `promise` at most `ms`; a failure or a timeout is logged, never thrown. */
  private async bounded(promise: Promise<unknown>, ms: number, what: string): Promise<void> {
    const timeout = new AbortController();
    try {
      const result = await Promise.race([promise.then(() => 'done'), wait(ms, 'timeout', { signal: timeout.signal })]);
      if (result === 'timeout') this.log.warn({ ms }, `${what} took too long; going on`);
    } catch (error) {
      this.log.warn({ err: describeError(error) }, `${what} failed`);
    } finally {
      timeout.abort();
    }
  }

  /** Waits `ms`; rejects as soon as the module stops. */
  private sleep(ms: number): Promise<void> {
    return wait(ms, undefined, { signal: this.stopped.signal });
  }

  // ---- errors ---------------------------------------------------------------------------------------

  private noteError(message: string, error: unknown, level: 'error' | 'warn' = 'error'): void {
    this.lastError = { message: `${message}: ${describeError(error)}`, at: new Date().toISOString() };
    this.log[level]({ err: describeError(error) }, message);
  }
}

/** Names the underlying cause: the SDK reports every connection failure as UnauthorizedError. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const inner = (error as { transportError?: unknown; innerError?: unknown }).transportError ?? (error as { innerError?: unknown }).innerError;
  const base = `${error.name}: ${error.message}`;
  return inner instanceof Error && inner.message !== error.message ? `${base} (${inner.name}: ${inner.message})` : base;
}

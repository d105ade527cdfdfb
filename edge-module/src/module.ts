/**
 * The edge module's wiring: IoT Edge input messages → the inference core → output messages, the module
 * twin → live settings and reported state, direct methods → the same answers as HTTP. The module client,
 * the classifier and the journal are injected, so tests can drive this without a process or a broker.
 * Each job has its file: intake.ts (the transport tap, held acknowledgements, the journal's leftovers),
 * work-queue.ts + outputs.ts (processing and sending), twin-settings.ts, direct-methods.ts,
 * connection.ts; back-off.ts is the one retry policy they all use.
 *
 * Delivery guarantee (at-least-once): an input is appended to the journal before edgeHub gets its PUBACK
 * (see mqtt-transport.ts), and retired only once edgeHub has acknowledged every output made from it.
 * Inputs still in the journal at start-up are processed again; their outputs may therefore be sent twice.
 */
import { setTimeout as wait } from 'node:timers/promises';
import type { BackOff } from './back-off.js';
import { Connection } from './connection.js';
import { registerDirectMethods } from './direct-methods.js';
import { BufferPool } from '@model-deploy/codecs';
import { Intake } from './intake.js';
import type { Journal } from './journal.js';
import { describeError, type EdgeClassifier, type ModuleClientLike, type ModuleLogger, type ScoreHandler } from './module-client.js';
import { ModuleState } from './module-state.js';
import type { DeliveryTap } from './mqtt-transport.js';
import type { ModuleSettings } from './settings.js';
import { TwinSettings } from './twin-settings.js';
import { WorkQueue } from './work-queue.js';

export { describeError } from './module-client.js';
export type { EdgeClassifier, ModuleClientLike, ModuleLogger, ScoreHandler, TwinLike } from './module-client.js';
export { INPUT_IMAGES } from './work-queue.js';
export { OUTPUT_ERRORS, OUTPUT_PREDICTIONS } from './outputs.js';

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
  retry?: BackOff;
  /**
   * Reused buffers for photo-sized input payloads (intake.ts); by default a pool of its own, over
   * SharedArrayBuffers so that a payload reaches the preprocessing threads without a copy.
   */
  payloadBuffers?: BufferPool;
}

export class EdgeModule {
  private readonly state: ModuleState;
  private readonly twin: TwinSettings;
  private readonly queue: WorkQueue;
  private readonly intake: Intake;
  private readonly connection: Connection;

  constructor(private readonly options: EdgeModuleOptions) {
    const { client, classifier, journal } = options;
    const state = new ModuleState(options.log, options.retry ?? { initialMs: 500, maxMs: 30_000 });
    this.state = state;
    const payloadBuffers = options.payloadBuffers ?? new BufferPool({ shared: true });
    this.twin = new TwinSettings({ client, classifier, journal, state });
    this.queue = new WorkQueue({
      client,
      classifier,
      journal,
      state,
      settings: () => this.twin.settings,
      maxImagesInFlight: options.maxImagesInFlight ?? 128,
      onClassified: () => this.intake.classified(),
      payloadBuffers,
    });
    this.intake = new Intake({ journal, state, queue: this.queue, maxBacklog: options.maxBacklog ?? 256, payloadBuffers });
    this.connection = new Connection(client, state, this.twin);
  }

  get startedAt(): Date {
    return this.state.startedAt;
  }

  /** The transport tap (mqtt-transport.ts): the module's only way in for input messages. */
  get tap(): DeliveryTap {
    return this.intake.tap;
  }

  /**
   * Opens the connection (retrying until edgeHub answers), subscribes to inputs and methods, applies the
   * twin, then processes the journal's leftovers and new inputs.
   *
   * The input and method handlers are attached after the first successful open: if the SDK's first
   * connection fails, it gives up those subscriptions for good. Deliveries of a resumed session that
   * arrive before then are not lost: the transport tap has journaled them already.
   */
  async start(): Promise<void> {
    const { client, log } = this.options;
    this.connection.watch();
    const replayed = this.intake.replay();
    if (replayed > 0) log.info({ entries: replayed }, 'replaying inputs left unfinished by the previous run');
    await this.connection.open();
    // Listening is what makes the SDK subscribe to the module's inputs; the deliveries themselves come
    // in through the tap, which journals them before they are acknowledged (the SDK's event would come
    // after the PUBACK, too late for at-least-once); mqtt-transport.ts keeps those deliveries from the SDK.
    client.on('inputMessage', () => undefined);
    registerDirectMethods(client, { state: this.state, score: this.options.score, topK: () => this.twin.settings.topK, status: () => this.status() });
    await this.twin.load();
    this.queue.start();
    this.twin.scheduleReports();
  }

  /**
   * Stops taking deliveries (unacknowledged ones come back after the restart), waits up to `graceMs` for
   * the inputs in progress, then closes the connection and the journal. Unfinished inputs stay journaled.
   */
  async stop(graceMs = 10_000): Promise<void> {
    const { state } = this;
    if (state.stopping) return;
    state.stopping = true;
    this.twin.stopReports();
    this.intake.releaseHeldAcks();
    const unfinished = await this.queue.settle(Date.now() + graceMs);
    if (unfinished > 0) state.log.warn({ unfinished }, 'stopping with inputs in progress; they will be replayed at the next start');
    // Best effort, and bounded: with edgeHub away the SDK would keep retrying for minutes.
    await this.bounded(this.twin.report(), 2000, 'reporting the final state');
    state.close();
    await this.bounded(this.options.client.close(), 3000, 'closing the IoT Edge client');
    await this.options.journal.close();
  }

  /** Current state, as getStatus answers it. */
  status(): Record<string, unknown> {
    const { classifier, journal } = this.options;
    const card = classifier.card;
    const stats = journal.stats;
    return {
      ready: classifier.ready && this.queue.running,
      connected: this.connection.connected,
      model: { name: card.name, version: card.version, sha256: card.sha256 },
      settings: this.twin.settings,
      settingsStatus: this.twin.status,
      counters: { ...this.state.counters },
      inProgress: { ...this.queue.stats, unfinished: stats.live },
      journal: { fsync: journal.fsyncMode, ...stats },
      lastError: this.state.lastError,
      startedAt: this.state.startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.state.startedAt.getTime()) / 1000),
      ...(this.options.describe?.() ?? {}),
    };
  }

  get currentSettings(): Readonly<ModuleSettings> {
    return this.twin.settings;
  }

  /** Waits for `promise` at most `ms`; a failure or a timeout is logged, never thrown. */
  private async bounded(promise: Promise<unknown>, ms: number, what: string): Promise<void> {
    const timeout = new AbortController();
    try {
      const result = await Promise.race([promise.then(() => 'done'), wait(ms, 'timeout', { signal: timeout.signal })]);
      if (result === 'timeout') this.state.log.warn({ ms }, `${what} took too long; going on`);
    } catch (error) {
      this.state.log.warn({ err: describeError(error) }, `${what} failed`);
    } finally {
      timeout.abort();
    }
  }
}

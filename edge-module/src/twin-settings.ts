/**
 * The module twin: desired properties become the live settings (validated as a whole; a bad document
 * keeps the last good settings and reports why), and the reported properties carry the model, the
 * settings, the counters and the last error — at once on a change, and every reportIntervalSeconds
 * while the counters move.
 */
import type { Journal } from './journal.js';
import { describeError, type EdgeClassifier, type ModuleClientLike, type TwinLike } from './module-client.js';
import type { ModuleState } from './module-state.js';
import { DEFAULT_SETTINGS, settingsFromDesired, type ModuleSettings } from './settings.js';

export interface TwinSettingsOptions {
  client: ModuleClientLike;
  classifier: EdgeClassifier;
  journal: Journal;
  state: ModuleState;
}

export class TwinSettings {
  settings: ModuleSettings = { ...DEFAULT_SETTINGS };
  status: Record<string, unknown> = { status: 'defaults', desiredVersion: null, error: null, ignored: [] };
  private twin: TwinLike | undefined;
  private reportedCounters = '';
  private reportTimer: NodeJS.Timeout | undefined;
  /** A twin without logLevel brings the logger back to the level it started with. */
  private readonly initialLogLevel: string;

  constructor(private readonly options: TwinSettingsOptions) {
    this.initialLogLevel = options.state.log.level;
  }

  /** True once the twin has been read (reports have somewhere to go). */
  get loaded(): boolean {
    return this.twin !== undefined;
  }

  /** Reads the twin (retrying until edgeHub answers), applies it and follows its desired-property patches. */
  async load(): Promise<void> {
    await this.options.state.untilDone('cannot read the module twin', async () => {
      const twin = await this.options.client.getTwin();
      this.twin = twin;
      twin.on('properties.desired', () => this.applyDesired(twin.properties.desired));
      this.applyDesired(twin.properties.desired);
    });
  }

  /** After a reconnection: desired-property patches sent meanwhile were missed, so the twin is read again. */
  reread(): void {
    const { client, state } = this.options;
    client.getTwin().then(
      (twin) => this.applyDesired(twin.properties.desired),
      (error: Error) => state.log.warn({ err: describeError(error) }, 'could not read the module twin after reconnecting'),
    );
  }

  report(): Promise<void> {
    const twin = this.twin;
    if (!twin) return Promise.resolve();
    const state = this.reportedState();
    this.reportedCounters = JSON.stringify(state.counters);
    return new Promise((resolve, reject) => twin.properties.reported.update(state, (error) => (error ? reject(error) : resolve())));
  }

  scheduleReports(): void {
    const { state } = this.options;
    if (state.stopping) return;
    this.reportTimer = setTimeout(() => {
      const counters = JSON.stringify(this.reportedState().counters);
      if (counters !== this.reportedCounters) {
        void this.report().catch((error: Error) => state.log.debug({ err: describeError(error) }, 'could not update reported counters'));
      }
      this.scheduleReports();
    }, this.settings.reportIntervalSeconds * 1000);
    this.reportTimer.unref();
  }

  stopReports(): void {
    if (this.reportTimer) clearTimeout(this.reportTimer);
  }

  /** Validates the whole desired document; applies it, or keeps the last good settings and reports why not. */
  private applyDesired(desired: Record<string, unknown>): void {
    const { log } = this.options.state;
    const version = typeof desired.$version === 'number' ? desired.$version : null;
    const result = settingsFromDesired(desired);
    const at = new Date().toISOString();
    if (result.ok) {
      this.settings = result.settings;
      log.level = result.settings.logLevel ?? this.initialLogLevel;
      this.status = { status: 'applied', desiredVersion: version, error: null, property: null, ignored: result.ignored, at };
      log.info({ settings: result.settings, desiredVersion: version, ignored: result.ignored }, 'twin settings applied');
    } else {
      this.status = { status: 'rejected', desiredVersion: version, error: result.error, property: result.property, ignored: [], at };
      log.warn({ error: result.error, desiredVersion: version }, 'twin settings rejected; keeping the previous ones');
    }
    void this.report().catch((error: Error) => log.warn({ err: describeError(error) }, 'could not update reported properties'));
  }

  private reportedState(): Record<string, unknown> {
    const { classifier, journal, state } = this.options;
    const card = classifier.card;
    return {
      model: { name: card.name, version: card.version, sha256: card.sha256 },
      settings: { ...this.settings },
      // Reported properties cannot hold arrays: the ignored names are joined.
      settingsStatus: { ...this.status, ignored: ((this.status.ignored as string[] | undefined) ?? []).join(',') },
      counters: { ...state.counters, unfinished: journal.stats.live },
      lastError: state.lastError,
      startedAt: state.startedAt.toISOString(),
      journal: { fsync: journal.fsyncMode },
    };
  }
}

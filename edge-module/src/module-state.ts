/**
 * What the module's parts share: the logger, the counters and the last error they report, the
 * lifecycle flags, and the signal that cancels every back-off wait when the module stops.
 */
import { retryWithBackOff, type BackOff } from './back-off.js';
import { describeError, type ModuleLogger } from './module-client.js';

export interface Counters {
  received: number;
  replayed: number;
  predicted: number;
  errors: number;
  sendRetries: number;
  redeliveriesSkipped: number;
}

export class ModuleState {
  readonly startedAt = new Date();
  readonly counters: Counters = { received: 0, replayed: 0, predicted: 0, errors: 0, sendRetries: 0, redeliveriesSkipped: 0 };
  lastError: { message: string; at: string } | null = null;
  /** stop() has begun: no new deliveries are acknowledged, back-offs give up. */
  stopping = false;
  /** The connection is being closed: sends can no longer be acknowledged. */
  closed = false;
  private readonly stopped = new AbortController();

  constructor(
    readonly log: ModuleLogger,
    readonly backOff: BackOff,
  ) {}

  get signal(): AbortSignal {
    return this.stopped.signal;
  }

  /** Marks the module closed and cancels every back-off wait. */
  close(): void {
    this.closed = true;
    this.stopped.abort();
  }

  noteError(message: string, error: unknown, level: 'error' | 'warn' = 'error'): void {
    this.lastError = { message: `${message}: ${describeError(error)}`, at: new Date().toISOString() };
    this.log[level]({ err: describeError(error) }, message);
  }

  /**
   * Runs `attempt` with the module's back-off until it works; while the module is not stopping a failure
   * is noted as `what failed; retrying in N ms`. Used for connecting and reading the twin.
   */
  untilDone<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    return retryWithBackOff(attempt, {
      backOff: this.backOff,
      signal: this.signal,
      onFailure: (error, _attempt, delayMs) => {
        if (this.stopping) throw error;
        this.noteError(`${what}; retrying in ${delayMs} ms`, error, 'warn');
      },
    });
  }
}

/**
 * The module's one back-off: every wait-and-try-again (sending an output until edgeHub acknowledges it,
 * connecting, reading the twin, a busy classifier) goes through here. p-retry does the loop (the most
 * used promise-retry library, by the author of most of npm's small async utilities, abortable with an
 * AbortSignal and reporting each failure with the coming delay); this file only fixes the policy:
 * exponential from `initialMs`, doubling, capped at `maxMs`, no jitter (one module talks to one
 * edgeHub), and no limit on attempts: the caller stops it by throwing from onFailure or aborting.
 */
import pRetry from 'p-retry';

export interface BackOff {
  initialMs: number;
  maxMs: number;
}

export interface RetryOptions {
  backOff: BackOff;
  /** Aborting ends a wait in progress at once; the call rejects with the signal's reason. */
  signal: AbortSignal;
  /**
   * Called after each failed attempt with the wait that follows; throw (e.g. the error itself) to
   * stop retrying. May return a promise to wait longer (a server's retry-after).
   */
  onFailure(error: Error, attempt: number, delayMs: number): void | Promise<void>;
}

/** Runs `attempt` until it resolves; see RetryOptions for how it stops. */
export function retryWithBackOff<T>(attempt: (attemptNumber: number) => Promise<T>, options: RetryOptions): Promise<T> {
  return pRetry(attempt, {
    retries: Number.POSITIVE_INFINITY,
    factor: 2,
    minTimeout: options.backOff.initialMs,
    maxTimeout: options.backOff.maxMs,
    randomize: false,
    signal: options.signal,
    onFailedAttempt: ({ error, attemptNumber, retryDelay }) => options.onFailure(error, attemptNumber, retryDelay),
  });
}

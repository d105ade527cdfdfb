/**
 * The API keys the service accepts, compared in constant time. Keys come from a list (primary first,
 * secondary second) or from a file that is re-read while the service runs, so a rotated Kubernetes
 * Secret takes effect without a restart. Only SHA-256 digests are kept; keys are never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, parseKeyList, type AuthConfig } from './config.js';

/** Names the key slots in metrics and logs without revealing the key. */
const SLOT_NAMES = ['primary', 'secondary'];

/** Minimal logger surface (pino and Fastify's logger fit). */
export interface KeyRingLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

export class KeyRing {
  private digests: Buffer[] = [];
  private timer: NodeJS.Timeout | undefined;
  private fileText: string | undefined;
  private logger: KeyRingLogger | undefined;
  private lastReadError: string | undefined;

  /** A fixed set of keys (e.g. from SCORING_API_KEYS). */
  constructor(keys: readonly string[]) {
    this.replace(keys);
  }

  /** The key ring the configuration asks for (SCORING_API_KEYS or SCORING_API_KEYS_FILE); none with authentication off. */
  static fromConfig(auth: AuthConfig): KeyRing | undefined {
    if (auth.mode === 'keys') return new KeyRing(auth.keys);
    if (auth.mode === 'key-file') return KeyRing.fromFile(auth.file, auth.reloadMs);
    return undefined;
  }

  /**
   * Keys read from `file` (one per line or comma-separated) and re-read every `reloadMs`. The file
   * must exist and hold at least one key now; a later read that fails or finds no key keeps the
   * current keys and logs a warning (a Secret update swaps a symlink, so a read can race it).
   */
  static fromFile(file: string, reloadMs: number): KeyRing {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `Invalid configuration: SCORING_API_KEYS_FILE must name a readable file with the keys (${(err as Error).message})`,
      );
    }
    const keys = parseKeyList(text);
    if (keys.length === 0) {
      throw new ConfigError(`Invalid configuration: SCORING_API_KEYS_FILE (${file}) holds no key`);
    }
    const ring = new KeyRing(keys);
    ring.fileText = text;
    ring.timer = setInterval(() => ring.reload(file), reloadMs);
    ring.timer.unref();
    return ring;
  }

  /** Where reload messages go (set once the app's logger exists). */
  setLogger(logger: KeyRingLogger): void {
    this.logger = logger;
  }

  get size(): number {
    return this.digests.length;
  }

  /** Replaces the accepted keys (an empty list is refused: it would lock everybody out). */
  replace(keys: readonly string[]): void {
    if (keys.length === 0) throw new Error('KeyRing needs at least one key');
    this.digests = keys.map(digest);
  }

  /**
   * The slot name of the matching key ('primary', 'secondary', 'key3', …) or undefined. Every slot is
   * compared, whatever matched, so the time taken does not depend on which key (if any) matched.
   */
  match(token: string): string | undefined {
    const candidate = digest(token);
    let found = -1;
    for (let i = 0; i < this.digests.length; i++) {
      if (timingSafeEqual(candidate, this.digests[i] as Buffer) && found < 0) found = i;
    }
    return found < 0 ? undefined : (SLOT_NAMES[found] ?? `key${found + 1}`);
  }

  /** Stops watching the key file. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private reload(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const message = (err as Error).message;
      // Warn once per distinct failure, not on every poll.
      if (message !== this.lastReadError) {
        this.lastReadError = message;
        this.logger?.warn({ file, err: message }, 'cannot read the API key file; keeping the current keys');
      }
      return;
    }
    this.lastReadError = undefined;
    if (text === this.fileText) return;
    this.fileText = text;
    const keys = parseKeyList(text);
    if (keys.length === 0) {
      this.logger?.warn({ file }, 'the API key file holds no key; keeping the current keys');
      return;
    }
    this.replace(keys);
    this.logger?.info({ file, keys: keys.length }, 'API keys reloaded from file');
  }
}

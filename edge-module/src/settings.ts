/**
 * The module's live settings, set through the module twin's desired properties. The whole desired
 * document is validated at once; a document with any bad property is rejected as a whole (the last good
 * settings stay in force) and the rejection names the property and what was expected.
 */

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface ModuleSettings {
  /** How many of the most probable labels each prediction lists (1..10). */
  topK: number;
  /** Below this confidence the label is reported as "uncertain" (the best guess stays in `bestGuess`). */
  confidenceThreshold: number;
  /** Add every class probability to each prediction. */
  includeProbabilities: boolean;
  /** A JSON input message with more images than this is refused on the errors output. */
  maxImagesPerMessage: number;
  /** Minimum level of the module's log lines; unset = the LOG_LEVEL the process started with. */
  logLevel?: LogLevel;
  /** How often changed counters are written to the reported properties (seconds). */
  reportIntervalSeconds: number;
}

export const DEFAULT_SETTINGS: Readonly<ModuleSettings> = Object.freeze({
  topK: 1,
  confidenceThreshold: 0,
  includeProbabilities: false,
  maxImagesPerMessage: 64,
  reportIntervalSeconds: 10,
});

export const UNCERTAIN_LABEL = 'uncertain';

export interface Rule {
  expected: string;
  /** What the property does; docs/edge-module.md's table is generated from it (npm run docs). */
  description: string;
  check: (value: unknown) => boolean;
}

const integer = (min: number, max: number, description: string): Rule => ({
  expected: `an integer from ${min} to ${max}`,
  description,
  check: (v) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max,
});

const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

export const RULES: Record<keyof ModuleSettings, Rule> = {
  topK: integer(1, 10, 'labels listed in `top`'),
  confidenceThreshold: {
    expected: 'a number from 0 to 1',
    description: 'below it the label is `"uncertain"`',
    check: (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1,
  },
  includeProbabilities: { expected: 'true or false', description: 'every class probability in each prediction', check: (v) => typeof v === 'boolean' },
  maxImagesPerMessage: integer(1, 256, 'larger JSON messages go to `errors` (`too_many_images`)'),
  logLevel: {
    expected: `one of ${LOG_LEVELS.map((l) => JSON.stringify(l)).join(', ')}`,
    description: 'log level, live; unset = the `LOG_LEVEL` the process started with',
    check: (v) => LOG_LEVELS.includes(v as LogLevel),
  },
  reportIntervalSeconds: integer(1, 3600, 'how often changed counters are reported'),
};

export type SettingsResult =
  | { ok: true; settings: ModuleSettings; ignored: string[] }
  | { ok: false; property: string; error: string };

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Validates the full desired-properties document (the twin's `properties.desired`). Properties absent
 * (or removed with null) take their defaults; `$`-prefixed metadata is skipped; unknown properties are
 * listed in `ignored` (other tools may share the twin).
 */
export function settingsFromDesired(desired: Record<string, unknown>): SettingsResult {
  const settings: ModuleSettings = { ...DEFAULT_SETTINGS };
  const ignored: string[] = [];
  for (const [key, value] of Object.entries(desired)) {
    if (key.startsWith('$')) continue;
    if (!Object.hasOwn(RULES, key)) {
      ignored.push(key);
      continue;
    }
    if (value === null || value === undefined) continue;
    const rule = RULES[key as keyof ModuleSettings];
    if (!rule.check(value)) {
      return { ok: false, property: key, error: `desired property ${key} must be ${rule.expected} (got ${show(value)})` };
    }
    (settings as unknown as Record<string, unknown>)[key] = value;
  }
  return { ok: true, settings, ignored };
}

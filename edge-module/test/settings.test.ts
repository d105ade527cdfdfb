import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SETTINGS, settingsFromDesired } from '../src/settings.js';

describe('twin settings: bad values are rejected, naming the property and what it must be', () => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ topK: 0 }, 'topK', /^desired property topK must be an integer from 1 to 10 \(got 0\)$/],
    [{ topK: 11 }, 'topK', /an integer from 1 to 10 \(got 11\)/],
    [{ topK: 2.5 }, 'topK', /an integer from 1 to 10 \(got 2.5\)/],
    [{ topK: '3' }, 'topK', /an integer from 1 to 10 \(got "3"\)/],
    [{ confidenceThreshold: 1.5 }, 'confidenceThreshold', /must be a number from 0 to 1 \(got 1.5\)/],
    [{ confidenceThreshold: -0.1 }, 'confidenceThreshold', /must be a number from 0 to 1/],
    [{ confidenceThreshold: { a: 1 } }, 'confidenceThreshold', /must be a number from 0 to 1 \(got \{"a":1\}\)/],
    [{ includeProbabilities: 'yes' }, 'includeProbabilities', /must be true or false/],
    [{ maxImagesPerMessage: 0 }, 'maxImagesPerMessage', /an integer from 1 to 256/],
    [{ logLevel: 'verbose' }, 'logLevel', /must be one of "error", "warn", "info", "debug" \(got "verbose"\)/],
    [{ reportIntervalSeconds: 0 }, 'reportIntervalSeconds', /an integer from 1 to 3600/],
    [{ topK: 3, confidenceThreshold: 7 }, 'confidenceThreshold', /confidenceThreshold/],
  ];
  for (const [desired, property, message] of cases) {
    it(`${JSON.stringify(desired)} → ${property}`, () => {
      const result = settingsFromDesired(desired);
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.property, property);
      assert.match(result.error, message);
    });
  }
});

describe('twin settings: good documents', () => {
  it('an empty document gives the defaults', () => {
    assert.deepEqual(settingsFromDesired({ $version: 1 }), { ok: true, settings: { ...DEFAULT_SETTINGS }, ignored: [] });
  });

  it('applies every known property and lists unknown ones instead of failing', () => {
    const result = settingsFromDesired({
      $version: 7,
      topK: 3,
      confidenceThreshold: 0.6,
      includeProbabilities: true,
      maxImagesPerMessage: 8,
      logLevel: 'debug',
      reportIntervalSeconds: 60,
      someOtherTool: { x: 1 },
    });
    assert.deepEqual(result, {
      ok: true,
      settings: { topK: 3, confidenceThreshold: 0.6, includeProbabilities: true, maxImagesPerMessage: 8, logLevel: 'debug', reportIntervalSeconds: 60 },
      ignored: ['someOtherTool'],
    });
  });

  it('a property removed with null returns to its default', () => {
    const result = settingsFromDesired({ topK: null, confidenceThreshold: 0 });
    assert.ok(result.ok);
    assert.equal(result.settings.topK, DEFAULT_SETTINGS.topK);
  });

  it('accepts the bounds', () => {
    for (const desired of [{ topK: 1 }, { topK: 10 }, { confidenceThreshold: 0 }, { confidenceThreshold: 1 }]) {
      assert.ok(settingsFromDesired(desired).ok, JSON.stringify(desired));
    }
  });
});

/**
 * Configuration: defaults, one message per bad variable naming it and the expected value, the auth
 * decision (keys, key file, disabled, local), and secrets never echoed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULT_MODEL_DIR, loadConfig } from '../src/config.js';
import { modelDir } from './helpers.js';

const keys = { SCORING_API_KEYS: 'k1' };

function configError(env: Record<string, string>, options = {}): string {
  try {
    loadConfig(env, options);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const config = loadConfig(keys);
    assert.deepEqual(config, {
      port: 5001,
      host: '127.0.0.1',
      modelDir: DEFAULT_MODEL_DIR,
      modelName: undefined,
      auth: { mode: 'keys', keys: ['k1'] },
      inference: { maxBatchSize: 32, maxBatchWaitMs: 2, maxQueue: 512, maxImageBytes: 8 * 1024 * 1024, maxImagePixels: 40_000_000, intraOpThreads: undefined, intraOpSpinning: false, preprocessThreads: undefined, exactPreprocessing: false, reducingGap: 4, exifOrientation: true, modelThreads: 0 },
      inferenceWorker: false,
      limits: { maxImagesPerRequest: 64, bodyLimitBytes: 16 * 1024 * 1024 },
      shutdown: { graceMs: 20_000, delayMs: 2000 },
      logLevel: 'info',
      slowRequestMs: 1000,
      heapGrowingPercent: 300,
      appInsightsConnectionString: undefined,
    });
    assert.equal(DEFAULT_MODEL_DIR.replace(/\/$/, ''), modelDir);
  });

  it('reads every knob', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      MODEL_DIR: '/app/model',
      SCORING_API_KEYS: ' first , second\n',
      BATCH_MAX_SIZE: '16',
      BATCH_MAX_WAIT_MS: '0.5',
      QUEUE_MAX: '100',
      MAX_IMAGE_BYTES: '2048',
      MAX_IMAGE_PIXELS: '1000000',
      MAX_IMAGES_PER_REQUEST: '10',
      BODY_LIMIT_BYTES: '4096',
      INTRA_OP_THREADS: '2',
      INTRA_OP_SPINNING: 'false',
      INFERENCE_WORKER: 'true',
      MODEL_THREADS: '2',
      PREPROCESS_THREADS: '3',
      EXACT_PREPROCESSING: 'true',
      REDUCING_GAP: '2',
      EXIF_ORIENTATION: 'false',
      HEAP_GROWING_PERCENT: '0',
      SHUTDOWN_GRACE_MS: '5000',
      SHUTDOWN_DELAY_MS: '0',
      SLOW_REQUEST_MS: '250',
      LOG_LEVEL: 'debug',
      APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=abc;IngestionEndpoint=https://x/',
    });
    assert.equal(config.port, 8080);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.modelDir, '/app/model');
    assert.deepEqual(config.auth, { mode: 'keys', keys: ['first', 'second'] });
    assert.deepEqual(config.inference, { maxBatchSize: 16, maxBatchWaitMs: 0.5, maxQueue: 100, maxImageBytes: 2048, maxImagePixels: 1_000_000, intraOpThreads: 2, intraOpSpinning: false, preprocessThreads: 3, exactPreprocessing: true, reducingGap: 2, exifOrientation: false, modelThreads: 0 });
    assert.equal(config.inferenceWorker, true);
    assert.deepEqual(config.limits, { maxImagesPerRequest: 10, bodyLimitBytes: 4096 });
    assert.deepEqual(config.shutdown, { graceMs: 5000, delayMs: 0 });
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.slowRequestMs, 250);
    assert.equal(config.heapGrowingPercent, 0);
    assert.equal(config.appInsightsConnectionString, 'InstrumentationKey=abc;IngestionEndpoint=https://x/');
  });

  it('names the variable and the expected value for a bad value', () => {
    assert.equal(configError({ ...keys, PORT: 'abc' }), 'Invalid configuration: PORT must be an integer between 0 and 65535 (0 picks a free port) (got "abc")');
    assert.equal(configError({ ...keys, PORT: '70000' }), 'Invalid configuration: PORT must be an integer between 0 and 65535 (0 picks a free port) (got "70000")');
    assert.equal(configError({ ...keys, BATCH_MAX_SIZE: '1.5' }), 'Invalid configuration: BATCH_MAX_SIZE must be an integer between 1 and 1024 (got "1.5")');
    assert.equal(configError({ ...keys, INTRA_OP_SPINNING: 'sometimes' }), 'Invalid configuration: INTRA_OP_SPINNING must be true or false (got "sometimes")');
    assert.equal(configError({ ...keys, PREPROCESS_THREADS: '-1' }), 'Invalid configuration: PREPROCESS_THREADS must be an integer between 0 and 256 (0 decodes images on the main thread) (got "-1")');
    assert.equal(configError({ ...keys, EXACT_PREPROCESSING: 'maybe' }), 'Invalid configuration: EXACT_PREPROCESSING must be true or false (got "maybe")');
    assert.equal(configError({ ...keys, EXIF_ORIENTATION: 'sideways' }), 'Invalid configuration: EXIF_ORIENTATION must be true or false (got "sideways")');
    for (const percent of ['-1', '1001', '2.5']) assert.equal(configError({ ...keys, HEAP_GROWING_PERCENT: percent }), `Invalid configuration: HEAP_GROWING_PERCENT must be an integer from 0 to 1000 (got "${percent}")`);
    for (const gap of ['0.5', '65', 'twice']) assert.equal(configError({ ...keys, REDUCING_GAP: gap }), `Invalid configuration: REDUCING_GAP must be a number between 1 and 64 (got "${gap}")`);
    assert.equal(configError({ ...keys, SCORING_AUTH: 'off' }), 'Invalid configuration: SCORING_AUTH must be "enabled" or "disabled" (got "off")');
    // Every bad variable is reported, one per line.
    assert.equal(
      configError({ ...keys, LOG_LEVEL: 'loud', QUEUE_MAX: '-1' }).split('\n').sort().join('\n'),
      [
        'Invalid configuration: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
        'Invalid configuration: QUEUE_MAX must be an integer between 1 and 1000000 (got "-1")',
      ].join('\n'),
    );
  });

  it('runs the model on threads of its own with MODEL_THREADS, except in an inference worker, which holds the model itself', () => {
    assert.equal(loadConfig({ ...keys, MODEL_THREADS: '2' }).inference.modelThreads, 2);
    assert.equal(loadConfig({ ...keys, MODEL_THREADS: '0' }).inference.modelThreads, 0);
    assert.equal(loadConfig({ ...keys, MODEL_THREADS: '2', INFERENCE_WORKER: 'true' }).inference.modelThreads, 0);
    for (const bad of ['-1', '65', '1.5', 'auto']) {
      assert.equal(configError({ ...keys, MODEL_THREADS: bad }), `Invalid configuration: MODEL_THREADS must be an integer between 0 and 64 (0 runs the model on the main thread) (got "${bad}")`);
    }
  });

  it('treats empty variables as unset', () => {
    assert.equal(loadConfig({ ...keys, PORT: '', HOST: '  ' }).port, 5001);
  });

  it('never echoes a secret value', () => {
    const secret = 'not-a-connection-string-s3cr3t';
    const message = configError({ ...keys, APPLICATIONINSIGHTS_CONNECTION_STRING: secret });
    assert.equal(message, 'Invalid configuration: APPLICATIONINSIGHTS_CONNECTION_STRING must be an Application Insights connection string (InstrumentationKey=…;IngestionEndpoint=…)');
    assert.ok(!message.includes(secret));
  });

  it('checks knobs against each other', () => {
    assert.match(configError({ ...keys, QUEUE_MAX: '10', MAX_IMAGES_PER_REQUEST: '20' }), /^Invalid configuration: QUEUE_MAX \(10\) must be at least MAX_IMAGES_PER_REQUEST \(20\)/);
    assert.match(configError({ ...keys, SHUTDOWN_GRACE_MS: '2000', SHUTDOWN_DELAY_MS: '2000' }), /^Invalid configuration: SHUTDOWN_DELAY_MS \(2000\) must be less than SHUTDOWN_GRACE_MS \(2000\)/);
  });

  describe('auth decision', () => {
    it('refuses to start without a key unless SCORING_AUTH=disabled', () => {
      assert.match(configError({}), /^Invalid configuration: no API key configured: set SCORING_API_KEYS .* or set SCORING_AUTH=disabled/);
      assert.match(configError({ SCORING_API_KEYS: ' , ' }), /no API key configured/);
      assert.deepEqual(loadConfig({ SCORING_AUTH: 'disabled' }).auth, { mode: 'disabled', reason: 'SCORING_AUTH=disabled' });
    });

    it('a local run (npm start) disables auth only when no key is configured', () => {
      assert.deepEqual(loadConfig({}, { local: true }).auth, { mode: 'disabled', reason: 'local run without keys' });
      assert.deepEqual(loadConfig({ SCORING_API_KEYS: 'a,b' }, { local: true }).auth, { mode: 'keys', keys: ['a', 'b'] });
      assert.deepEqual(loadConfig({ SCORING_API_KEYS_FILE: '/run/keys' }, { local: true }).auth, { mode: 'key-file', file: '/run/keys', reloadMs: 2000 });
    });

    it('takes the keys from a file when SCORING_API_KEYS_FILE is set, and refuses both sources at once', () => {
      assert.deepEqual(loadConfig({ SCORING_API_KEYS_FILE: '/run/keys', SCORING_API_KEYS_RELOAD_MS: '500' }).auth, { mode: 'key-file', file: '/run/keys', reloadMs: 500 });
      assert.equal(
        configError({ SCORING_API_KEYS: 'a', SCORING_API_KEYS_FILE: '/run/keys' }),
        'Invalid configuration: set only one of SCORING_API_KEYS and SCORING_API_KEYS_FILE (both are set)',
      );
    });
  });
});

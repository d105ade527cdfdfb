/**
 * The scoring service process: read the configuration, start telemetry, build the app, listen, load
 * the model (readiness turns true once it is loaded, verified and warmed), and shut down cleanly on
 * SIGTERM/SIGINT.
 *
 *   node scoring-service/dist/server.js            # containers: refuses to start without API keys
 *   node scoring-service/dist/server.js --local    # npm start: no key configured → auth off, with a warning
 *
 * Fastify (and so node:http's users) is imported only after Application Insights has been started,
 * so its HTTP instrumentation sees every request; hence the dynamic imports below.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, loadConfig, type ServiceConfig } from './config.js';
import { applyHeapGrowingPercent } from './v8-heap.js';
import { listenFailure } from './listen-failure.js';
import type { AuthSettings } from './app.js';
import type { ScoringClassifier } from './classifier.js';
import type { KeyRing as KeyRingType } from './key-ring.js';
import type { Telemetry } from './telemetry.js';

const SERVICE_NAME = 'scoring-service';

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

let config: ServiceConfig;
try {
  config = loadConfig(process.env, { local: process.argv.includes('--local') });
} catch (err) {
  if (err instanceof ConfigError) fail(err.message);
  throw err;
}

// Before the model and the pool are loaded: see HEAP_GROWING_PERCENT in config.ts.
applyHeapGrowingPercent(config.heapGrowingPercent);

let telemetry: Telemetry | undefined;
if (config.appInsightsConnectionString !== undefined) {
  const { startTelemetry } = await import('./telemetry.js');
  telemetry = startTelemetry(config.appInsightsConnectionString, SERVICE_NAME);
}

const { KeyRing } = await import('./key-ring.js');
const { createServiceMetrics } = await import('./metrics.js');
const { buildApp } = await import('./app.js');
const { loadClassifier } = await import('./classifier.js');
const { jpegDecoder, pngDecoder, resampleWasmStatus } = await import('@model-deploy/inference');

let keyRing: KeyRingType | undefined;
let auth: AuthSettings;
try {
  keyRing = KeyRing.fromConfig(config.auth);
  auth = keyRing ? { mode: 'bearer', keys: keyRing } : { mode: 'disabled' };
} catch (err) {
  if (err instanceof ConfigError) fail(err.message);
  throw err;
}

const metrics = createServiceMetrics({ maxBatchSize: config.inference.maxBatchSize });
const loading: Promise<ScoringClassifier & { close(): Promise<void> }> = loadClassifier(config, metrics.classifierObserver, (err) => {
  app.log.fatal({ err }, 'the inference worker thread died; exiting so that the service is restarted');
  process.exit(1);
});
let loaded: (ScoringClassifier & { close(): Promise<void> }) | undefined;
// Failures are reported below once the app (and its logger) exists; this keeps them from being "unhandled".
loading.then((c) => (loaded = c)).catch(() => undefined);

const app = await buildApp({
  classifier: loading,
  auth,
  logger: { level: config.logLevel },
  metrics,
  limits: config.limits,
  slowRequestMs: config.slowRequestMs,
});
telemetry?.instrument(app);
keyRing?.setLogger(app.log);

if (config.auth.mode === 'disabled') {
  app.log.warn(
    config.auth.reason === 'SCORING_AUTH=disabled'
      ? 'authentication is disabled (SCORING_AUTH=disabled): anyone who can reach the service can score'
      : 'no API key configured: serving WITHOUT authentication for this local run (set SCORING_API_KEYS to require keys)',
  );
} else {
  app.log.info(
    { keys: keyRing?.size, source: config.auth.mode === 'key-file' ? 'SCORING_API_KEYS_FILE' : 'SCORING_API_KEYS' },
    'bearer-key authentication on',
  );
}
const jpeg = jpegDecoder();
const png = pngDecoder();
const resample = resampleWasmStatus();
app.log.info(
  { telemetry: telemetry ? 'application-insights' : 'off', inference: config.inferenceWorker ? 'worker thread' : config.inference.modelThreads !== 0 ? `in-process, the model on ${config.inference.modelThreads} thread(s) of its own` : 'in-process', jpegDecoder: jpeg, pngDecoder: png, resampleWasm: resample.loaded, heapGrowingPercent: config.heapGrowingPercent || "V8's own" },
  'started',
);
if (jpeg.decoder !== 'libjpeg-turbo') app.log.warn({ reason: jpeg.reason }, 'JPEGs are decoded by libvips: several times slower on camera photos');
if (png.decoder !== 'libspng') app.log.warn({ reason: png.reason }, 'small PNGs are decoded by pngjs: 2-5x slower');
if (!resample.loaded) app.log.warn({ reason: resample.reason }, 'resampling in JavaScript: several times slower than its WebAssembly build');

let stopping = false;
async function shutdown(signal: NodeJS.Signals | 'model-load-failure'): Promise<void> {
  if (stopping) {
    app.log.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  }
  stopping = true;
  const exitCode = signal === 'model-load-failure' ? 1 : 0;
  app.scoring.drain();
  const { graceMs } = config.shutdown;
  // Under Kubernetes, endpoints learn of the unready pod a moment after SIGTERM: keep serving meanwhile.
  // Ctrl-C (SIGINT) and a failed model load have no load balancer to wait for, so no delay.
  const delayMs = signal === 'SIGTERM' ? config.shutdown.delayMs : 0;
  app.log.info(
    { signal, delayMs, graceMs },
    delayMs > 0
      ? `shutting down: readiness is false; serving ${delayMs} ms more (SHUTDOWN_DELAY_MS) while load balancers notice, then finishing in-flight requests`
      : 'shutting down: readiness is false; finishing in-flight requests',
  );
  setTimeout(() => {
    app.log.error({ graceMs }, 'shutdown grace period exceeded; exiting');
    process.exit(1);
  }, graceMs).unref();
  if (delayMs > 0) await sleep(delayMs);
  await app.close(); // stops accepting connections, waits for in-flight requests
  await loaded?.close();
  keyRing?.close();
  await telemetry?.shutdown().catch((err: unknown) => app.log.warn({ err }, 'telemetry flush failed'));
  app.log.info({ exitCode }, 'stopped');
  process.exit(exitCode);
}
process.on('SIGTERM', (signal) => void shutdown(signal));
process.on('SIGINT', (signal) => void shutdown(signal));

try {
  await app.listen({ port: config.port, host: config.host });
} catch (err) {
  app.log.fatal({ err }, listenFailure(err, config.host, config.port));
  process.exit(1);
}

loading.then(
  (classifier) => {
    // The whole derived description, so what is served can be reviewed from the log alone.
    app.log.info(
      { model: classifier.card.name, version: classifier.card.version, sha256: classifier.card.sha256, modelDir: config.modelDir, description: classifier.card },
      'model loaded, verified and warmed: ready',
    );
  },
  (err: unknown) => {
    app.log.fatal({ err, modelDir: config.modelDir }, `cannot load the model: ${(err as Error).message}`);
    void shutdown('model-load-failure');
  },
);

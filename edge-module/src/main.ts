/**
 * The edge module process: check the IoT Edge environment, load the model, open the journal, serve the
 * seed contract + health routes over HTTP (the scoring service's own app), connect to edgeHub with
 * ModuleClient.fromEnvironment over MQTT, and stop cleanly on SIGTERM/SIGINT.
 *
 *   node --max-semi-space-size=2 edge-module/dist/main.js            # under the IoT Edge runtime (IOTEDGE_* + workload API)
 *   node --max-semi-space-size=2 edge-module/dist/main.js --local    # from a checkout: HTTP without API keys unless SCORING_API_KEYS is set
 *
 * (The flag is node-flags.ts: the image's CMD, `npm start` and `npm run start:edge` carry it.)
 *
 * With EdgeHubConnectionString + EdgeModuleCACertificateFile it runs as in the IoT Edge simulator.
 */
import iotDevice from 'azure-iot-device';
import { jpegDecoder, pngDecoder, resampleWasmStatus, type HostedClassifier } from '@model-deploy/inference';
import { ConfigError, loadEdgeConfig, type EdgeConfig } from './config.js';
import { scoreMethod } from './direct-methods.js';
import { applyHeapGrowingPercent, buildApp, createServiceMetrics, KeyRing, listenFailure, loadClassifier, type AuthSettings } from './http-contract.js';
import { Journal } from './journal.js';
import { describeError, EdgeModule, type ModuleClientLike } from './module.js';
import { tappedMqttTransport } from './mqtt-transport.js';

function fail(message: string): never {
  process.stderr.write(`edge-module: ${message}\n`);
  process.exit(1);
}

let config: EdgeConfig;
let auth: AuthSettings;
let keyRing: KeyRing | undefined;
try {
  config = loadEdgeConfig(process.env, { local: process.argv.includes('--local') });
  keyRing = KeyRing.fromConfig(config.service.auth);
  auth = keyRing ? { mode: 'bearer', keys: keyRing } : { mode: 'disabled' };
} catch (error) {
  if (error instanceof ConfigError) fail(error.message);
  throw error;
}
const { service } = config;
// Before the model and the pool are loaded: see HEAP_GROWING_PERCENT in config.ts.
applyHeapGrowingPercent(config.heapGrowingPercent);

const metrics = createServiceMetrics({ maxBatchSize: service.inference.maxBatchSize });
let classifier: HostedClassifier;
try {
  // INFERENCE_WORKER=true (the scoring service's switch) runs the model in a worker thread, so MQTT
  // traffic — the acknowledgements that retire journal entries included — is handled during a batch.
  // MODEL_THREADS (by default one per CPU) keeps preprocessing here and runs only the model on threads
  // of its own; loadClassifier hands `inference` to the core's Classifier.load as it is.
  const inference = { ...service.inference, modelThreads: config.modelThreads };
  classifier = await loadClassifier({ ...service, inference }, metrics.classifierObserver, (error) => {
    process.stderr.write(`edge-module: the inference worker thread died (${error.message}); exiting so that IoT Edge restarts the module\n`);
    process.exit(1);
  });
} catch (error) {
  fail(`cannot load the model from ${service.modelDir}: ${(error as Error).message}`);
}

// The device-side HTTP contract is the scoring service's app with the seed and health route groups.
const app = await buildApp({
  classifier,
  auth,
  logger: { level: service.logLevel, base: { module: config.connection.moduleId } },
  metrics,
  routes: { seed: true, health: true, v2: false, docs: false, metrics: true },
  limits: service.limits,
  slowRequestMs: service.slowRequestMs,
});
keyRing?.setLogger(app.log);
const log = app.log;

let journal: Journal;
try {
  journal = Journal.open({
    ...config.journal,
    onWarning: (message, details) => log.warn(details, message),
  });
} catch (error) {
  fail(`cannot open the journal in ${config.journal.dir} (JOURNAL_DIR): ${(error as Error).message}`);
}

let httpAddress = '';
try {
  httpAddress = await app.listen({ port: service.port, host: service.host });
} catch (error) {
  fail(listenFailure(error, service.host, service.port));
}

// eslint-disable-next-line prefer-const -- assigned after the transport, which needs the tap, is created
let module: EdgeModule;
const transport = tappedMqttTransport((topic, payload, ack) => module.tap(topic, payload, ack));
let client: ModuleClientLike;
try {
  client = (await iotDevice.ModuleClient.fromEnvironment(transport)) as unknown as ModuleClientLike;
} catch (error) {
  fail(`cannot create the IoT Edge module client: ${describeError(error)}`);
}

module = new EdgeModule({
  client,
  classifier,
  journal,
  log,
  score: scoreMethod(classifier, service.limits.maxImagesPerRequest),
  describe: () => ({ http: httpAddress }),
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping');
  const timer = setTimeout(() => {
    log.error({}, 'shutdown took too long; exiting');
    process.exit(1);
  }, service.shutdown.graceMs + 10_000);
  timer.unref();
  app.scoring.drain();
  await app.close();
  await module.stop(service.shutdown.graceMs);
  await classifier.close();
  keyRing?.close();
  log.info({}, 'stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

const jpeg = jpegDecoder();
const png = pngDecoder();
const resample = resampleWasmStatus();
log.info({
  http: httpAddress,
  connection: config.connection.kind,
  device: config.connection.deviceId,
  journal: { dir: config.journal.dir, fsync: config.journal.fsync, replaying: journal.recovered.length },
  heapGrowingPercent: config.heapGrowingPercent || "V8's own",
  model: { name: classifier.card.name, version: classifier.card.version },
  // The whole derived description, so what is served can be reviewed from the log alone.
  description: classifier.card,
  inference: service.inferenceWorker ? 'worker thread' : config.modelThreads !== 0 ? `main thread, the model on thread(s) of its own (MODEL_THREADS ${config.modelThreads})` : 'main thread',
  jpegDecoder: jpeg,
  pngDecoder: png,
  resampleWasm: resample.loaded,
  auth: auth.mode,
}, 'edge module starting');
if (jpeg.decoder !== 'libjpeg-turbo') log.warn({ reason: jpeg.reason }, 'JPEGs are decoded by libvips: several times slower on camera photos');
if (png.decoder !== 'libspng') log.warn({ reason: png.reason }, 'small PNGs are decoded by pngjs: 2-5x slower');
if (!resample.loaded) log.warn({ reason: resample.reason }, 'resampling in JavaScript: several times slower than its WebAssembly build');
module.start().then(
  () => log.info({ http: httpAddress }, 'edge module started'),
  (error: unknown) => {
    // Aborted by a stop while still connecting: shutdown() finishes the exit.
    if (stopping) return;
    log.fatal({ err: describeError(error) }, 'the edge module could not start');
    process.exit(1);
  },
);

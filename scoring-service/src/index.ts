/**
 * @model-deploy/scoring-service — the HTTP adapter over the inference core, reusable by the edge
 * module:
 *
 *   import { buildApp, createServiceMetrics, KeyRing } from '@model-deploy/scoring-service';
 *   const metrics = createServiceMetrics();
 *   const classifier = Classifier.load({ modelDir, observer: metrics.classifierObserver });
 *   const app = await buildApp({
 *     classifier,                                    // or an already-loaded Classifier
 *     auth: { mode: 'bearer', keys: new KeyRing(['primary-key', 'secondary-key']) }, // or { mode: 'disabled' }
 *     routes: { seed: true, health: true, v2: false, docs: false, metrics: true },
 *     logger: { level: 'info' },
 *     metrics,
 *   });
 *   await app.listen({ port: 5001, host: '0.0.0.0' });
 *   // on shutdown: app.scoring.drain(); await app.close(); await classifier.close();
 */
export { buildApp } from './app.js';
export type { AuthSettings, BuildAppOptions, RouteGroups } from './app.js';
export { loadClassifier } from './classifier.js';
export type { ClassifierSource, ScoringClassifier } from './classifier.js';
export { ConfigError, DEFAULT_MODEL_DIR, ENV_VARS, loadConfig, parseKeyList } from './config.js';
export type { AuthConfig, LoadConfigOptions, ServiceConfig } from './config.js';
export { HttpError } from './errors.js';
export { KeyRing } from './key-ring.js';
export { listenFailure } from './listen-failure.js';
export { createServiceMetrics } from './metrics.js';
export type { ServiceMetrics, ServiceMetricsOptions } from './metrics.js';
export type { ScoringState } from './plugins/scoring-state.js';
export { applyHeapGrowingPercent } from './v8-heap.js';

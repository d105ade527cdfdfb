/**
 * The edge module's one deliberate dependency on the scoring service, and its only import site: the
 * device serves the same HTTP contract on port 5001 by mounting the service's own Fastify app, built
 * from the service's own configuration schema (PORT, MODEL_DIR, API keys, limits ...) with its metrics,
 * keys and way of loading the model (INFERENCE_WORKER), and the V8 heap setting both apps apply at start-up. Everything else the module shares with the service comes from @model-deploy/codecs and
 * @model-deploy/inference, which are not HTTP.
 */
export { applyHeapGrowingPercent, buildApp, ConfigError, createServiceMetrics, KeyRing, listenFailure, loadClassifier, loadConfig } from '@model-deploy/scoring-service';
export type { AuthSettings, ServiceConfig } from '@model-deploy/scoring-service';

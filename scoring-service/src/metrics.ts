/**
 * Prometheus metrics of one service instance, in their own registry (so tests and the edge module can
 * build several apps in one process). Labels stay low-cardinality: route patterns, not URLs.
 *
 * Create the metrics BEFORE loading the classifier and pass `classifierObserver` to Classifier.load,
 * so formed batch sizes, inference time and overload rejections are recorded:
 *
 *   const metrics = createServiceMetrics();
 *   const classifier = Classifier.load({ modelDir, observer: metrics.classifierObserver });
 *   const app = await buildApp({ classifier, metrics, auth, ... });
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ClassifierObserver } from '@model-deploy/inference';
import type { ScoringClassifier } from './classifier.js';

export interface ServiceMetrics {
  readonly registry: Registry;
  /** Pass to Classifier.load({ observer }). */
  readonly classifierObserver: ClassifierObserver;
  /** Points the queue-depth gauge and model gauges at the loaded classifier. */
  attach(classifier: ScoringClassifier, isReady: () => boolean): void;
  /** Counts one HTTP request (route = the route pattern, or "unmatched"). */
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void;
  /** Counts one scored image by its predicted label. */
  countImage(label: string): void;
  /** Counts authentication outcomes: which key slot matched, or "rejected". */
  countAuth(result: string): void;
}

export interface ServiceMetricsOptions {
  /** Largest batch the core may form; sets the batch-size histogram's buckets. Default 32. */
  maxBatchSize?: number;
  /** Collect Node.js process metrics (CPU, memory, event loop lag, GC). Default true. */
  processMetrics?: boolean;
}

function batchBuckets(max: number): number[] {
  const buckets = new Set<number>([1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 256, 512, 1024].filter((b) => b < max));
  buckets.add(max);
  return [...buckets].sort((a, b) => a - b);
}

export function createServiceMetrics(options: ServiceMetricsOptions = {}): ServiceMetrics {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving a request to sending its answer, by method and route pattern.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: 'inference_batch_size',
    help: 'Images per batch formed by the inference core (dynamic batching across requests).',
    buckets: batchBuckets(options.maxBatchSize ?? 32),
    registers: [registry],
  });
  const batchSeconds = new Histogram({
    name: 'inference_batch_duration_seconds',
    help: 'onnxruntime time per formed batch.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'inference_rejected_total',
    help: 'Requests refused because the inference queue was full (answered 503 with Retry-After).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  // Present at 0 from the start, so alerts on its rate work before the first rejection.
  rejected.labels('overloaded').inc(0);
  const images = new Counter({
    name: 'images_scored_total',
    help: 'Images classified, by predicted label.',
    labelNames: ['label'] as const,
    registers: [registry],
  });
  const auth = new Counter({
    name: 'auth_requests_total',
    help: 'Authenticated-route requests by outcome: the key slot that matched (primary, secondary) or rejected. Shows when an old key stops being used.',
    labelNames: ['result'] as const,
    registers: [registry],
  });

  let classifier: ScoringClassifier | undefined;
  let isReady: () => boolean = () => false;
  new Gauge({
    name: 'inference_queue_depth',
    help: 'Images admitted by the inference core and not yet answered.',
    registers: [registry],
    collect() {
      this.set(classifier?.queueDepth ?? 0);
    },
  });
  new Gauge({
    name: 'model_ready',
    help: '1 when the model is loaded, verified and warmed and the service is not shutting down.',
    registers: [registry],
    collect() {
      this.set(isReady() ? 1 : 0);
    },
  });
  const info = new Gauge({
    name: 'model_info',
    help: 'The served model (value always 1).',
    labelNames: ['name', 'version', 'sha256'] as const,
    registers: [registry],
  });

  // prom-client hashes label values on every call; caching the children keeps the hot path short.
  const requestChildren = new Map<string, { count: Counter.Internal; time: Histogram.Internal<'method' | 'route'> }>();
  const imageChildren = new Map<string, Counter.Internal>();

  return {
    registry,
    classifierObserver: {
      onBatch(size, inferenceMs) {
        batchSize.observe(size);
        batchSeconds.observe(inferenceMs / 1000);
      },
      onRejected(reason) {
        rejected.inc({ reason });
      },
    },
    attach(c, ready) {
      classifier = c;
      isReady = ready;
      info.reset();
      info.set({ name: c.card.name, version: c.card.version, sha256: c.card.sha256 }, 1);
    },
    observeRequest(method, route, statusCode, seconds) {
      const key = `${method} ${route} ${statusCode}`;
      let child = requestChildren.get(key);
      if (child === undefined) {
        child = {
          count: requests.labels(method, route, String(statusCode)),
          time: duration.labels(method, route),
        };
        requestChildren.set(key, child);
      }
      child.count.inc();
      child.time.observe(seconds);
    },
    countImage(label) {
      let child = imageChildren.get(label);
      if (child === undefined) {
        child = images.labels(label);
        imageChildren.set(label, child);
      }
      child.inc();
    },
    countAuth(result) {
      auth.inc({ result });
    },
  };
}

/**
 * Builds the Fastify app (no listening: server.ts does that, tests use `inject`). The edge module
 * builds the same app to serve the seed contract and health routes on the device.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { Ajv, type Options as AjvOptions } from 'ajv';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { ClassifierSource } from './classifier.js';
import { errorHandler, HttpError, notFoundHandler } from './errors.js';
import { BufferPool } from '@model-deploy/codecs';
import { readBody } from './body-buffers.js';
import { releaseUnclaimedImage } from './image-body.js';
import { parseJsonBody, releaseUnclaimed } from './json-body.js';
import { createServiceMetrics, type ServiceMetrics } from './metrics.js';
import { authPlugin, type AuthSettings } from './plugins/auth.js';
import { scoringStatePlugin } from './plugins/scoring-state.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { seedRoutes } from './routes/seed.js';
import { v2Routes } from './routes/v2.js';

export type { AuthSettings } from './plugins/auth.js';

/** Which route groups to mount; each defaults to true. */
export interface RouteGroups {
  /** `GET /` (liveness) and `POST /score` (the seed contract). */
  seed?: boolean;
  /** `GET /v2/health/live`, `GET /v2/health/ready`. */
  health?: boolean;
  /** `GET /v2`, `GET /v2/models/<name>[/ready]`, `POST /v2/models/<name>/infer`. */
  v2?: boolean;
  /** OpenAPI 3 UI at `/docs`, JSON at `/docs/json`. */
  docs?: boolean;
  /** Prometheus text at `/metrics`. */
  metrics?: boolean;
}

export interface BuildAppOptions {
  /**
   * The inference core's classifier, or a promise of it. Until the promise resolves, readiness is
   * false and the model routes answer 503 model_not_ready; if it rejects, they stay so (the owner
   * of the promise should report the failure and exit).
   */
  classifier: ClassifierSource;
  /** `{ mode: 'bearer', keys: KeyRing }` protects /score and /v2/models/*; `{ mode: 'disabled' }` does not. */
  auth: AuthSettings;
  /**
   * Fastify/pino logger options (`true` = info level, `false` = silent, the default). The
   * Authorization header is always redacted.
   */
  logger?: boolean | { level?: string; [option: string]: unknown };
  /** Route groups to mount (all by default). */
  routes?: RouteGroups;
  /**
   * Metrics registry; create it with createServiceMetrics() before loading the classifier and pass its
   * `classifierObserver` to Classifier.load so batch sizes and inference time are recorded.
   * Default: a fresh one (without batch metrics).
   */
  metrics?: ServiceMetrics;
  /** Images per request (default 64) and request body bytes (default 16 MiB). */
  limits?: { maxImagesPerRequest?: number; bodyLimitBytes?: number };
  /** Requests slower than this many ms are logged at warn level (default 1000). */
  slowRequestMs?: number;
  /**
   * Reused buffers the photo-sized images of a seed body are decoded into (json-body.ts), given back
   * once the route has its predictions. Default: a pool of the app's own over SharedArrayBuffers, so a
   * preprocessing thread reads each photo in place (a fresh Buffer per photo, handed over to the
   * thread, cost 0-7% of the images/s on 1920-px photos, ~2% in the median: json-body.ts).
   */
  imageBuffers?: BufferPool;
}

const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

const DEBUG_LEVELS = new Set<string | undefined>(['debug', 'trace']);

const REDACT = ['req.headers.authorization', 'headers.authorization', 'authorization'];

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const SERVER_VERSION = packageVersion();

function loggerOption(logger: BuildAppOptions['logger']): FastifyServerOptions['logger'] {
  if (logger === undefined || logger === false) return false;
  const base = logger === true ? {} : logger;
  return { level: 'info', ...base, redact: { paths: REDACT, censor: '[redacted]' } } as FastifyServerOptions['logger'];
}

// Bodies are validated without type coercion (a number must not pass as a base64 string); query
// strings and path parameters arrive as text and are coerced (top_k=3 → 3).
const ajvCommon: AjvOptions = { useDefaults: true, removeAdditional: true, allErrors: false, strict: false };

/**
 * Builds the app with the chosen route groups (more routes may still be added). Call `listen()` or
 * `inject()` on the result, `app.scoring.drain()` to turn readiness false, and `close()` when done
 * (closing the app does not close the classifier: its owner does).
 */
export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const groups: Required<RouteGroups> = { seed: true, health: true, v2: true, docs: true, metrics: true, ...options.routes };
  const maxImagesPerRequest = options.limits?.maxImagesPerRequest ?? 64;
  const bodyLimit = options.limits?.bodyLimitBytes ?? 16 * 1024 * 1024;
  const slowMs = options.slowRequestMs ?? 1000;
  const metrics = options.metrics ?? createServiceMetrics();

  const app = Fastify({
    logger: loggerOption(options.logger),
    // One summary line per request is written below, and only for failures and slow requests, so
    // logging does not dominate the hot path.
    logController: new LogController({ disableRequestLogging: true }),
    // The client's X-Request-Id when it is a plausible id, else a fresh UUID (unique across replicas
    // and restarts, unlike Fastify's counter); echoed on every answer, so a caller can quote it.
    requestIdHeader: false,
    genReqId: requestId,
    bodyLimit,
    // Fastify's default (0) would switch off Node's own limit: a client trickling a body must not
    // hold a connection forever.
    requestTimeout: 60_000,
    routerOptions: { ignoreTrailingSlash: true },
    return503OnClosing: true,
  });

  const bodyAjv = new Ajv({ ...ajvCommon, coerceTypes: false });
  // removeAdditional off for query strings: a query schema with additionalProperties: false then
  // refuses an unknown (often misspelt) parameter instead of dropping it without a word.
  const textAjv = new Ajv({ ...ajvCommon, coerceTypes: 'array', removeAdditional: false });
  app.setValidatorCompiler(({ schema, httpPart }) => {
    // OpenAPI's {type: string, format: binary} documents an image file as the body (routes/seed.ts):
    // bytes, which the core sniffs and checks, and no JSON Schema can.
    if (httpPart === 'body' && (schema as { format?: unknown }).format === 'binary') return () => true;
    return (httpPart === 'body' ? bodyAjv : textAjv).compile(schema);
  });
  // Every body this service takes is JSON, or (POST /score) one image file. Fastify would also parse
  // text/plain into a string, which then failed schema validation with a message about the body's
  // shape; a JSON body sent as text/plain (a common client mistake) now gets 415 naming the content
  // type to send.
  app.removeContentTypeParser('text/plain');
  // Fastify's own JSON parser answers every failure with one generic sentence; this one (the same
  // secure-json-parse, the same prototype-poisoning refusal) says what is wrong and where, and takes a
  // seed body of photos apart from its bytes (json-body.ts).
  app.removeContentTypeParser('application/json');
  // Photo-sized bodies are read into reused buffers (body-buffers.ts), with Fastify's limits and errors.
  const bodyBuffers = new BufferPool();
  const imageBuffers = options.imageBuffers ?? new BufferPool({ shared: true });
  const parse = (bytes: Buffer): unknown => parseJsonBody(bytes, imageBuffers);
  app.addContentTypeParser('application/json', (request, payload, done) => readBody(request, payload, bodyLimit, bodyBuffers, parse, done));
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    // Bodies are read as they come; a compressed one would fail as "not valid JSON", which misleads.
    const encoding = request.headers['content-encoding'];
    if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
      done(
        new HttpError(
          415,
          'unsupported_content_encoding',
          `Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not supported; send the body uncompressed`,
        ),
      );
      return;
    }
    done();
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

  app.addHook('onResponse', (request, reply, done) => {
    releaseUnclaimed(request.body);
    releaseUnclaimedImage(request.body);
    const status = reply.statusCode;
    const ms = reply.elapsedTime;
    metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', status, ms / 1000);
    const level = status >= 500 || ms >= slowMs ? 'warn' : status >= 400 ? 'info' : 'debug';
    // A successful request is logged only at debug level; build its line only when that is on.
    if (level !== 'debug' || DEBUG_LEVELS.has(request.log.level)) {
      request.log[level]({ req: { method: request.method, url: request.url }, res: { statusCode: status }, responseTime: ms }, 'request completed');
    }
    done();
  });

  await app.register(scoringStatePlugin, {
    classifier: options.classifier,
    onLoaded: (c) => metrics.attach(c, () => app.scoring.isReady()),
  });
  await app.register(authPlugin, { auth: options.auth, metrics });

  if (groups.docs) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'Image classifier scoring service',
          description:
            'Classifies images with the bundled model. `POST /score` is the original (seed) contract; ' +
            '`/v2/...` is the Open Inference Protocol. With keys configured, the scoring and model routes ' +
            'need `Authorization: Bearer <key>`.',
          version: SERVER_VERSION,
        },
        components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
        tags: [
          { name: 'scoring', description: 'The seed contract' },
          { name: 'v2', description: 'Open Inference Protocol (V2) REST' },
          { name: 'health', description: 'Liveness and readiness' },
          { name: 'operations', description: 'Metrics' },
        ],
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
  }

  if (groups.seed) await app.register(seedRoutes, { maxImagesPerRequest, metrics, bodyLimit, imageBuffers });
  if (groups.health) await app.register(healthRoutes);
  if (groups.v2) {
    await app.register(v2Routes, {
      maxImagesPerRequest,
      metrics,
      serverName: 'model-deploy-scoring-service',
      serverVersion: SERVER_VERSION,
    });
  }
  if (groups.metrics) await app.register(metricsRoutes, { metrics });
  return app;
}

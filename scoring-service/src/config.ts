/**
 * The service's configuration: read from the environment once, at start-up, and validated against one
 * schema. This is the only file that looks at `process.env` (server.ts passes it in). A bad value
 * fails with a sentence naming the variable and what was expected; API keys are never echoed.
 *
 * Longer than 300 lines because most of it is the ENV_VARS table, one entry per variable (schema, the
 * phrase for its error, its description): docs/configuration.md is generated from it.
 */
import { fileURLToPath } from 'node:url';
import { envSchema } from 'env-schema';

/** Thrown for any configuration problem; the message is meant for the operator as is. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** How requests to the scoring and V2 model routes are authenticated. */
export type AuthConfig =
  | { mode: 'disabled'; reason: 'SCORING_AUTH=disabled' | 'local run without keys' }
  | { mode: 'keys'; keys: string[] }
  | { mode: 'key-file'; file: string; reloadMs: number };

export interface ServiceConfig {
  port: number;
  host: string;
  modelDir: string;
  /** The V2 model name; undefined = the card's name, or an export folder's name. */
  modelName: string | undefined;
  auth: AuthConfig;
  /** Knobs passed to the inference core's Classifier.load. */
  inference: {
    maxBatchSize: number;
    maxBatchWaitMs: number;
    maxQueue: number;
    maxImageBytes: number;
    maxImagePixels: number;
    /** undefined = the core's default. */
    intraOpThreads: number | undefined;
    /** onnxruntime's intra-op threads busy-wait between parallel sections (its default). */
    intraOpSpinning: boolean;
    /** Image-preprocessing worker threads; undefined = the core's default (available parallelism). */
    preprocessThreads: number | undefined;
    /** Exact mode: no reduced decode of large images; pixels identical to Pillow's. */
    exactPreprocessing: boolean;
    /** The reduced decode keeps at least this many times the model's size (Pillow's reducing_gap). */
    reducingGap: number;
    /** Turn images as their EXIF orientation says before preprocessing (Pillow's exif_transpose). */
    exifOrientation: boolean;
    /**
     * Threads the model runs on, each with its own session; 0: on the event loop's thread. The service
     * reads a number; 'auto' is the edge module's default, which passes this object on to the core.
     */
    modelThreads: number | 'auto';
  };
  /** Host the inference core in a worker thread, so model runs do not stop the HTTP event loop. */
  inferenceWorker: boolean;
  limits: { maxImagesPerRequest: number; bodyLimitBytes: number };
  shutdown: { graceMs: number; delayMs: number };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Requests slower than this are logged at warn level (all others only at debug). */
  slowRequestMs: number;
  /** V8's old-generation growing factor after a full collection, as a percentage (HEAP_GROWING_PERCENT); 0: V8's own heuristics. */
  heapGrowingPercent: number;
  /** undefined = Application Insights telemetry off. */
  appInsightsConnectionString: string | undefined;
}

const MiB = 1024 * 1024;

// The repository's model/ relative to this file (src/ or dist/ → ../../model); in the image the same
// relative path lands on /app/model.
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../model', import.meta.url));

export interface VarSpec {
  schema: Record<string, unknown>;
  /** Completes "X must be …" in error messages. */
  expected: string;
  /** What the variable does; docs/configuration.md is generated from it (npm run docs). */
  description: string;
  /** The default when it is not a constant of the schema (computed at start-up). */
  defaultText?: string;
  /** Never echo the value (keys, connection strings). */
  secret?: boolean;
}

const int = (min: number, max: number, dflt?: number): Record<string, unknown> => ({
  type: 'integer',
  minimum: min,
  maximum: max,
  ...(dflt === undefined ? {} : { default: dflt }),
});

/** Every variable the service reads, with its schema and the phrase used when it is wrong. */
export const ENV_VARS: Record<string, VarSpec> = {
  PORT: {
    schema: int(0, 65535, 5001), expected: 'an integer between 0 and 65535 (0 picks a free port)',
    description: "TCP port (0 = any free port)",
  },
  HOST: {
    schema: { type: 'string', minLength: 1, default: '127.0.0.1' }, expected: 'a host name or IP address',
    description: "Address to listen on; the container image sets `0.0.0.0`",
  },
  MODEL_DIR: {
    schema: { type: 'string', minLength: 1 },
    expected: 'a directory holding a model: card.json and the model file it names, or a Hugging Face or timm export (model.onnx, config.json, preprocessor_config.json)',
    description: "Model folder: `card.json` and the model file it names (sha256-checked at start), or a Hugging Face / timm export (see [models.md](models.md#bring-your-own-model-hugging-face-timm-keras-pytorch-exports))",
    defaultText: "the repository's `model/` (`/app/model` in the image)",
  },
  MODEL_NAME: {
    schema: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' },
    expected: "a model name for the V2 API (letters, digits, '.', '_', '-'); default: the card's name, or the model folder's name",
    description: "Model name in the V2 API",
    defaultText: "the card's name, or the folder's name",
  },
  SCORING_API_KEYS: {
    schema: { type: 'string' },
    expected: 'a comma-separated list of keys (primary first)',
    secret: true,
    description: "Comma-separated API keys, primary first, secondary second",
  },
  SCORING_API_KEYS_FILE: {
    schema: { type: 'string', minLength: 1 }, expected: 'the path of a file holding the keys',
    description: "File with the keys (one per line or comma-separated), re-read while running; use instead of `SCORING_API_KEYS` (setting both is an error)",
  },
  SCORING_API_KEYS_RELOAD_MS: {
    schema: int(100, 3_600_000, 2000),
    expected: 'an integer number of milliseconds between 100 and 3600000',
    description: "How often the key file is re-read",
  },
  SCORING_AUTH: {
    schema: { type: 'string', enum: ['enabled', 'disabled'], default: 'enabled' }, expected: '"enabled" or "disabled"',
    description: "`disabled` serves without authentication (the only way to run a container without keys)",
  },
  BATCH_MAX_SIZE: {
    schema: int(1, 1024, 32), expected: 'an integer between 1 and 1024',
    description: "Most images in one model run",
  },
  BATCH_MAX_WAIT_MS: {
    schema: { type: 'number', minimum: 0, maximum: 1000, default: 2 }, expected: 'a number of milliseconds between 0 and 1000',
    description: "How long an idle model waits for a batch to fill, while requests overlap: once such a wait gathers nobody, a request that finds the model idle runs at once, until one arrives during a run (one photo at a time is not held: a 224-px photo ~1.6–2.0 ms instead of 5.0–5.8); after a run, how long the next waits for photos still being decoded in the pool (`PREPROCESS_THREADS`), when fewer than `BATCH_MAX_SIZE` images wait",
  },
  QUEUE_MAX: {
    schema: int(1, 1_000_000, 512), expected: 'an integer between 1 and 1000000',
    description: "Most images admitted and not yet answered; beyond it requests get 503 (must be ≥ `MAX_IMAGES_PER_REQUEST`)",
  },
  MAX_IMAGE_BYTES: {
    schema: int(1024, 256 * MiB, 8 * MiB), expected: 'an integer number of bytes between 1024 and 268435456',
    description: "Largest encoded image",
  },
  MAX_IMAGE_PIXELS: {
    schema: int(784, 1_000_000_000, 40_000_000), expected: 'an integer between 784 and 1000000000',
    description: "Largest width × height, read from the image header before decoding",
  },
  MAX_IMAGES_PER_REQUEST: {
    schema: int(1, 10_000, 64), expected: 'an integer between 1 and 10000',
    description: "Most images in one request",
  },
  BODY_LIMIT_BYTES: {
    schema: int(1024, 1024 * MiB, 16 * MiB), expected: 'an integer number of bytes between 1024 and 1073741824',
    description: "Largest request body",
  },
  INTRA_OP_THREADS: {
    schema: int(1, 256), expected: 'an integer between 1 and 256',
    description: "onnxruntime threads per model run",
    defaultText: "number of CPUs",
  },
  INTRA_OP_SPINNING: {
    schema: { type: 'boolean', default: false }, expected: 'true or false',
    description: "`true` lets onnxruntime's intra-op threads busy-wait between runs (onnxruntime's own default). Off by default: spinning threads take the cores from the image-decoding threads, the event loop and, under a CPU limit, the pod's quota; off measured the same 28x28 throughput with a shorter tail (p99/mean 1.57 against 1.69) and steadier CPU per photo (see [bench/README.md](../bench/README.md))",
  },
  INFERENCE_WORKER: {
    schema: { type: 'boolean', default: false }, expected: 'true or false',
    description: "`true` runs the inference core in a worker thread, so that model runs (synchronous in onnxruntime-node) do not stop the HTTP event loop; no faster on 2 cores (see [bench/README.md](../bench/README.md))",
  },
  MODEL_THREADS: {
    schema: int(0, 64, 0), expected: 'an integer between 0 and 64 (0 runs the model on the main thread)',
    description: "Threads the model runs on, each with its own onnxruntime session and batches (an image goes to the thread with the fewest waiting), while the main thread goes on reading requests and decoding images; with threads, `INTRA_OP_THREADS` defaults to the CPUs divided among them. `0`: the model runs on the main thread, which each run stops (the most images/s on 2 cores). On 2 cores shared with the load generator, `MODEL_THREADS=1` with `INTRA_OP_THREADS=1` gave one 28x28 image per request the shortest tail (p99 1.46–1.67x the mean, against 1.70–2.02 by default) at about 75% of the default's requests/s: the model then has one core, and no run waits for a thread the other work took (see [bench/README.md](../bench/README.md)). Ignored with `INFERENCE_WORKER=true`, which moves the whole inference core into a worker",
  },
  PREPROCESS_THREADS: {
    schema: int(0, 256), expected: 'an integer between 0 and 256 (0 decodes images on the main thread)',
    description: "Worker threads that decode and resize images larger than 16x the model's pixels; `0` does it all on the event loop. `os.availableParallelism()` counts the CPUs in the affinity mask and, on Node 24 (libuv 1.49 and later), a container's CPU quota (a limit of 1.5 CPUs gives 1)",
    defaultText: 'the CPUs this process may use (`os.availableParallelism()`: affinity mask and CPU quota)',
  },
  EXACT_PREPROCESSING: {
    schema: { type: 'boolean', default: false }, expected: 'true or false',
    description: "`true` turns the reduced decode of large images off: every image is decoded at full size and resized by the model's filter, pixels identical to Pillow's, at several times the cost per camera photo (see [bench/README.md](../bench/README.md))",
  },
  REDUCING_GAP: {
    schema: { type: 'number', minimum: 1, maximum: 64, default: 4 }, expected: 'a number between 1 and 64',
    description: "How far the decoder may shrink a large image before the model's own filter takes over, as Pillow's `reducing_gap`: the decoded image keeps at least this many times the model's size across the region the resize reads (JPEG DCT scaling to 1/2, 1/4 or 1/8; libvips shrink-on-load for other formats). `4` keeps the bundled model within 0.2 grey level of the exact path; `2`, what Pillow's `thumbnail()` and libvips' `thumbnail` keep, lets a 224-px model decode a 1920x1080 frame at 1/2, for ~1.5x less CPU per frame at a mean 0.25–0.45 grey level from the exact path instead of 0 (measured on photos, see [models.md](models.md#reduced-decoding-and-reducing_gap)). Ignored with `EXACT_PREPROCESSING=true`",
  },
  EXIF_ORIENTATION: {
    schema: { type: 'boolean', default: true }, expected: 'true or false',
    description: "Turn each image as its EXIF orientation tag says before preprocessing, as Pillow's `ImageOps.exif_transpose` and Hugging Face's `load_image` do (phone photos are stored sideways and tagged); `false` for models trained on pixels as stored (plain `Image.open`)",
  },
  HEAP_GROWING_PERCENT: {
    schema: int(0, 1000, 300), expected: 'an integer from 0 to 1000',
    description: "How far V8 lets the JavaScript heap grow past what a full collection left alive before it starts the next one (V8's `--heap-growing-percent`, set at start-up; the edge module's setting of the same name): `300` lets a ~20 MB heap reach ~80 MB. Node's HTTP parser hands each request body to JavaScript as copies of its chunks, memory V8 weighs against that limit; photos sent as the file itself (`Content-Type: image/jpeg`) leave the service so little garbage of its own that its heap stayed ~20 MB and, with V8's own heuristics, a full mark-compact ran every ~150 ms under load: 0.4–0.6 CPU-ms more per 1920-px photo than the same photos in JSON, ~10% fewer img/s. With `300`, 2% more CPU than JSON, for ~10-25 MB more peak memory (see [bench/README.md](../bench/README.md)). `0`: V8's own heuristics (the least memory)",
  },
  SHUTDOWN_GRACE_MS: {
    schema: int(1000, 3_600_000, 20_000), expected: 'an integer number of milliseconds between 1000 and 3600000',
    description: "Hard limit for a graceful shutdown; past it the process exits 1",
  },
  SHUTDOWN_DELAY_MS: {
    schema: int(0, 3_600_000, 2000), expected: 'an integer number of milliseconds between 0 and 3600000',
    description: "After SIGTERM, keep serving (unready) this long so load balancers stop sending traffic first",
  },
  SLOW_REQUEST_MS: {
    schema: int(1, 3_600_000, 1000), expected: 'an integer number of milliseconds between 1 and 3600000',
    description: "Requests slower than this are logged at warn level",
  },
  LOG_LEVEL: {
    schema: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    expected: 'one of fatal, error, warn, info, debug, trace, silent',
    description: "Minimum level of the log lines written (JSON, one per line, to stdout)",
  },
  APPLICATIONINSIGHTS_CONNECTION_STRING: {
    schema: { type: 'string', pattern: '(^|;)\\s*(InstrumentationKey|IngestionEndpoint)\\s*=' },
    expected: 'an Application Insights connection string (InstrumentationKey=…;IngestionEndpoint=…)',
    secret: true,
    description: "Turns on request telemetry to Application Insights (off when unset)",
  },
};

const schema = {
  type: 'object',
  properties: Object.fromEntries(Object.entries(ENV_VARS).map(([name, spec]) => [name, spec.schema])),
};

interface RawEnv {
  PORT: number;
  HOST: string;
  MODEL_DIR?: string;
  MODEL_NAME?: string;
  SCORING_API_KEYS?: string;
  SCORING_API_KEYS_FILE?: string;
  SCORING_API_KEYS_RELOAD_MS: number;
  SCORING_AUTH: 'enabled' | 'disabled';
  BATCH_MAX_SIZE: number;
  BATCH_MAX_WAIT_MS: number;
  QUEUE_MAX: number;
  MAX_IMAGE_BYTES: number;
  MAX_IMAGE_PIXELS: number;
  MAX_IMAGES_PER_REQUEST: number;
  BODY_LIMIT_BYTES: number;
  INTRA_OP_THREADS?: number;
  INTRA_OP_SPINNING: boolean;
  INFERENCE_WORKER: boolean;
  MODEL_THREADS: number;
  PREPROCESS_THREADS?: number;
  EXACT_PREPROCESSING: boolean;
  REDUCING_GAP: number;
  EXIF_ORIENTATION: boolean;
  HEAP_GROWING_PERCENT: number;
  SHUTDOWN_GRACE_MS: number;
  SHUTDOWN_DELAY_MS: number;
  SLOW_REQUEST_MS: number;
  LOG_LEVEL: ServiceConfig['logLevel'];
  APPLICATIONINSIGHTS_CONNECTION_STRING?: string;
}

interface AjvLikeError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
}

/** Splits a key list (commas, whitespace or new lines) into keys; empty entries are dropped. */
export function parseKeyList(text: string): string[] {
  return text.split(/[\s,]+/).filter((k) => k.length > 0);
}

export interface LoadConfigOptions {
  /**
   * A developer's local run (`npm start`): with no key configured, serve without auth and warn,
   * instead of refusing to start. Containers never pass this.
   */
  local?: boolean;
}

/**
 * Validates the environment and returns the typed configuration; throws ConfigError otherwise.
 * Empty variables count as unset (Kubernetes renders optional values as "").
 */
export function loadConfig(env: NodeJS.ProcessEnv, options: LoadConfigOptions = {}): ServiceConfig {
  const data: Record<string, string> = {};
  for (const name of Object.keys(ENV_VARS)) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') data[name] = value.trim();
  }

  let raw: RawEnv;
  try {
    raw = envSchema<RawEnv>({ schema, data, env: false });
  } catch (err) {
    const errors = (err as { errors?: AjvLikeError[] }).errors;
    if (!errors) throw err;
    throw new ConfigError(errors.map((e) => describe(e, data)).join('\n'));
  }

  const keysText = raw.SCORING_API_KEYS;
  const keyFile = raw.SCORING_API_KEYS_FILE;
  if (keysText !== undefined && keyFile !== undefined) {
    throw new ConfigError(
      'Invalid configuration: set only one of SCORING_API_KEYS and SCORING_API_KEYS_FILE (both are set)',
    );
  }
  let auth: AuthConfig;
  if (raw.SCORING_AUTH === 'disabled') {
    auth = { mode: 'disabled', reason: 'SCORING_AUTH=disabled' };
  } else if (keyFile !== undefined) {
    auth = { mode: 'key-file', file: keyFile, reloadMs: raw.SCORING_API_KEYS_RELOAD_MS };
  } else if (keysText !== undefined && parseKeyList(keysText).length > 0) {
    auth = { mode: 'keys', keys: parseKeyList(keysText) };
  } else if (options.local) {
    auth = { mode: 'disabled', reason: 'local run without keys' };
  } else {
    throw new ConfigError(
      'Invalid configuration: no API key configured: set SCORING_API_KEYS (comma-separated keys, primary first) ' +
        'or SCORING_API_KEYS_FILE (a file with the keys), or set SCORING_AUTH=disabled to serve without authentication',
    );
  }

  if (raw.QUEUE_MAX < raw.MAX_IMAGES_PER_REQUEST) {
    throw new ConfigError(
      `Invalid configuration: QUEUE_MAX (${raw.QUEUE_MAX}) must be at least MAX_IMAGES_PER_REQUEST ` +
        `(${raw.MAX_IMAGES_PER_REQUEST}), or a request of the maximum size could never be admitted`,
    );
  }
  if (raw.SHUTDOWN_DELAY_MS >= raw.SHUTDOWN_GRACE_MS) {
    throw new ConfigError(
      `Invalid configuration: SHUTDOWN_DELAY_MS (${raw.SHUTDOWN_DELAY_MS}) must be less than SHUTDOWN_GRACE_MS ` +
        `(${raw.SHUTDOWN_GRACE_MS}), or in-flight requests get no time to finish`,
    );
  }

  return {
    port: raw.PORT,
    host: raw.HOST,
    modelDir: raw.MODEL_DIR ?? DEFAULT_MODEL_DIR,
    modelName: raw.MODEL_NAME,
    auth,
    inference: {
      maxBatchSize: raw.BATCH_MAX_SIZE,
      maxBatchWaitMs: raw.BATCH_MAX_WAIT_MS,
      maxQueue: raw.QUEUE_MAX,
      maxImageBytes: raw.MAX_IMAGE_BYTES,
      maxImagePixels: raw.MAX_IMAGE_PIXELS,
      intraOpThreads: raw.INTRA_OP_THREADS,
      intraOpSpinning: raw.INTRA_OP_SPINNING,
      preprocessThreads: raw.PREPROCESS_THREADS,
      exactPreprocessing: raw.EXACT_PREPROCESSING,
      reducingGap: raw.REDUCING_GAP,
      exifOrientation: raw.EXIF_ORIENTATION,
      // INFERENCE_WORKER moves the whole core, model included, into a worker: no model threads then.
      modelThreads: raw.INFERENCE_WORKER ? 0 : raw.MODEL_THREADS,
    },
    inferenceWorker: raw.INFERENCE_WORKER,
    limits: { maxImagesPerRequest: raw.MAX_IMAGES_PER_REQUEST, bodyLimitBytes: raw.BODY_LIMIT_BYTES },
    shutdown: { graceMs: raw.SHUTDOWN_GRACE_MS, delayMs: raw.SHUTDOWN_DELAY_MS },
    logLevel: raw.LOG_LEVEL,
    slowRequestMs: raw.SLOW_REQUEST_MS,
    heapGrowingPercent: raw.HEAP_GROWING_PERCENT,
    appInsightsConnectionString: raw.APPLICATIONINSIGHTS_CONNECTION_STRING,
  };
}

function describe(error: AjvLikeError, data: Record<string, string>): string {
  const name = error.instancePath.replace(/^\//, '') || String(error.params.additionalProperty ?? 'environment');
  const spec = ENV_VARS[name];
  if (!spec) return `Invalid configuration: ${name} is not valid`;
  const got = spec.secret ? '' : ` (got ${JSON.stringify(data[name] ?? '')})`;
  return `Invalid configuration: ${name} must be ${spec.expected}${got}`;
}

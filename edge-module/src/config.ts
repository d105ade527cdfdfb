/**
 * The edge module's configuration, read from the environment once at start-up (main.ts passes
 * `process.env` in; nothing else reads it — except the SDK's ModuleClient.fromEnvironment, which reads
 * the IoT Edge variables itself, checked here first so a missing one is named).
 *
 * The HTTP side (PORT, HOST, MODEL_DIR, API keys, batching, limits, LOG_LEVEL, ...) is the scoring
 * service's own configuration schema (`loadConfig` from @model-deploy/scoring-service): one schema for
 * the same HTTP contract. The journal variables are the module's own.
 */
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, type ServiceConfig } from './http-contract.js';
import type { FsyncMode } from './journal.js';

export { ConfigError };

/** Variables the IoT Edge runtime gives every module (azure-iot-device ModuleClient.validateEnvironment). */
export const IOTEDGE_VARIABLES = [
  'IOTEDGE_WORKLOADURI',
  'IOTEDGE_DEVICEID',
  'IOTEDGE_MODULEID',
  'IOTEDGE_IOTHUBHOSTNAME',
  'IOTEDGE_AUTHSCHEME',
  'IOTEDGE_MODULEGENERATIONID',
] as const;

export type EdgeConnectionMode =
  | { kind: 'iotedge-runtime'; deviceId: string; moduleId: string }
  | { kind: 'connection-string'; deviceId: string; moduleId: string; gateway: string | undefined; caFile: string | undefined };

export interface JournalConfig {
  dir: string;
  fsync: FsyncMode;
  fsyncIntervalMs: number;
  segmentBytes: number;
}

export interface EdgeConfig {
  connection: EdgeConnectionMode;
  /** Threads the model runs on, each with its own session (MODEL_THREADS); 0: on the main thread; 'auto' when unset (the core decides from CPUs and model size). */
  modelThreads: number | 'auto';
  /** V8's old-generation growing factor after a full collection, as a percentage (HEAP_GROWING_PERCENT); 0: V8's own heuristics. */
  heapGrowingPercent: number;
  /** PORT, HOST, MODEL_DIR, auth, inference, limits, shutdown, LOG_LEVEL ... as the scoring service reads them. */
  service: ServiceConfig;
  journal: JournalConfig;
}

// The repository's .cache/ (git-ignored) when run from a checkout; containers set JOURNAL_DIR to a volume.
export const DEFAULT_JOURNAL_DIR = fileURLToPath(new URL('../../.cache/edge-module/journal', import.meta.url));

/** Names what is missing when the process is neither under the IoT Edge runtime nor given a connection string. */
export function connectionFromEnv(env: NodeJS.ProcessEnv): EdgeConnectionMode {
  const connectionString = env.EdgeHubConnectionString || env.IotHubConnectionString;
  if (connectionString) {
    const fields = new Map<string, string>();
    for (const part of connectionString.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1));
    }
    const missing = ['HostName', 'DeviceId', 'ModuleId'].filter((k) => !fields.get(k));
    if (!fields.get('SharedAccessKey') && !fields.get('SharedAccessSignature') && !fields.get('x509')) missing.push('SharedAccessKey');
    if (missing.length > 0) {
      // The value itself is a secret: only the names of the missing fields are shown.
      throw new ConfigError(`Invalid configuration: EdgeHubConnectionString must be a module connection string ` +
        `(HostName=…;GatewayHostName=…;DeviceId=…;ModuleId=…;SharedAccessKey=…); it lacks ${missing.join(', ')}`);
    }
    const caFile = env.EdgeModuleCACertificateFile || undefined;
    if (caFile !== undefined) {
      try {
        accessSync(caFile, constants.R_OK);
      } catch {
        throw new ConfigError(`Invalid configuration: EdgeModuleCACertificateFile must name a readable PEM file with the edgeHub CA certificate (cannot read ${JSON.stringify(caFile)})`);
      }
    }
    return {
      kind: 'connection-string',
      deviceId: fields.get('DeviceId')!,
      moduleId: fields.get('ModuleId')!,
      gateway: fields.get('GatewayHostName'),
      caFile,
    };
  }
  const missing = IOTEDGE_VARIABLES.filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new ConfigError(
      'Not running under IoT Edge: set EdgeHubConnectionString (a module connection string with GatewayHostName) and ' +
        'EdgeModuleCACertificateFile (the edgeHub CA certificate), as the IoT Edge simulator does, or run the module under ' +
        `the IoT Edge runtime, which sets ${IOTEDGE_VARIABLES.join(', ')} (missing: ${missing.join(', ')})`,
    );
  }
  if (env.IOTEDGE_AUTHSCHEME!.toLowerCase() !== 'sastoken') {
    throw new ConfigError(`Invalid configuration: IOTEDGE_AUTHSCHEME must be "sasToken" (got ${JSON.stringify(env.IOTEDGE_AUTHSCHEME)})`);
  }
  return { kind: 'iotedge-runtime', deviceId: env.IOTEDGE_DEVICEID!, moduleId: env.IOTEDGE_MODULEID! };
}

/** A variable of the module's own; docs/configuration.md is generated from these (npm run docs). */
export interface EdgeVarSpec {
  /** The default as a person reads it. */
  defaultText: string;
  description: string;
  /** For integers: the accepted range, and the default when it is a number (not derived at start-up). */
  range?: { min: number; max: number; default?: number };
  /** For enumerations: the accepted values, the first is the default. */
  values?: readonly string[];
}

/** Every variable the module reads besides the scoring service's (those are in ENV_VARS). */
export const EDGE_ENV_VARS = {
  'IOTEDGE_WORKLOADURI, IOTEDGE_DEVICEID, IOTEDGE_MODULEID, IOTEDGE_IOTHUBHOSTNAME, IOTEDGE_AUTHSCHEME, IOTEDGE_MODULEGENERATIONID, IOTEDGE_GATEWAYHOSTNAME': {
    defaultText: 'set by the IoT Edge runtime',
    description: 'identity and trust bundle from the workload API (SAS tokens)',
  },
  EdgeHubConnectionString: {
    defaultText: '—',
    description: 'instead of the above: module connection string with `GatewayHostName=<host>[:port]` (`IotHubConnectionString` is accepted too)',
  },
  EdgeModuleCACertificateFile: { defaultText: '—', description: "PEM file of the CA that signed edgeHub's server certificate" },
  MODEL_THREADS: {
    defaultText: 'number of CPUs, at most 4, and at most as many copies of the model as fit in 256 MiB (at least 1)',
    range: { min: 0, max: 64 },
    description: 'threads the model runs on, each with its own onnxruntime session and batches (one copy of the model each: a 100 MB model gets 2 by default, a 330 MB one 1), while the main thread preprocesses images and handles messages; unless `INTRA_OP_THREADS` is set the CPUs are divided among the sessions (one intra-op thread each when there are as many sessions as CPUs), which on a small device does more per CPU-second than one session spread over the cores, at the cost of a slower single image (for the lowest latency one frame at a time: `MODEL_THREADS=1`, which then uses every CPU). `0`: the model runs on the main thread, which every run stops. Ignored with `INFERENCE_WORKER=true`, which moves the whole inference core into a worker',
  },
  HEAP_GROWING_PERCENT: {
    defaultText: '`300`',
    range: { min: 0, max: 1000, default: 300 },
    description: "how far V8 lets the JavaScript heap grow past what a full collection left alive before it starts the next one (V8's `--heap-growing-percent`, set at start-up): `300` lets a ~30 MB heap reach ~120 MB. With V8's own heuristics the module's small heap got a limit so close to its live size that V8 started a full mark-compact every ~40 photos of 250 KB; with `300` every ~130: 1920-px photos through the broker ~10% more img/s, at ~30 MB more peak memory (bench/README.md; most of the rest went with the 2 MB young generation of edge-module/src/node-flags.ts). `0`: V8's own heuristics (the least memory)",
  },
  JOURNAL_DIR: {
    defaultText: '`.cache/edge-module/journal` in the checkout; `/var/lib/edge-module/journal` in the image',
    description: 'durable journal of inputs in progress — **put it on a volume**',
  },
  JOURNAL_FSYNC: {
    defaultText: '`batch`',
    values: ['batch', 'always'],
    description: '`batch`: an input is acknowledged once written to the journal (survives the process dying), fdatasync every `JOURNAL_FSYNC_INTERVAL_MS`; `always`: acknowledged only after fdatasync (survives power loss; slower)',
  },
  JOURNAL_FSYNC_INTERVAL_MS: {
    defaultText: '`20`',
    range: { min: 1, max: 10_000, default: 20 },
    description: 'milliseconds between fdatasync calls in `batch` mode',
  },
  JOURNAL_SEGMENT_BYTES: {
    defaultText: '`8388608`',
    range: { min: 64 * 1024, max: 1024 * 1024 * 1024, default: 8 * 1024 * 1024 },
    description: 'journal file size that triggers rotation and compaction (when more than this is live, twice the bytes carried into the segment, so entries are rewritten about once at most)',
  },
} satisfies Record<string, EdgeVarSpec>;

/** The variable's integer, checked against its range; undefined when unset or blank. */
function integer(env: NodeJS.ProcessEnv, name: 'JOURNAL_FSYNC_INTERVAL_MS' | 'JOURNAL_SEGMENT_BYTES' | 'MODEL_THREADS' | 'HEAP_GROWING_PERCENT'): number | undefined {
  const { min, max } = EDGE_ENV_VARS[name].range;
  const text = env[name]?.trim();
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`Invalid configuration: ${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(text)})`);
  }
  return value;
}

export function journalFromEnv(env: NodeJS.ProcessEnv): JournalConfig {
  const values = EDGE_ENV_VARS.JOURNAL_FSYNC.values;
  const fsync = env.JOURNAL_FSYNC?.trim() || 'batch';
  if (!values.includes(fsync)) {
    throw new ConfigError(`Invalid configuration: JOURNAL_FSYNC must be ${values.map((v) => JSON.stringify(v)).join(' or ')} (got ${JSON.stringify(fsync)})`);
  }
  return {
    dir: env.JOURNAL_DIR?.trim() || DEFAULT_JOURNAL_DIR,
    fsync: fsync as FsyncMode,
    fsyncIntervalMs: integer(env, 'JOURNAL_FSYNC_INTERVAL_MS') ?? EDGE_ENV_VARS.JOURNAL_FSYNC_INTERVAL_MS.range.default,
    segmentBytes: integer(env, 'JOURNAL_SEGMENT_BYTES') ?? EDGE_ENV_VARS.JOURNAL_SEGMENT_BYTES.range.default,
  };
}

/**
 * Reads and validates everything; throws ConfigError with a sentence naming the variable. `local` (a run
 * from the checkout) allows serving HTTP without API keys, as the scoring service's `--local` does.
 */
export function loadEdgeConfig(env: NodeJS.ProcessEnv, options: { local?: boolean } = {}): EdgeConfig {
  const connection = connectionFromEnv(env);
  const service = loadConfig(env, { local: options.local });
  // INFERENCE_WORKER moves the whole core, model included, into a worker: no model threads then.
  const modelThreads = service.inferenceWorker ? 0 : modelThreadsFromEnv(env);
  // With model threads the core divides the CPUs among them unless INTRA_OP_THREADS says otherwise
  // (classifier.ts): on 2 cores, 2 single-threaded sessions side by side did 1,590-1,690 img/s at
  // 1.17-1.24 CPU-ms per image, one session over 2 intra-op threads 1,150-1,490 img/s at 1.28-1.67 ms (batch 32).
  const heapGrowingPercent = integer(env, 'HEAP_GROWING_PERCENT') ?? EDGE_ENV_VARS.HEAP_GROWING_PERCENT.range.default;
  return { connection, modelThreads, heapGrowingPercent, service, journal: journalFromEnv(env) };
}

/**
 * MODEL_THREADS; unset: 'auto', which the core resolves once it knows the model file's size (one per CPU,
 * availableParallelism honouring a container's quota, at most 4, and at most 256 MiB of model copies).
 */
export function modelThreadsFromEnv(env: NodeJS.ProcessEnv): number | 'auto' {
  return integer(env, 'MODEL_THREADS') ?? 'auto';
}


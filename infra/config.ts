// The stack's configuration: every key, its type, default and rule, read ONCE into one typed object.
// This table is the single source of truth; test/infra/config.test.ts checks that Pulumi.yaml declares
// exactly these keys with the same types and defaults. Components never read pulumi.Config themselves.
// Longer than 300 lines because it holds that table, the typed shape of every component's settings and
// the cross-key rules (TLS modes, pool sizes, replicas); splitting them would scatter one contract.
import * as pulumi from '@pulumi/pulumi';

/** Thrown when one or more config values are wrong; the message names each key, its value and what is expected. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid stack configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** A Kubernetes-style quantity kept as written (e.g. "500m", "1", "512Mi"). */
export type Quantity = string;

export interface AksConfig {
  /** major.minor (AKS's patch upgrade channel owns the patch); empty = the region's default AKS version. */
  kubernetesVersion: string;
  skuTier: 'Free' | 'Standard' | 'Premium';
  vmSize: string;
  minCount: number;
  maxCount: number;
  /** Availability zones of the node pool ("1", "2", "3"); empty = no zone pinning. */
  zones: string[];
  osDiskSizeGb: number;
  /** Entra group object ids that get cluster-admin through Azure RBAC. */
  adminGroupObjectIds: string[];
  /** CIDRs allowed to reach the API server; empty = any address (Entra still required). */
  authorizedIpRanges: string[];
  /** Weekly window (UTC) for the automatic Kubernetes patch and node image upgrades. */
  maintenanceDay: 'Monday' | 'Tuesday' | 'Wednesday' | 'Thursday' | 'Friday' | 'Saturday' | 'Sunday';
  maintenanceStartHour: number;
}

export interface ScoringConfig {
  namespace: string;
  minReplicas: number;
  maxReplicas: number;
  targetCpuPercent: number;
  cpuRequest: Quantity;
  cpuLimit: Quantity;
  memoryRequest: Quantity;
  memoryLimit: Quantity;
  /** The service's SHUTDOWN_GRACE_MS; the pod's termination grace period is derived from it. */
  shutdownGraceMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** The service's MODEL_THREADS (0: the model on the main thread); INTRA_OP_THREADS is divided among them. */
  modelThreads: number;
  /** INTRA_OP_THREADS when not 0; 0 = the limit's whole CPUs divided among the model threads. */
  intraOpThreads: number;
  /** The service's BATCH_MAX_WAIT_MS. */
  batchMaxWaitMs: number;
}

export type TlsMode = 'none' | 'keyvault' | 'letsencrypt' | 'letsencrypt-staging';

/** HTTPS for the scoring API (infra/https-ingress.ts). */
export interface TlsConfig {
  mode: TlsMode;
  /** keyvault: ARM id of the vault, and its name (the last segment). */
  keyVaultId: string;
  keyVaultName: string;
  certificateName: string;
  acmeEmail: string;
  /** Empty = the Azure DNS label host name of the gateway's public IP. */
  customDomain: string;
  hstsMaxAgeSeconds: number;
  istioRevision: string;
}

export interface IotHubConfig {
  sku: 'F1' | 'S1' | 'S2' | 'S3';
  capacity: number;
  partitionCount: number;
  retentionDays: number;
}

export interface EdgeConfig {
  deviceIds: string[];
  deploymentPriority: number;
  storeAndForwardTtlSecs: number;
  topK: number;
  confidenceThreshold: number;
  runtimeVersion: string;
  imagePlatform: string;
  /** Derived: the IoT Hub query that selects this stack's devices (their twin tags are set to match). */
  targetCondition: string;
  /** Derived: twin tags written on every device this stack registers. */
  deviceTags: Record<string, string | boolean>;
}

/** How the apps load and preprocess the model (env of the scoring pods and of the edge module). */
export interface ModelRuntimeConfig {
  /** MODEL_NAME: the V2 model name; unset = the card's name, else the model folder's name. */
  name?: string;
  /** EXACT_PREPROCESSING: Pillow-exact pixels for every image, no reduced decoding. */
  exactPreprocessing: boolean;
  /** PREPROCESS_THREADS: image decode/resize threads; unset = the app's default (its CPU limit). */
  preprocessThreads?: number;
  /** EXIF_ORIENTATION: turn photos upright by their EXIF tag before preprocessing (Pillow's exif_transpose). */
  exifOrientation: boolean;
  /** REDUCING_GAP: how much of a large photo's reduction the model's filter keeps; unset = the app's default (4). */
  reducingGap?: number;
}

export interface StackConfig {
  project: string;
  stack: string;
  location: string;
  namePrefix: string;
  environment: string;
  owner: string;
  /** The model folder (card folder, Hugging Face or timm export): `model` or a folder under it, relative to the repository root. */
  modelDir: string;
  model: ModelRuntimeConfig;
  /** Tags put on every Azure resource. */
  tags: Record<string, string>;
  aks: AksConfig;
  acrSku: 'Basic' | 'Standard' | 'Premium';
  /** Days between ACR token password rotations; each password expires two periods after its period starts. */
  acrPasswordRotationDays: number;
  storageSku: 'Standard_LRS' | 'Standard_ZRS' | 'Standard_GRS' | 'Standard_RAGRS';
  logRetentionDays: number;
  imagePlatform: string;
  /** Set: run the images dev tested (imported by digest from this registry) instead of building. */
  promotion?: { sourceRegistryId: string; scoringDigest: string; edgeDigest: string };
  scoring: ScoringConfig;
  tls: TlsConfig;
  iotHub: IotHubConfig;
  edge: EdgeConfig;
}

type ConfigType = 'string' | 'integer' | 'boolean' | 'array';
type Default = string | number | boolean | string[];

/** One config key as declared in Pulumi.yaml. */
export interface ConfigKeySpec {
  type: ConfigType;
  description: string;
  default: Default;
}

const QUANTITY_CPU = /^(\d+m|\d+(\.\d{1,3})?)$/;
const QUANTITY_MEMORY = /^\d+(Ki|Mi|Gi)$/;
// onnxruntime-node ships binaries for x64 and arm64 Linux only (no 32-bit ARM).
const PLATFORM = /^linux\/(amd64|arm64)$/;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

/**
 * Every config key of the project (namespace = project name). Order is the order of Pulumi.yaml.
 * Keep descriptions user-facing: they are what `pulumi config` shows.
 */
export const CONFIG_KEYS = {
  location: { type: 'string', default: 'westeurope', description: 'Azure region for every resource (lowercase, no spaces, e.g. westeurope).' },
  namePrefix: { type: 'string', default: 'mdeploy', description: 'Short prefix of every physical resource name: 2-8 lowercase letters/digits, starting with a letter.' },
  environment: { type: 'string', default: 'dev', description: 'Environment name used in names, tags and the edge target condition: 2-5 lowercase letters/digits.' },
  owner: { type: 'string', default: 'ml-platform', description: 'Value of the owner tag on every resource.' },
  modelDir: { type: 'string', default: 'model', description: 'The model folder: `model` or a folder under model/ (relative to the repository root), holding card.json and the model file it names, or a Hugging Face or timm export (model.onnx, config.json, preprocessor_config.json). Its *.onnx, *.json and *.txt files go into both images and blob storage.' },
  aksKubernetesVersion: { type: 'string', default: '', description: 'AKS Kubernetes version as major.minor (1.30 or later, e.g. 1.33; patches are applied automatically); empty = the region default.' },
  aksSkuTier: { type: 'string', default: 'Free', description: 'AKS control plane tier: Free, Standard (uptime SLA) or Premium.' },
  aksNodeVmSize: { type: 'string', default: 'Standard_D2s_v5', description: 'VM size of the autoscaling node pool.' },
  aksNodeMinCount: { type: 'integer', default: 1, description: 'Minimum node count of the autoscaling node pool (1-100).' },
  aksNodeMaxCount: { type: 'integer', default: 2, description: 'Maximum node count of the autoscaling node pool (>= aksNodeMinCount, <= 100).' },
  aksAvailabilityZones: { type: 'array', default: [], description: 'Availability zones of the node pool, e.g. ["1","2","3"]; empty = no zones.' },
  aksOsDiskSizeGb: { type: 'integer', default: 64, description: 'OS disk size of each node in GB (30-2048).' },
  aksAdminGroupObjectIds: { type: 'array', default: [], description: 'Object ids of Microsoft Entra groups whose members administer the cluster (Azure RBAC cluster admin); e.g. the platform team.' },
  aksAuthorizedIpRanges: { type: 'array', default: [], description: 'CIDR ranges allowed to reach the AKS API server, e.g. ["203.0.113.0/24"]; empty = any address (Entra sign-in is still required). Include where pulumi up runs from.' },
  aksMaintenanceDay: { type: 'string', default: 'Sunday', description: 'Day of the weekly maintenance window (UTC) for the automatic Kubernetes patch and node image upgrades.' },
  aksMaintenanceStartHour: { type: 'integer', default: 2, description: 'Start hour (0-23, UTC) of the 4-hour weekly maintenance window.' },
  acrSku: { type: 'string', default: 'Basic', description: 'Azure Container Registry SKU: Basic, Standard or Premium.' },
  acrPasswordRotationDays: { type: 'integer', default: 30, description: 'Days between rotations of the registry token passwords (push, edge pull), 1-180. Each password expires two periods after its period starts, so `pulumi up` must run at least once per period.' },
  storageSku: { type: 'string', default: 'Standard_LRS', description: 'SKU of the storage account holding the model artifact: Standard_LRS, Standard_ZRS, Standard_GRS or Standard_RAGRS.' },
  logRetentionDays: { type: 'integer', default: 30, description: 'Log Analytics retention in days (30-730).' },
  imagePlatform: { type: 'string', default: 'linux/amd64', description: 'Platform of the scoring-service image (must match the AKS nodes).' },
  promoteFromRegistryId: { type: 'string', default: '', description: 'Resource id of the registry holding images tested in another stack (dev); set with the two digests below, the stack imports those images instead of building. Set by the deploy workflow for prod.' },
  promoteScoringImageDigest: { type: 'string', default: '', description: 'sha256 digest of the tested scoring-service image in promoteFromRegistryId.' },
  promoteEdgeImageDigest: { type: 'string', default: '', description: 'sha256 digest of the tested edge-module image in promoteFromRegistryId.' },
  scoringNamespace: { type: 'string', default: 'scoring', description: 'Kubernetes namespace of the scoring service.' },
  scoringMinReplicas: { type: 'integer', default: 1, description: 'Minimum replicas of the scoring service (HorizontalPodAutoscaler lower bound, 1-100).' },
  scoringMaxReplicas: { type: 'integer', default: 3, description: 'Maximum replicas of the scoring service (HorizontalPodAutoscaler upper bound, >= scoringMinReplicas).' },
  scoringTargetCpuPercent: { type: 'integer', default: 70, description: 'Average CPU utilisation (% of request) the autoscaler aims for (10-100).' },
  scoringCpuRequest: { type: 'string', default: '500m', description: 'CPU request of a scoring pod (e.g. 500m or 1).' },
  scoringCpuLimit: { type: 'string', default: '1', description: 'CPU limit of a scoring pod (>= request).' },
  scoringMemoryRequest: { type: 'string', default: '512Mi', description: 'Memory request of a scoring pod (e.g. 512Mi).' },
  scoringMemoryLimit: { type: 'string', default: '1Gi', description: 'Memory limit of a scoring pod (>= request).' },
  scoringShutdownGraceMs: { type: 'integer', default: 10000, description: 'SHUTDOWN_GRACE_MS of the service: how long it drains in-flight requests after SIGTERM (1000-120000).' },
  scoringLogLevel: { type: 'string', default: 'info', description: 'LOG_LEVEL of the scoring service: fatal, error, warn, info, debug or trace.' },
  scoringModelThreads: { type: 'integer', default: 0, description: 'MODEL_THREADS of the scoring service: threads the model runs on, each with its own onnxruntime session, while the main thread reads requests and decodes images (0-64); with threads, INTRA_OP_THREADS is the whole CPUs of the limit divided among them (at least 1). 0 = the model on the main thread (the most images/s on 2 cores); 1 on a 1-CPU pod = the shortest tail on small images, at about 75% of the requests/s (bench/README.md).' },
  scoringIntraOpThreads: { type: 'integer', default: 0, description: 'INTRA_OP_THREADS of the scoring service: onnxruntime threads per session (0-64). 0 = derived: the whole CPUs of the limit, divided among scoringModelThreads when set (at least 1). Set it to give a 2-CPU pod one model thread on one intra-op thread (scoringModelThreads 1, scoringIntraOpThreads 1), the shortest tail on small images (bench/README.md).' },
  scoringBatchMaxWaitMs: { type: 'integer', default: 2, description: 'BATCH_MAX_WAIT_MS of the scoring service: how long an idle model waits for a batch to fill while requests overlap (0-1000 ms; requests that come one at a time are not held; also how long a run waits for photos still being decoded). 2 = the default of the service. With scoringModelThreads 1 and one intra-op thread, 0 gave 28x28 images from 16 connections the shortest tail at 0.74-0.80x in-process batch-1 images/s (18% more than with 2), though 32-image requests ran ~30% slower than by default (bench/README.md).' },
  // HTTPS on AKS (infra/https-ingress.ts): one block, read into StackConfig.tls.
  tlsMode: { type: 'string', default: 'none', description: 'How the scoring API gets its certificate: none (no public endpoint at all), keyvault (a certificate you keep in Azure Key Vault), letsencrypt or letsencrypt-staging (issued by cert-manager over ACME HTTP-01).' },
  tlsKeyVaultId: { type: 'string', default: '', description: 'tlsMode keyvault: resource id of the Key Vault (Azure RBAC permission model) holding the certificate, /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>.' },
  tlsKeyVaultCertificateName: { type: 'string', default: '', description: 'tlsMode keyvault: name of the certificate in that vault (PEM content type); it must cover customDomain, or the Azure host name when customDomain is empty.' },
  tlsAcmeEmail: { type: 'string', default: '', description: 'tlsMode letsencrypt/letsencrypt-staging: the e-mail address Let\'s Encrypt registers the ACME account with (expiry notices).' },
  customDomain: { type: 'string', default: '', description: 'Host name clients use, e.g. scoring.example.com (create a CNAME to the stack output scoringAzureHostName); empty = <label>.<region>.cloudapp.azure.com.' },
  hstsMaxAgeSeconds: { type: 'integer', default: 31536000, description: 'max-age of the Strict-Transport-Security header on every HTTPS answer, in seconds (0-63072000; 0 tells browsers to forget the policy).' },
  aksIstioRevision: { type: 'string', default: 'asm-1-30', description: 'Revision of the AKS Istio add-on that runs the HTTPS ingress gateway (asm-1-NN; `az aks mesh get-revisions --location <region>` lists the supported ones). Used when tlsMode is not none.' },
  iotHubSku: { type: 'string', default: 'S1', description: 'IoT Hub SKU: S1, S2, S3 or F1 (free, one per subscription). Basic tiers have no IoT Edge.' },
  iotHubCapacity: { type: 'integer', default: 1, description: 'IoT Hub units (1-200; F1 allows 1).' },
  iotHubPartitionCount: { type: 'integer', default: 2, description: 'Device-to-cloud partitions of the built-in endpoint (2-32; F1 allows 2). Create-only: a changed value applies only to a new hub.' },
  iotHubRetentionDays: { type: 'integer', default: 1, description: 'Retention of device-to-cloud messages on the built-in endpoint, in days (1-7).' },
  edgeDeviceIds: { type: 'array', default: [], description: 'IoT Edge device identities to register, e.g. ["edge-dev-01"]; each gets the twin tags the deployment targets.' },
  edgeDeploymentPriority: { type: 'integer', default: 10, description: 'Priority of the at-scale edge deployment (0-2147483647; higher wins).' },
  edgeStoreAndForwardTtlSecs: { type: 'integer', default: 7200, description: 'How long edgeHub keeps undelivered messages while offline, in seconds (60-2592000).' },
  edgeTopK: { type: 'integer', default: 3, description: 'Module twin desired property topK: classes reported per prediction (1-10).' },
  edgeConfidenceThreshold: { type: 'string', default: '0.5', description: 'Module twin desired property confidenceThreshold: a number from 0 to 1 (as a string, Pulumi config has no float type).' },
  edgeRuntimeVersion: { type: 'string', default: '1.5', description: 'IoT Edge runtime (edgeAgent/edgeHub image tag), e.g. 1.5.' },
  edgeImagePlatform: { type: 'string', default: 'linux/amd64', description: 'Platform of the edge-module image (must match the devices: linux/amd64 or linux/arm64; onnxruntime has no 32-bit ARM build).' },
  modelName: { type: 'string', default: '', description: "MODEL_NAME of the scoring service and the edge module: the model's name in the V2 API, blob paths and labels (letters, digits, '.', '_', '-'); empty = the card's name, else the model folder's name." },
  exactPreprocessing: { type: 'boolean', default: false, description: 'EXACT_PREPROCESSING of the scoring service and the edge module: true = Pillow-exact pixels for every image (no reduced decoding of large photos), slower on camera-sized images.' },
  exifOrientation: { type: 'boolean', default: true, description: 'EXIF_ORIENTATION of the scoring service and the edge module: true = turn each photo upright by its EXIF orientation tag before preprocessing, as Pillow\'s ImageOps.exif_transpose does; false for models trained on pixels as stored.' },
  reducingGap: { type: 'string', default: '', description: "REDUCING_GAP of the scoring service and the edge module, as Pillow's reducing_gap: a large photo is decoded reduced (JPEG DCT scaling) to no less than this many times the model's size, a number from 1 to 64; empty = the app's default (4). 2 lets a 224-px model decode 1920x1080 frames at 1/2 for ~1.5x less CPU per frame, at a mean 0.25-0.45 grey level from the exact path (docs/models.md). A string because Pulumi config has no float type." },
  preprocessThreads: { type: 'string', default: '', description: "PREPROCESS_THREADS of the scoring service and the edge module: image decode/resize threads, an integer from 0 to 256; empty = the app's default (its CPU limit). A string because Pulumi config has no optional integer." },
} as const satisfies Record<string, ConfigKeySpec>;

export type ConfigKey = keyof typeof CONFIG_KEYS;

/** Reads a raw config value (as the Pulumi CLI hands it over: a string, arrays as JSON) or undefined. */
export type RawConfigReader = (key: ConfigKey) => string | undefined;

/**
 * Parses and validates the raw config. Pure: no Pulumi runtime needed. Collects every problem and throws
 * one ConfigError naming each key (with namespace), the value given and what is expected.
 */
export function parseConfig(read: RawConfigReader, project: string, stack: string): StackConfig {
  const problems: string[] = [];
  const full = (key: ConfigKey) => `${project}:${key}`;
  const bad = (key: ConfigKey, value: string, expected: string) =>
    problems.push(`${full(key)} is ${JSON.stringify(value)}; expected ${expected}.`);

  const raw = (key: ConfigKey): string => {
    const v = read(key);
    if (v !== undefined) return v;
    const d: Default = CONFIG_KEYS[key].default;
    return Array.isArray(d) ? JSON.stringify(d) : String(d);
  };
  const str = (key: ConfigKey, pattern: RegExp, expected: string, fallback = ''): string => {
    const v = raw(key);
    if (!pattern.test(v)) {
      bad(key, v, expected);
      return fallback;
    }
    return v;
  };
  const oneOf = <T extends string>(key: ConfigKey, allowed: readonly T[]): T => {
    const v = raw(key);
    if (!(allowed as readonly string[]).includes(v)) {
      bad(key, v, `one of ${allowed.join(', ')}`);
      return allowed[0] as T;
    }
    return v as T;
  };
  const int = (key: ConfigKey, min: number, max: number): number => {
    const v = raw(key);
    const n = /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      bad(key, v, `an integer from ${min} to ${max}`);
      return min;
    }
    return n;
  };
  const num = (key: ConfigKey, min: number, max: number): number => {
    const v = raw(key);
    const n = /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isFinite(n) || n < min || n > max) {
      bad(key, v, `a number from ${min} to ${max}`);
      return min;
    }
    return n;
  };
  const list = (key: ConfigKey, item: RegExp, expected: string): string[] => {
    const v = raw(key);
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string' && item.test(x))) {
      bad(key, v, `a list of ${expected}`);
      return [];
    }
    if (new Set(parsed).size !== parsed.length) {
      bad(key, v, `a list without duplicates`);
      return [];
    }
    return parsed as string[];
  };

  const location = str('location', /^[a-z][a-z0-9]{2,30}$/, 'an Azure region name in lowercase without spaces, e.g. westeurope', 'westeurope');
  const namePrefix = str('namePrefix', /^[a-z][a-z0-9]{1,7}$/, '2-8 lowercase letters or digits starting with a letter', 'x');
  const environment = str('environment', /^[a-z][a-z0-9]{1,4}$/, '2-5 lowercase letters or digits starting with a letter', 'x');
  const owner = str('owner', /^[A-Za-z0-9 ._@-]{1,64}$/, '1-64 letters, digits, spaces or ._@-');
  // The images are built with the repository as context, and .dockerignore sends model files from model/ only.
  const modelDir = str('modelDir', /^model(\/(?!\.\.?(\/|$))[A-Za-z0-9._-]+)*$/, 'model or a folder under model/, e.g. model/my-vit (the image build sends model files from model/ only: copy the export there)', 'model');
  const modelName = str('modelName', /^([A-Za-z0-9][A-Za-z0-9._-]{0,199})?$/, "empty or a model name of letters, digits, '.', '_', '-' (at most 200, starting with a letter or digit)");
  const exactRaw = raw('exactPreprocessing');
  if (exactRaw !== 'true' && exactRaw !== 'false') bad('exactPreprocessing', exactRaw, 'true or false');
  const exifRaw = raw('exifOrientation');
  if (exifRaw !== 'true' && exifRaw !== 'false') bad('exifOrientation', exifRaw, 'true or false');
  const threadsRaw = raw('preprocessThreads').trim();
  const threads = threadsRaw === '' ? undefined : /^\d+$/.test(threadsRaw) ? Number(threadsRaw) : NaN;
  if (threads !== undefined && !(threads >= 0 && threads <= 256)) bad('preprocessThreads', threadsRaw, "empty (the app's default) or an integer from 0 to 256");
  const gapRaw = raw('reducingGap').trim();
  const gap = gapRaw === '' ? undefined : /^\d+(\.\d+)?$/.test(gapRaw) ? Number(gapRaw) : NaN;
  if (gap !== undefined && !(gap >= 1 && gap <= 64)) bad('reducingGap', gapRaw, "empty (the app's default, 4) or a number from 1 to 64");
  const model: ModelRuntimeConfig = {
    ...(modelName ? { name: modelName } : {}),
    exactPreprocessing: exactRaw === 'true',
    exifOrientation: exifRaw === 'true',
    ...(threads !== undefined && Number.isFinite(threads) ? { preprocessThreads: threads } : {}),
    ...(gap !== undefined && Number.isFinite(gap) ? { reducingGap: gap } : {}),
  };

  const aks: AksConfig = {
    // A patch version would be moved by the cluster's upgradeChannel "patch" and then fought by every
    // `pulumi up`; AKS accepts major.minor and picks the latest patch (AKS docs, "Supported Kubernetes versions").
    kubernetesVersion: str('aksKubernetesVersion', /^(\d+\.\d+)?$/, 'empty or a major.minor version like 1.33 (no patch: the cluster upgrades patches itself)'),
    skuTier: oneOf('aksSkuTier', ['Free', 'Standard', 'Premium'] as const),
    vmSize: str('aksNodeVmSize', /^Standard_[A-Za-z0-9_]+$/, 'an Azure VM size such as Standard_D2s_v5'),
    minCount: int('aksNodeMinCount', 1, 100),
    maxCount: int('aksNodeMaxCount', 1, 100),
    zones: list('aksAvailabilityZones', /^[123]$/, 'zones "1", "2" or "3"'),
    osDiskSizeGb: int('aksOsDiskSizeGb', 30, 2048),
    adminGroupObjectIds: list('aksAdminGroupObjectIds', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'Entra group object ids (GUIDs)'),
    authorizedIpRanges: list('aksAuthorizedIpRanges', /^(\d{1,3}\.){3}\d{1,3}\/(\d|[12]\d|3[0-2])$/, 'IPv4 CIDR ranges such as 203.0.113.0/24'),
    maintenanceDay: oneOf('aksMaintenanceDay', ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] as const),
    maintenanceStartHour: int('aksMaintenanceStartHour', 0, 23),
  };
  if (aks.maxCount < aks.minCount) {
    bad('aksNodeMaxCount', String(aks.maxCount), `an integer >= aksNodeMinCount (${aks.minCount})`);
  }
  const [major = 0, minor = 0] = aks.kubernetesVersion.split('.').map(Number);
  if (aks.kubernetesVersion && (major < 1 || (major === 1 && minor < 30))) {
    bad('aksKubernetesVersion', aks.kubernetesVersion, 'empty or 1.30 or later (the pods use the preStop sleep action)');
  }

  const acrSku = oneOf('acrSku', ['Basic', 'Standard', 'Premium'] as const);
  const acrPasswordRotationDays = int('acrPasswordRotationDays', 1, 180);
  const storageSku = oneOf('storageSku', ['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_RAGRS'] as const);
  const logRetentionDays = int('logRetentionDays', 30, 730);
  const imagePlatform = str('imagePlatform', PLATFORM, 'linux/amd64 or linux/arm64', 'linux/amd64');
  const sourceRegistryId = str(
    'promoteFromRegistryId',
    /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.ContainerRegistry\/registries\/[A-Za-z0-9]+)?$/i,
    'empty or a registry resource id (/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.ContainerRegistry/registries/<name>)',
  );
  const digestKey = (key: 'promoteScoringImageDigest' | 'promoteEdgeImageDigest') => str(key, /^(sha256:[0-9a-f]{64})?$/, 'empty or sha256:<64 hex digits>');
  const scoringDigest = digestKey('promoteScoringImageDigest');
  const edgeDigest = digestKey('promoteEdgeImageDigest');
  if (sourceRegistryId && (!scoringDigest || !edgeDigest)) {
    bad(scoringDigest ? 'promoteEdgeImageDigest' : 'promoteScoringImageDigest', '', 'a sha256 digest when promoteFromRegistryId is set');
  }
  if (!sourceRegistryId && (scoringDigest || edgeDigest)) bad('promoteFromRegistryId', '', 'the registry the promoted digests come from');
  const promotion = sourceRegistryId && scoringDigest && edgeDigest ? { sourceRegistryId, scoringDigest, edgeDigest } : undefined;

  const scoring: ScoringConfig = {
    namespace: str('scoringNamespace', /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a Kubernetes namespace name (RFC 1123 label)', 'scoring'),
    minReplicas: int('scoringMinReplicas', 1, 100),
    maxReplicas: int('scoringMaxReplicas', 1, 100),
    targetCpuPercent: int('scoringTargetCpuPercent', 10, 100),
    cpuRequest: str('scoringCpuRequest', QUANTITY_CPU, 'a CPU quantity such as 500m or 1', '500m'),
    cpuLimit: str('scoringCpuLimit', QUANTITY_CPU, 'a CPU quantity such as 1 or 1500m', '1'),
    memoryRequest: str('scoringMemoryRequest', QUANTITY_MEMORY, 'a memory quantity such as 512Mi or 1Gi', '512Mi'),
    memoryLimit: str('scoringMemoryLimit', QUANTITY_MEMORY, 'a memory quantity such as 1Gi', '1Gi'),
    shutdownGraceMs: int('scoringShutdownGraceMs', 1000, 120000),
    logLevel: oneOf('scoringLogLevel', LOG_LEVELS),
    modelThreads: int('scoringModelThreads', 0, 64),
    intraOpThreads: int('scoringIntraOpThreads', 0, 64),
    batchMaxWaitMs: int('scoringBatchMaxWaitMs', 0, 1000),
  };
  if (scoring.maxReplicas < scoring.minReplicas) {
    bad('scoringMaxReplicas', String(scoring.maxReplicas), `an integer >= scoringMinReplicas (${scoring.minReplicas})`);
  }
  if (parseCpu(scoring.cpuLimit) < parseCpu(scoring.cpuRequest)) {
    bad('scoringCpuLimit', scoring.cpuLimit, `a CPU quantity >= scoringCpuRequest (${scoring.cpuRequest})`);
  }
  if (parseMemory(scoring.memoryLimit) < parseMemory(scoring.memoryRequest)) {
    bad('scoringMemoryLimit', scoring.memoryLimit, `a memory quantity >= scoringMemoryRequest (${scoring.memoryRequest})`);
  }

  const tls = parseTlsConfig(str, oneOf, int, bad);

  const iotHub: IotHubConfig = {
    sku: oneOf('iotHubSku', ['S1', 'S2', 'S3', 'F1'] as const),
    capacity: int('iotHubCapacity', 1, 200),
    partitionCount: int('iotHubPartitionCount', 2, 32),
    retentionDays: int('iotHubRetentionDays', 1, 7),
  };
  if (iotHub.sku === 'F1' && iotHub.capacity !== 1) bad('iotHubCapacity', String(iotHub.capacity), '1 with iotHubSku F1');
  if (iotHub.sku === 'F1' && iotHub.partitionCount !== 2) bad('iotHubPartitionCount', String(iotHub.partitionCount), '2 with iotHubSku F1');

  const deviceIds = list('edgeDeviceIds', /^[A-Za-z0-9\-:.+%_#*?!(),=@$']{1,128}$/, 'IoT Hub device ids (1-128 letters, digits or -:.+%_#*?!(),=@$\')');
  const edge: EdgeConfig = {
    deviceIds,
    deploymentPriority: int('edgeDeploymentPriority', 0, 2147483647),
    storeAndForwardTtlSecs: int('edgeStoreAndForwardTtlSecs', 60, 2592000),
    topK: int('edgeTopK', 1, 10),
    confidenceThreshold: num('edgeConfidenceThreshold', 0, 1),
    runtimeVersion: str('edgeRuntimeVersion', /^1\.\d+$/, 'an IoT Edge 1.x runtime tag such as 1.5', '1.5'),
    imagePlatform: str('edgeImagePlatform', PLATFORM, 'linux/amd64 or linux/arm64', 'linux/amd64'),
    targetCondition: `tags.environment='${environment}' AND tags.modelDeploy=true`,
    deviceTags: { environment, modelDeploy: true },
  };

  if (problems.length > 0) throw new ConfigError(problems);

  return {
    project,
    stack,
    location,
    namePrefix,
    environment,
    owner,
    modelDir,
    model,
    tags: { project, environment, stack, owner, managedBy: 'pulumi' },
    aks,
    acrSku,
    acrPasswordRotationDays,
    storageSku,
    logRetentionDays,
    imagePlatform,
    ...(promotion ? { promotion } : {}),
    scoring,
    tls,
    iotHub,
    edge,
  };
}

/** The apps' environment for the model: the same on the scoring pods and the edge module. */
export function modelEnv(m: ModelRuntimeConfig): Record<string, string> {
  return {
    ...(m.name !== undefined ? { MODEL_NAME: m.name } : {}),
    EXACT_PREPROCESSING: String(m.exactPreprocessing),
    EXIF_ORIENTATION: String(m.exifOrientation),
    ...(m.preprocessThreads !== undefined ? { PREPROCESS_THREADS: String(m.preprocessThreads) } : {}),
    ...(m.reducingGap !== undefined ? { REDUCING_GAP: String(m.reducingGap) } : {}),
  };
}

const KEY_VAULT_ID = /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[-\w.()]{1,90}\/providers\/Microsoft\.KeyVault\/vaults\/([A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9])$/i;
// RFC 1123 host name with at least two labels; no wildcard (the gateway serves one host).
const HOST_NAME = /^(?=.{4,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The TLS block of parseConfig: each key alone, then the keys each mode needs. */
function parseTlsConfig(
  str: (key: ConfigKey, pattern: RegExp, expected: string, fallback?: string) => string,
  oneOf: <T extends string>(key: ConfigKey, allowed: readonly T[]) => T,
  int: (key: ConfigKey, min: number, max: number) => number,
  bad: (key: ConfigKey, value: string, expected: string) => void,
): TlsConfig {
  const mode = oneOf('tlsMode', ['none', 'keyvault', 'letsencrypt', 'letsencrypt-staging'] as const);
  const keyVaultId = str('tlsKeyVaultId', new RegExp(`^$|${KEY_VAULT_ID.source}`, 'i'), 'empty or a Key Vault resource id (/subscriptions/<subscription id>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>)');
  const certificateName = str('tlsKeyVaultCertificateName', /^([A-Za-z0-9-]{1,127})?$/, 'empty or a Key Vault certificate name (1-127 letters, digits or -)');
  const acmeEmail = str('tlsAcmeEmail', /^([^@\s]+@[^@\s]+\.[^@\s]+)?$/, 'empty or an e-mail address');
  const customDomain = str('customDomain', new RegExp(`^$|${HOST_NAME.source}`), 'empty or a lowercase host name such as scoring.example.com (no wildcard, no scheme)');
  const hstsMaxAgeSeconds = int('hstsMaxAgeSeconds', 0, 63072000);
  const istioRevision = str('aksIstioRevision', /^asm-1-\d{2}$/, 'an AKS Istio add-on revision such as asm-1-30', 'asm-1-30');
  if (mode === 'keyvault') {
    if (!keyVaultId) bad('tlsKeyVaultId', '', 'a Key Vault resource id when tlsMode is keyvault');
    if (!certificateName) bad('tlsKeyVaultCertificateName', '', 'the name of the certificate in tlsKeyVaultId when tlsMode is keyvault');
  } else {
    if (keyVaultId) bad('tlsKeyVaultId', keyVaultId, `empty unless tlsMode is keyvault (it is ${mode})`);
    if (certificateName) bad('tlsKeyVaultCertificateName', certificateName, `empty unless tlsMode is keyvault (it is ${mode})`);
  }
  if (mode.startsWith('letsencrypt')) {
    if (!acmeEmail) bad('tlsAcmeEmail', '', `an e-mail address for the ACME account when tlsMode is ${mode}`);
  } else if (acmeEmail) {
    bad('tlsAcmeEmail', acmeEmail, `empty unless tlsMode is letsencrypt or letsencrypt-staging (it is ${mode})`);
  }
  if (mode === 'none' && customDomain) bad('customDomain', customDomain, 'empty when tlsMode is none (there is no public endpoint to name)');
  const keyVaultName = KEY_VAULT_ID.exec(keyVaultId)?.[1] ?? '';
  return { mode, keyVaultId, keyVaultName, certificateName, acmeEmail, customDomain, hstsMaxAgeSeconds, istioRevision };
}

/** CPU quantity in millicores ("500m" -> 500, "1.5" -> 1500). */
export function parseCpu(q: Quantity): number {
  return q.endsWith('m') ? Number(q.slice(0, -1)) : Math.round(Number(q) * 1000);
}

/** Memory quantity in bytes ("512Mi" -> 536870912). */
export function parseMemory(q: Quantity): number {
  const m = /^(\d+)(Ki|Mi|Gi)$/.exec(q);
  if (!m) return NaN;
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[m[2] as 'Ki' | 'Mi' | 'Gi'];
  return Number(m[1]) * unit;
}

/** Reads the stack's config through Pulumi (the only pulumi.Config in the program) and validates it. */
export function readConfig(): StackConfig {
  const config = new pulumi.Config();
  return parseConfig((key) => config.get(key), pulumi.getProject(), pulumi.getStack());
}

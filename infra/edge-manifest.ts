// The IoT Edge deployment manifest, built by pure functions so it can be validated without Azure:
// against the IoT Edge JSON schemas (tests) and against the rules the runtime enforces that the
// schemas do not (checkEdgeRuntimeRules, also run by the program before anything is deployed).
import { createHash } from 'node:crypto';

/** Module name on the device; routes and the module twin refer to it. */
export const EDGE_MODULE_NAME = 'classifier';
/** The module's journal lives on a named volume so queued work survives container restarts. */
export const EDGE_JOURNAL_DIR = '/var/lib/edge-module/journal';
export const EDGE_MODULE_PORT = 5001;

export interface RegistryCredentials {
  /** Login server, e.g. myregistry.azurecr.io */
  address: string;
  username: string;
  password: string;
}

/** The module twin's desired properties (the edge module reads them; add new ones here). */
export interface ClassifierTwin {
  topK: number;
  confidenceThreshold: number;
  [key: string]: unknown;
}

export interface EdgeManifestArgs {
  /** Registry the module image is pulled from, with pull-only credentials. */
  registry: RegistryCredentials;
  /** The module image, by digest: `<login server>/<repository>@sha256:<digest>`. */
  moduleImage: string;
  /** IoT Edge runtime tag of edgeAgent/edgeHub, e.g. "1.5". */
  runtimeVersion: string;
  storeAndForwardTtlSecs: number;
  twin: ClassifierTwin;
  /** Extra environment variables of the module (JOURNAL_DIR and PORT are always set). */
  env?: Record<string, string>;
  /** Extra edgeHub routes by name, e.g. a camera module feeding the classifier's `images` input. */
  extraRoutes?: Record<string, string>;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface EdgeDeploymentManifest {
  modulesContent: {
    $edgeAgent: { 'properties.desired': Record<string, Json> };
    $edgeHub: { 'properties.desired': Record<string, Json> };
    [module: string]: { 'properties.desired': Record<string, Json> };
  };
}

/** Docker create options of the module: port 5001 published as in the seed, journal on a named volume. */
export function moduleCreateOptions(): string {
  return JSON.stringify({
    ExposedPorts: { [`${EDGE_MODULE_PORT}/tcp`]: {} },
    HostConfig: {
      PortBindings: { [`${EDGE_MODULE_PORT}/tcp`]: [{ HostPort: String(EDGE_MODULE_PORT) }] },
      Binds: [`edge-module-journal:${EDGE_JOURNAL_DIR}`],
    },
  });
}

/** edgeHub publishes the MQTT/AMQP ports so leaf devices can use the gateway (IoT Edge defaults). */
const EDGE_HUB_CREATE_OPTIONS = JSON.stringify({
  HostConfig: {
    PortBindings: {
      '5671/tcp': [{ HostPort: '5671' }],
      '8883/tcp': [{ HostPort: '8883' }],
      '443/tcp': [{ HostPort: '443' }],
    },
  },
});

/** Routes: the classifier's predictions and errors go to IoT Hub. */
export function classifierRoutes(ttlSecs: number): Record<string, Json> {
  const from = (output: string) => `FROM /messages/modules/${EDGE_MODULE_NAME}/outputs/${output} INTO $upstream`;
  return {
    classifierPredictionsToUpstream: { route: from('predictions'), priority: 0, timeToLiveSecs: ttlSecs },
    classifierErrorsToUpstream: { route: from('errors'), priority: 1, timeToLiveSecs: ttlSecs },
  };
}

/** Builds the full deployment manifest (`modulesContent`) of the classifier fleet. */
export function buildEdgeManifest(a: EdgeManifestArgs): EdgeDeploymentManifest {
  const registryHost = a.moduleImage.split('/')[0];
  if (registryHost !== a.registry.address) {
    throw new Error(`The module image "${a.moduleImage}" is not in the registry "${a.registry.address}" the devices get credentials for.`);
  }
  if (!/@sha256:[0-9a-f]{64}$/.test(a.moduleImage)) {
    throw new Error(`The module image "${a.moduleImage}" must be referenced by digest (…@sha256:<64 hex>), not by tag.`);
  }
  const env: Record<string, Json> = {};
  for (const [k, v] of Object.entries({ ...a.env, JOURNAL_DIR: EDGE_JOURNAL_DIR, PORT: String(EDGE_MODULE_PORT) })) {
    env[k] = { value: v };
  }
  const routes: Record<string, Json> = { ...classifierRoutes(a.storeAndForwardTtlSecs), ...(a.extraRoutes ?? {}) };
  return {
    modulesContent: {
      $edgeAgent: {
        'properties.desired': {
          schemaVersion: '1.1',
          runtime: {
            type: 'docker',
            settings: {
              minDockerVersion: 'v1.25',
              registryCredentials: {
                modeldeploy: { address: a.registry.address, username: a.registry.username, password: a.registry.password },
              },
            },
          },
          systemModules: {
            edgeAgent: {
              type: 'docker',
              settings: { image: `mcr.microsoft.com/azureiotedge-agent:${a.runtimeVersion}`, createOptions: '{}' },
            },
            edgeHub: {
              type: 'docker',
              status: 'running',
              restartPolicy: 'always',
              settings: { image: `mcr.microsoft.com/azureiotedge-hub:${a.runtimeVersion}`, createOptions: EDGE_HUB_CREATE_OPTIONS },
            },
          },
          modules: {
            [EDGE_MODULE_NAME]: {
              version: '1.0',
              type: 'docker',
              status: 'running',
              restartPolicy: 'always',
              settings: { image: a.moduleImage, createOptions: moduleCreateOptions() },
              env,
            },
          },
        },
      },
      $edgeHub: {
        'properties.desired': {
          schemaVersion: '1.2',
          routes,
          storeAndForwardConfiguration: { timeToLiveSecs: a.storeAndForwardTtlSecs },
        },
      },
      [EDGE_MODULE_NAME]: {
        'properties.desired': { ...(a.twin as Record<string, Json>) },
      },
    },
  };
}

const SCHEMA_VERSION = /^(\d+)\.(\d+)$/;
/** Twin property string values above this length must be split (createOptions01...), which we do not do. */
const MAX_CREATE_OPTIONS_CHARS = 512;

/**
 * Rules the IoT Edge runtime enforces that the JSON schemas do not (see test/infra/schemas/SOURCES.md):
 * edgeAgent accepts schemaVersion 1.x up to 1.1; edgeHub accepts 1.0-1.3 and needs
 * storeAndForwardConfiguration from 1.1; plus consistency checks of our own (routes name existing
 * modules, createOptions is JSON that fits one twin value, images come from a registry with credentials).
 * Returns the problems; empty means the manifest is acceptable.
 */
export function checkEdgeRuntimeRules(manifest: EdgeDeploymentManifest): string[] {
  const problems: string[] = [];
  const mc = manifest.modulesContent;
  const agent = mc.$edgeAgent?.['properties.desired'] as Record<string, Json> | undefined;
  const hub = mc.$edgeHub?.['properties.desired'] as Record<string, Json> | undefined;
  if (!agent) return ['$edgeAgent properties.desired is missing'];
  if (!hub) return ['$edgeHub properties.desired is missing'];

  const av = SCHEMA_VERSION.exec(String(agent.schemaVersion));
  if (!av || av[1] !== '1' || Number(av[2]) > 1) {
    problems.push(`$edgeAgent schemaVersion ${JSON.stringify(agent.schemaVersion)} is not accepted by edgeAgent (1.0 or 1.1)`);
  }
  const hv = SCHEMA_VERSION.exec(String(hub.schemaVersion));
  if (!hv || hv[1] !== '1' || Number(hv[2]) > 3) {
    problems.push(`$edgeHub schemaVersion ${JSON.stringify(hub.schemaVersion)} is not accepted by edgeHub (1.0 to 1.3)`);
  } else if (Number(hv[2]) >= 1) {
    const sf = hub.storeAndForwardConfiguration as Record<string, Json> | undefined;
    if (!sf || typeof sf.timeToLiveSecs !== 'number') {
      problems.push(`$edgeHub schemaVersion ${hub.schemaVersion} requires storeAndForwardConfiguration.timeToLiveSecs`);
    }
  }

  const modules = (agent.modules ?? {}) as Record<string, Record<string, Json>>;
  const systemModules = (agent.systemModules ?? {}) as Record<string, Record<string, Json>>;
  const runtime = (agent.runtime ?? {}) as Record<string, Json>;
  const creds = ((runtime.settings as Record<string, Json> | undefined)?.registryCredentials ?? {}) as Record<string, Record<string, Json>>;
  const registries = new Set(Object.values(creds).map((c) => String(c.address)));

  for (const [name, m] of [...Object.entries(systemModules), ...Object.entries(modules)]) {
    const settings = (m.settings ?? {}) as Record<string, Json>;
    if ('digest' in m || 'digest' in settings) {
      problems.push(`module ${name}: "digest" is rejected by the schemas; pin the image by digest in settings.image instead`);
    }
    const co = settings.createOptions;
    if (co !== undefined) {
      if (typeof co !== 'string') {
        problems.push(`module ${name}: createOptions must be a JSON string in a deployment (objects are for deployment templates only)`);
      } else {
        try {
          JSON.parse(co);
        } catch {
          problems.push(`module ${name}: createOptions is not valid JSON`);
        }
        if (co.length > MAX_CREATE_OPTIONS_CHARS) {
          problems.push(`module ${name}: createOptions is ${co.length} characters; over ${MAX_CREATE_OPTIONS_CHARS} it must be split`);
        }
      }
    }
    const image = String(settings.image ?? '');
    const host = image.split('/')[0] ?? '';
    if (name in modules && !host.startsWith('mcr.microsoft.com') && !registries.has(host)) {
      problems.push(`module ${name}: image registry ${host} has no registryCredentials entry`);
    }
  }

  const routes = (hub.routes ?? {}) as Record<string, Json>;
  for (const [name, r] of Object.entries(routes)) {
    const text = typeof r === 'string' ? r : String((r as Record<string, Json>).route ?? '');
    for (const match of text.matchAll(/\/messages\/modules\/([^/\s]+)\/outputs\//g)) {
      if (!(match[1]! in modules)) problems.push(`route ${name} reads from module ${match[1]} that the deployment does not run`);
    }
    for (const match of text.matchAll(/BrokeredEndpoint\("\/modules\/([^/]+)\/inputs\/[^"]+"\)/g)) {
      if (!(match[1]! in modules)) problems.push(`route ${name} sends to module ${match[1]} that the deployment does not run`);
    }
  }
  return problems;
}

/** JSON with object keys sorted, so equal content always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The IoT Hub configuration id of a deployment: IoT Hub cannot change a configuration's content in
 * place (only labels, targetCondition, priority and metrics), so the id carries a hash of the content
 * and a new manifest is a new configuration that replaces the old one.
 */
export function edgeDeploymentId(prefix: string, environment: string, manifest: EdgeDeploymentManifest): string {
  const hash = createHash('sha256').update(canonicalJson(manifest)).digest('hex').slice(0, 12);
  const id = `${prefix}-${environment}-classifier-${hash}`.toLowerCase();
  if (!/^[a-z0-9\-:+%_#*?!(),=@;$']{1,128}$/.test(id)) {
    throw new Error(`The edge deployment id "${id}" is not a valid IoT Hub configuration id; check namePrefix and environment.`);
  }
  return id;
}

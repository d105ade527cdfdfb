// Dynamic providers over the IoT Hub service REST API (api-version 2021-04-12) for what ARM does not
// manage: IoT Edge device identities (with their twin tags) and the at-scale edge deployment.
//
// Pulumi serialises each provider object (with every function it reaches) into the state and runs it
// in a separate process, so everything a provider method touches is in THIS file, written as plain
// function declarations that `require` Node built-ins inside. Never import a package here, and never
// reference an exported `const` from a provider method (TypeScript would compile it to `exports.x`,
// dragging the whole module, Pulumi included, into the serialised closure).
import * as pulumi from '@pulumi/pulumi';

/** How a provider reaches the hub: its host name and a shared access policy with registry write + service connect. */
export interface HubAccess {
  /** e.g. myhub.azure-devices.net (host[:port]; tests use a loopback server). */
  hostName: string;
  policyName: string;
  /** Base64 key of the policy. Secret. */
  policyKey: string;
}

export interface HubResponse {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * A shared access signature for the hub's service API: HMAC-SHA256 (keyed by the base64-decoded
 * policy key) over `<url-encoded resource URI>\n<expiry epoch seconds>`.
 */
export function hubSasToken(hostName: string, policyName: string, policyKey: string, expiresAt: number): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const crypto = require('crypto') as typeof import('crypto');
  const sr = encodeURIComponent(hostName.toLowerCase());
  const sig = crypto.createHmac('sha256', Buffer.from(policyKey, 'base64')).update(`${sr}\n${expiresAt}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${expiresAt}&skn=${encodeURIComponent(policyName)}`;
}

/**
 * One call to the hub's REST API, signed with a fresh SAS token, retried on throttling (429) and
 * transient errors (500, 503) with Retry-After honoured. Resolves with any other status; the caller
 * decides what is an error. Never logs or returns the key or the token.
 */
export async function hubRequest(
  access: HubAccess,
  method: 'GET' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HubResponse> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const https = require('https') as typeof import('https');
  const url = new URL(`https://${access.hostName}${path}`);
  url.searchParams.set('api-version', '2021-04-12');
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const maxAttempts = 5;
  for (let attempt = 1; ; attempt++) {
    const token = hubSasToken(access.hostName, access.policyName, access.policyKey, Math.floor(Date.now() / 1000) + 3600);
    const res = await new Promise<HubResponse>((resolve, reject) => {
      const req = https.request(
        url,
        {
          method,
          headers: {
            Authorization: token,
            Accept: 'application/json',
            ...(payload ? { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(payload.length) } : {}),
            ...headers,
          },
          timeout: 60_000,
        },
        (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              // keep the text: error pages are not always JSON
            }
            resolve({ status: r.statusCode ?? 0, body: parsed, headers: r.headers });
          });
          r.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`IoT Hub ${method} ${url.pathname} timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
    const transient = res.status === 429 || res.status === 500 || res.status === 503;
    if (!transient || attempt >= maxAttempts) return res;
    const retryAfter = Number(res.headers['retry-after']);
    const waitMs = Number.isFinite(retryAfter) ? Math.min(retryAfter, 30) * 1000 : Math.min(500 * 2 ** attempt, 15_000);
    await new Promise((r) => setTimeout(r, waitMs));
  }
}

/** Throws a readable error for an unexpected status (the hub's own message, without secrets). */
export function hubFail(what: string, res: HubResponse): never {
  const b = res.body as { Message?: unknown; message?: unknown } | string | undefined;
  let detail = typeof b === 'string' ? b : String((b && (b.Message ?? b.message)) ?? '');
  detail = detail.replace(/SharedAccessSignature[^\s"]*/g, '[redacted]').slice(0, 400);
  throw new Error(`IoT Hub: ${what} failed with HTTP ${res.status}${detail ? `: ${detail}` : ''}`);
}

// ---------------------------------------------------------------------------------------------------
// Device identities

/** Inputs of an IoT Edge device identity. */
export interface DeviceInputs extends HubAccess {
  deviceId: string;
  /** true for IoT Edge devices. */
  edgeEnabled: boolean;
  status: 'enabled' | 'disabled';
  /** Twin tags managed by the stack (the deployment's target condition matches them). */
  tags: Record<string, string | number | boolean>;
}

export interface DeviceOutputs extends DeviceInputs {
  etag: string;
  generationId: string;
  /** Secret. */
  primaryKey: string;
  /** Secret: what `iotedge config mp --connection-string` takes on the physical device. */
  connectionString: string;
}

interface HubDevice {
  deviceId: string;
  etag?: string;
  generationId?: string;
  status?: string;
  capabilities?: { iotEdge?: boolean };
  authentication?: { type?: string; symmetricKey?: { primaryKey?: string | null; secondaryKey?: string | null } };
}

/**
 * During previews Pulumi hands `check` the inputs it cannot know yet (e.g. a manifest holding an image
 * digest that is only known after the build) as this sentinel; validate only what is known.
 */
function isUnknown(value: unknown): boolean {
  return value === '04da6b54-80e4-46f7-96ec-b56ff0331ba9';
}

function devicePath(deviceId: string): string {
  return `/devices/${encodeURIComponent(deviceId)}`;
}

function twinPath(deviceId: string): string {
  return `/twins/${encodeURIComponent(deviceId)}`;
}

function deviceOutputs(inputs: DeviceInputs, device: HubDevice): DeviceOutputs {
  const primaryKey = device.authentication?.symmetricKey?.primaryKey ?? '';
  return {
    ...inputs,
    etag: device.etag ?? '',
    generationId: device.generationId ?? '',
    primaryKey,
    connectionString: `HostName=${inputs.hostName};DeviceId=${inputs.deviceId};SharedAccessKey=${primaryKey}`,
  };
}

/** Sets the managed tags on the twin; tags managed before and no longer wanted are removed (null). */
async function patchTwinTags(
  access: HubAccess,
  deviceId: string,
  tags: Record<string, unknown>,
  previous: Record<string, unknown> = {},
): Promise<void> {
  const patch: Record<string, unknown> = {};
  for (const k of Object.keys(previous)) if (!(k in tags)) patch[k] = null;
  Object.assign(patch, tags);
  if (Object.keys(patch).length === 0) return;
  const res = await hubRequest(access, 'PATCH', twinPath(deviceId), { tags: patch }, { 'If-Match': '*' });
  if (res.status !== 200) hubFail(`setting twin tags of device ${deviceId}`, res);
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v as Record<string, unknown>)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

function pickAccess(p: HubAccess): HubAccess {
  return { hostName: p.hostName, policyName: p.policyName, policyKey: p.policyKey };
}

/** CRUD of one device identity. Exported for tests, which drive it against a loopback server. */
export const deviceProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: DeviceInputs, news: DeviceInputs) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!isUnknown(news.deviceId) && !/^[A-Za-z0-9\-:.+%_#*?!(),=@$']{1,128}$/.test(String(news.deviceId))) {
      failures.push({ property: 'deviceId', reason: `"${news.deviceId}" is not a valid IoT Hub device id (1-128 letters, digits or -:.+%_#*?!(),=@$')` });
    }
    if (!isUnknown(news.status) && news.status !== 'enabled' && news.status !== 'disabled') {
      failures.push({ property: 'status', reason: `expected "enabled" or "disabled", got ${JSON.stringify(news.status)}` });
    }
    return { inputs: news, failures };
  },

  async create(inputs: DeviceInputs) {
    const access = pickAccess(inputs);
    const res = await hubRequest(access, 'PUT', devicePath(inputs.deviceId), {
      deviceId: inputs.deviceId,
      status: inputs.status,
      capabilities: { iotEdge: inputs.edgeEnabled },
      authentication: { type: 'sas', symmetricKey: { primaryKey: null, secondaryKey: null } },
    });
    if (res.status === 409) {
      hubFail(`creating device ${inputs.deviceId} (it already exists; delete it or remove it from edgeDeviceIds)`, res);
    }
    if (res.status !== 200) hubFail(`creating device ${inputs.deviceId}`, res);
    await patchTwinTags(access, inputs.deviceId, inputs.tags);
    return { id: inputs.deviceId, outs: deviceOutputs(inputs, res.body as HubDevice) };
  },

  async read(id: string, props: DeviceOutputs) {
    const access = pickAccess(props);
    const res = await hubRequest(access, 'GET', devicePath(id));
    if (res.status === 404) return { id: '', props: {} };
    if (res.status !== 200) hubFail(`reading device ${id}`, res);
    const device = res.body as HubDevice;
    const twin = await hubRequest(access, 'GET', twinPath(id));
    if (twin.status !== 200) hubFail(`reading the twin of device ${id}`, twin);
    const allTags = ((twin.body as { tags?: Record<string, string | number | boolean> }).tags ?? {}) as Record<string, string | number | boolean>;
    // Only the tags this stack manages: tags others add to the twin are theirs.
    const tags: Record<string, string | number | boolean> = {};
    for (const k of Object.keys(props.tags ?? {})) if (k in allTags) tags[k] = allTags[k]!;
    const inputs: DeviceInputs = {
      ...pickAccess(props),
      deviceId: device.deviceId,
      edgeEnabled: Boolean(device.capabilities?.iotEdge),
      status: device.status === 'disabled' ? 'disabled' : 'enabled',
      tags,
    };
    return { id, props: deviceOutputs(inputs, device) };
  },

  async diff(_id: string, olds: DeviceOutputs, news: DeviceInputs) {
    const replaces: string[] = [];
    if (olds.deviceId !== news.deviceId) replaces.push('deviceId');
    if (olds.hostName !== news.hostName) replaces.push('hostName');
    const changed =
      replaces.length > 0 ||
      olds.edgeEnabled !== news.edgeEnabled ||
      olds.status !== news.status ||
      olds.policyName !== news.policyName ||
      olds.policyKey !== news.policyKey ||
      !sameJson(olds.tags, news.tags);
    // A new id or another hub never collides with the old identity: create the new one, then delete the old.
    return { changes: changed, replaces };
  },

  async update(id: string, olds: DeviceOutputs, news: DeviceInputs) {
    const access = pickAccess(news);
    let device: HubDevice;
    const current = await hubRequest(access, 'GET', devicePath(id));
    if (current.status !== 200) hubFail(`reading device ${id}`, current);
    device = current.body as HubDevice;
    if (Boolean(device.capabilities?.iotEdge) !== news.edgeEnabled || device.status !== news.status) {
      // A device PUT replaces the identity: send back its keys so they do not change.
      const res = await hubRequest(
        access,
        'PUT',
        devicePath(id),
        { ...device, status: news.status, capabilities: { ...device.capabilities, iotEdge: news.edgeEnabled } },
        { 'If-Match': `"${String(device.etag ?? '*').replace(/"/g, '')}"` },
      );
      if (res.status !== 200) hubFail(`updating device ${id}`, res);
      device = res.body as HubDevice;
    }
    if (!sameJson(olds.tags, news.tags)) await patchTwinTags(access, id, news.tags, olds.tags);
    return { outs: deviceOutputs(news, device) };
  },

  async delete(id: string, props: DeviceOutputs) {
    const res = await hubRequest(pickAccess(props), 'DELETE', devicePath(id), undefined, { 'If-Match': '*' });
    if (res.status !== 204 && res.status !== 200 && res.status !== 404) hubFail(`deleting device ${id}`, res);
  },
};

// ---------------------------------------------------------------------------------------------------
// At-scale (automatic) edge deployment = an IoT Hub configuration with modulesContent

export interface EdgeDeploymentInputs extends HubAccess {
  /** Carries a hash of the content: a new manifest is a new configuration (content is immutable). */
  configurationId: string;
  /** `{ modulesContent: {...} }`. Secret: it holds registry credentials. */
  content: { modulesContent: Record<string, unknown> };
  targetCondition: string;
  priority: number;
  labels: Record<string, string>;
}

export interface EdgeDeploymentOutputs extends EdgeDeploymentInputs {
  etag: string;
  createdTimeUtc: string;
}

interface HubConfiguration {
  id: string;
  etag?: string;
  createdTimeUtc?: string;
  labels?: Record<string, string> | null;
  targetCondition?: string;
  priority?: number;
  content?: unknown;
}

function configurationPath(id: string): string {
  return `/configurations/${encodeURIComponent(id)}`;
}

function configurationBody(inputs: EdgeDeploymentInputs, etag?: string): Record<string, unknown> {
  return {
    id: inputs.configurationId,
    schemaVersion: '1.0',
    labels: inputs.labels,
    content: inputs.content,
    targetCondition: inputs.targetCondition,
    priority: inputs.priority,
    ...(etag ? { etag } : {}),
  };
}

function deploymentOutputs(inputs: EdgeDeploymentInputs, c: HubConfiguration): EdgeDeploymentOutputs {
  return { ...inputs, etag: c.etag ?? '', createdTimeUtc: c.createdTimeUtc ?? '' };
}

/** CRUD of one at-scale edge deployment. Exported for tests, which drive it against a loopback server. */
export const edgeDeploymentProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: EdgeDeploymentInputs, news: EdgeDeploymentInputs) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!isUnknown(news.configurationId) && !/^[a-z0-9\-:+%_#*?!(),=@;$']{1,128}$/.test(String(news.configurationId))) {
      failures.push({ property: 'configurationId', reason: `"${news.configurationId}" is not a valid configuration id (lowercase, 1-128 chars)` });
    }
    if (!isUnknown(news.content) && (!news.content || typeof news.content !== 'object' || !news.content.modulesContent)) {
      failures.push({ property: 'content', reason: 'an edge deployment needs content.modulesContent' });
    }
    if (!isUnknown(news.priority) && (!Number.isInteger(news.priority) || news.priority < 0)) {
      failures.push({ property: 'priority', reason: `expected a non-negative integer, got ${JSON.stringify(news.priority)}` });
    }
    return { inputs: news, failures };
  },

  async create(inputs: EdgeDeploymentInputs) {
    const res = await hubRequest(pickAccess(inputs), 'PUT', configurationPath(inputs.configurationId), configurationBody(inputs));
    if (res.status !== 200 && res.status !== 201) hubFail(`creating edge deployment ${inputs.configurationId}`, res);
    return { id: inputs.configurationId, outs: deploymentOutputs(inputs, res.body as HubConfiguration) };
  },

  async read(id: string, props: EdgeDeploymentOutputs) {
    const res = await hubRequest(pickAccess(props), 'GET', configurationPath(id));
    if (res.status === 404) return { id: '', props: {} };
    if (res.status !== 200) hubFail(`reading edge deployment ${id}`, res);
    const c = res.body as HubConfiguration;
    // Content cannot change in place, so the stored (secret) content stays; the mutable fields are refreshed.
    const inputs: EdgeDeploymentInputs = {
      ...props,
      targetCondition: c.targetCondition ?? '',
      priority: c.priority ?? 0,
      labels: c.labels ?? {},
    };
    delete (inputs as Partial<EdgeDeploymentOutputs>).etag;
    delete (inputs as Partial<EdgeDeploymentOutputs>).createdTimeUtc;
    return { id, props: deploymentOutputs(inputs, c) };
  },

  async diff(_id: string, olds: EdgeDeploymentOutputs, news: EdgeDeploymentInputs) {
    const replaces: string[] = [];
    if (olds.configurationId !== news.configurationId) replaces.push('configurationId');
    if (olds.hostName !== news.hostName) replaces.push('hostName');
    if (!sameJson(olds.content, news.content)) replaces.push('content');
    const changed =
      replaces.length > 0 ||
      olds.targetCondition !== news.targetCondition ||
      olds.priority !== news.priority ||
      olds.policyName !== news.policyName ||
      olds.policyKey !== news.policyKey ||
      !sameJson(olds.labels, news.labels);
    // Same id with new content cannot coexist with the old configuration: delete it first. With a new id
    // (the normal case, the id hashes the content) the new deployment is created before the old one goes,
    // and IoT Hub applies the newer of two equal-priority deployments, so devices move without a gap.
    const sameId = olds.configurationId === news.configurationId && olds.hostName === news.hostName;
    return { changes: changed, replaces, deleteBeforeReplace: replaces.length > 0 && sameId };
  },

  async update(id: string, _olds: EdgeDeploymentOutputs, news: EdgeDeploymentInputs) {
    // Only labels, targetCondition, priority (and metrics) may change in place; the content is sent unchanged.
    const access = pickAccess(news);
    const current = await hubRequest(access, 'GET', configurationPath(id));
    if (current.status !== 200) hubFail(`reading edge deployment ${id}`, current);
    const etag = (current.body as HubConfiguration).etag;
    const res = await hubRequest(access, 'PUT', configurationPath(id), configurationBody(news, etag), { 'If-Match': etag ? `"${etag}"` : '*' });
    if (res.status !== 200 && res.status !== 201) hubFail(`updating edge deployment ${id}`, res);
    return { outs: deploymentOutputs(news, res.body as HubConfiguration) };
  },

  async delete(id: string, props: EdgeDeploymentOutputs) {
    const res = await hubRequest(pickAccess(props), 'DELETE', configurationPath(id), undefined, { 'If-Match': '*' });
    if (res.status !== 204 && res.status !== 200 && res.status !== 404) hubFail(`deleting edge deployment ${id}`, res);
  },
};

// ---------------------------------------------------------------------------------------------------
// Resources

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

/** An IoT Edge device identity in the hub's registry, with the twin tags the edge deployment targets. */
export class IotHubDevice extends pulumi.dynamic.Resource {
  declare readonly deviceId: pulumi.Output<string>;
  declare readonly primaryKey: pulumi.Output<string>;
  declare readonly connectionString: pulumi.Output<string>;

  constructor(name: string, args: Inputs<DeviceInputs>, opts?: pulumi.CustomResourceOptions) {
    super(
      deviceProvider,
      name,
      { ...args, policyKey: pulumi.secret(args.policyKey), etag: undefined, generationId: undefined, primaryKey: undefined, connectionString: undefined },
      { ...opts, additionalSecretOutputs: ['primaryKey', 'connectionString', 'policyKey'] },
      'iothub',
      'Device',
    );
  }
}

/** An at-scale IoT Edge deployment (IoT Hub configuration) targeting devices by twin tags. */
export class IotHubEdgeDeployment extends pulumi.dynamic.Resource {
  declare readonly configurationId: pulumi.Output<string>;
  declare readonly etag: pulumi.Output<string>;

  constructor(name: string, args: Inputs<EdgeDeploymentInputs>, opts?: pulumi.CustomResourceOptions) {
    super(
      edgeDeploymentProvider,
      name,
      { ...args, policyKey: pulumi.secret(args.policyKey), content: pulumi.secret(args.content), etag: undefined, createdTimeUtc: undefined },
      { ...opts, additionalSecretOutputs: ['content', 'policyKey'] },
      'iothub',
      'EdgeDeployment',
    );
  }
}

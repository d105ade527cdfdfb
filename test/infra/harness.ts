// Runs the REAL Pulumi program (index.ts) under Pulumi's mocks with a stack's real config, and records
// every resource registration (type, name, parent, provider, inputs with secrets unwrapped but
// remembered) and every stack output (value + whether it is secret). One program run per process:
// Pulumi's runtime state is global, so each stack has its own test file.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import YAML from 'yaml';

export const REPO_ROOT = join(__dirname, '..', '..');
export const PROJECT = 'model-deploy';

/** The marker Pulumi wraps secret values in when they cross the RPC boundary. */
const SECRET_SIG_KEY = '4dabf18193072939515e22adb298388d';
const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';

export interface RecordedResource {
  type: string;
  name: string;
  urn: string;
  parentUrn: string;
  /** Provider reference (`<urn>::<id>`) for resources with an explicit provider. */
  provider: string;
  custom: boolean;
  /** Inputs with secret wrappers removed. */
  inputs: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Dotted paths of the inputs that were secret. */
  secretPaths: string[];
  /** The resource option ignoreChanges, as the engine receives it. */
  ignoreChanges: string[];
}

export interface RecordedCall {
  token: string;
  inputs: Record<string, unknown>;
}

export interface StackRun {
  resources: RecordedResource[];
  calls: RecordedCall[];
  outputs: Record<string, unknown>;
  secretOutputs: Set<string>;
  byType(type: string): RecordedResource[];
  one(type: string, name?: string): RecordedResource;
}

/** Removes secret wrappers; returns the plain value and the paths that were secret. */
export function unwrapSecrets(value: unknown, path = '', paths: string[] = []): { value: unknown; paths: string[] } {
  if (Array.isArray(value)) return { value: value.map((v, i) => unwrapSecrets(v, `${path}[${i}]`, paths).value), paths };
  // Assets and archives are kept as they are (their path is a promise).
  if (value === null || typeof value !== 'object' || pulumi.asset.Asset.isInstance(value) || pulumi.asset.Archive.isInstance(value)) {
    return { value, paths };
  }
  const o = value as Record<string, unknown>;
  if (o[SECRET_SIG_KEY] === SECRET_SIG) {
    paths.push(path || '.');
    return { value: unwrapSecrets(o.value, path, paths).value, paths };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = unwrapSecrets(v, path ? `${path}.${k}` : k, paths).value;
  return { value: out, paths };
}

function secret(value: unknown): unknown {
  return { [SECRET_SIG_KEY]: SECRET_SIG, value };
}

interface ProjectFile {
  config: Record<string, { type: string; default?: unknown; description?: string; items?: { type: string } }>;
}

/** The project file, parsed. */
export function readProjectFile(): ProjectFile & Record<string, unknown> {
  return YAML.parse(readFileSync(join(REPO_ROOT, 'Pulumi.yaml'), 'utf8'));
}

/** A stack file's `config:` map, parsed. */
export function readStackFile(stack: string): Record<string, unknown> {
  const doc = YAML.parse(readFileSync(join(REPO_ROOT, `Pulumi.${stack}.yaml`), 'utf8')) as { config?: Record<string, unknown> };
  return doc.config ?? {};
}

/**
 * What the Pulumi CLI hands the program as PULUMI_CONFIG: project defaults from Pulumi.yaml overlaid
 * with the stack file, keys namespaced, every value a string (arrays and objects as JSON).
 */
export function stackConfig(stack: string, overrides: Record<string, unknown> = {}): Record<string, string> {
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(readProjectFile().config ?? {})) {
    if (spec.default !== undefined) values[`${PROJECT}:${key}`] = spec.default;
  }
  Object.assign(values, readStackFile(stack), overrides);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return out;
}

const fakeHash = (s: string) => createHash('sha256').update(s).digest('hex');
/** What AKS's listClusterUserCredential returns with format "exec" for an Entra cluster. */
export const AKS_EXEC_KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: aks
  cluster:
    server: https://aks.example.invalid:443
    certificate-authority-data: LS0tLS1CRUdJTg==
contexts:
- name: aks
  context: {cluster: aks, user: clusterUser_rg_aks}
current-context: aks
users:
- name: clusterUser_rg_aks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --environment, AzurePublicCloud, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630, --client-id, 80faf920-1908-4b52-b5ef-a8e7bedfc67a, --tenant-id, tenant-id, --login, devicecode]
      env: null
`;

/** Outputs a real provider computes; the mocks return only what they are given. */
function computedState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const plain = unwrapSecrets(inputs).value as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  switch (type) {
    case 'random:index/randomString:RandomString':
      return { result: 'k3x9q2'.slice(0, Number(plain.length ?? 6)) };
    case 'random:index/randomPassword:RandomPassword':
      return { result: secret(fakeHash(name).slice(0, Number(plain.length ?? 32))) };
    case 'azure-native:resources:ResourceGroup':
      return { name: plain.resourceGroupName };
    case 'azure-native:containerregistry:Registry':
      return { name: plain.registryName, loginServer: `${plain.registryName}.azurecr.io` };
    case 'azure-native:containerregistry:ScopeMap':
      return { name: plain.scopeMapName };
    case 'azure-native:containerregistry:Token':
      return { name: plain.tokenName, creationDate: '2026-01-01T00:00:00Z' };
    case 'azure-native:storage:StorageAccount':
      return { name: plain.accountName };
    case 'azure-native:storage:BlobContainer':
      return { name: plain.containerName };
    case 'azure-native:storage:Blob':
      return { name: plain.blobName, url: `https://${plain.accountName}.blob.core.windows.net/${plain.containerName}/${plain.blobName}` };
    case 'azure-native:operationalinsights:Workspace':
      return { name: plain.workspaceName };
    case 'azure-native:applicationinsights:Component':
      return {
        name: plain.resourceName,
        connectionString: `InstrumentationKey=${fakeHash(name).slice(0, 32)};IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/`,
      };
    case 'azure-native:containerservice:ManagedCluster':
      return {
        name: plain.resourceName,
        identity: { ...plain.identity, principalId: 'cluster-principal-id', tenantId: 'tenant-id' },
        identityProfile: { kubeletidentity: { objectId: 'kubelet-object-id', clientId: 'kubelet-client-id' } },
        // AKS creates the add-on's identity when the add-on is enabled.
        addonProfiles: Object.fromEntries(
          Object.entries((plain.addonProfiles ?? {}) as Record<string, Record<string, unknown>>).map(([k, v]) => [
            k,
            k === 'azureKeyvaultSecretsProvider' ? { ...v, identity: { clientId: 'kv-addon-client-id', objectId: 'kv-addon-object-id' } } : v,
          ]),
        ),
      };
    case 'azure-native:network:PublicIPAddress':
      return { name: plain.publicIpAddressName, ipAddress: '20.0.0.2', dnsSettings: { ...plain.dnsSettings, fqdn: `${plain.dnsSettings?.domainNameLabel}.${plain.location}.cloudapp.azure.com` } };
    case 'azure-native:monitor:DataCollectionRule':
      return { name: plain.dataCollectionRuleName };
    case 'azure-native:iothub:IotHubResource':
      return { name: plain.resourceName, properties: { ...plain.properties, hostName: `${plain.resourceName}.azure-devices.net` } };
    case 'docker:index/image:Image': {
      const repo = String(plain.imageName).replace(/:[^:/]+$/, '');
      return { repoDigest: `${repo}@sha256:${fakeHash(repo)}` };
    }
    case 'pulumi-nodejs:dynamic/containerregistry:TokenPassword':
      return { username: String(plain.tokenId).split('/').pop(), password: secret(`acr-${fakeHash(name).slice(0, 40)}`), creationTime: '2026-01-01T00:00:00Z' };
    case 'pulumi-nodejs:dynamic/containerregistry:ImageImport':
      return { image: `${plain.loginServer}/${plain.repository}@${plain.digest}` };
    case 'pulumi-nodejs:dynamic/iothub:Device': {
      const key = Buffer.from(fakeHash(name)).toString('base64').slice(0, 44);
      return {
        primaryKey: secret(key),
        connectionString: secret(`HostName=${plain.hostName};DeviceId=${plain.deviceId};SharedAccessKey=${key}`),
        etag: 'etag',
        generationId: '1',
      };
    }
    case 'pulumi-nodejs:dynamic/iothub:EdgeDeployment':
      return { etag: 'etag', createdTimeUtc: '2026-01-01T00:00:00Z' };
    default:
      return {};
  }
}

function computedId(type: string, name: string, state: Record<string, unknown>): string {
  if (type.startsWith('azure-native:')) {
    const n = String(state.name ?? name);
    return `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/${type.split(':')[1]}/${n}`;
  }
  if (type === 'pulumi-nodejs:dynamic/iothub:Device') return String(state.deviceId);
  if (type === 'pulumi-nodejs:dynamic/iothub:EdgeDeployment') return String(state.configurationId);
  return `${name}-id`;
}

/** The id the mocks gave a recorded resource (what other resources receive as `<x>.id`). */
export function mockId(r: Pick<RecordedResource, 'type' | 'name' | 'inputs'>): string {
  return computedId(r.type, r.name, { ...r.inputs, ...computedState(r.type, r.name, r.inputs) });
}

function callResult(token: string, _inputs: Record<string, unknown>): Record<string, unknown> {
  switch (token) {
    case 'azure-native:authorization:getClientConfig':
      return { clientId: 'client-id', objectId: 'deployer-object-id', subscriptionId: '00000000-0000-0000-0000-000000000000', tenantId: 'tenant-id' };
    case 'azure-native:containerservice:listManagedClusterUserCredentials':
      return { kubeconfigs: [{ name: 'clusterUser', value: Buffer.from(AKS_EXEC_KUBECONFIG).toString('base64') }] };
    default:
      return {};
  }
}

async function resolveOutput(o: unknown): Promise<{ value: unknown; secret: boolean }> {
  if (pulumi.Output.isInstance(o)) {
    const out = o as unknown as { promise(): Promise<unknown>; isSecret: Promise<boolean> };
    return { value: await out.promise(), secret: await out.isSecret };
  }
  return { value: o, secret: false };
}

export interface Recorder {
  resources: RecordedResource[];
  calls: RecordedCall[];
}

/**
 * Installs the mocks and the stack's config. Call it BEFORE the program is loaded (a static import
 * would run the program first, against no mocks); then load index.ts and call collect().
 */
export async function installMocks(stack: string, overrides: Record<string, unknown> = {}, preview = false): Promise<Recorder> {
  process.chdir(REPO_ROOT); // Pulumi runs the program from the project directory.
  // The runtime snapshots PULUMI_CONFIG when its state is first created, which importing a provider
  // package may already have done: set the config explicitly too.
  const config = stackConfig(stack, overrides);
  process.env.PULUMI_CONFIG = JSON.stringify(config);
  pulumi.runtime.setAllConfig(config, []);
  const recorder: Recorder = { resources: [], calls: [] };
  const parents = new Map<string, { parentUrn: string; urn: string; ignoreChanges: string[] }>();

  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const state = { ...args.inputs, ...computedState(args.type, args.name, args.inputs) };
        const { value, paths } = unwrapSecrets(args.inputs);
        const where = parents.get(`${args.type}::${args.name}`) ?? { parentUrn: '', urn: '', ignoreChanges: [] };
        recorder.resources.push({
          type: args.type,
          name: args.name,
          urn: where.urn,
          parentUrn: where.parentUrn,
          provider: args.provider ?? '',
          custom: args.custom ?? true,
          inputs: value as Record<string, unknown>,
          secretPaths: paths,
          ignoreChanges: where.ignoreChanges,
        });
        return { id: computedId(args.type, args.name, state), state };
      },
      call(args) {
        const plain = unwrapSecrets(args.inputs).value as Record<string, unknown>;
        recorder.calls.push({ token: args.token, inputs: plain });
        return callResult(args.token, plain);
      },
    },
    PROJECT,
    stack,
    preview,
  );

  // Record each registration's parent and options: the mock's newResource does not see them, the monitor does.
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: { getType(): string; getName(): string; getParent(): string; getIgnorechangesList(): string[] }, cb: unknown): Promise<void>;
    newUrn(parent: string, type: string, name: string): string;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    parents.set(`${req.getType()}::${req.getName()}`, {
      parentUrn: req.getParent(),
      urn: monitor.newUrn(req.getParent(), req.getType(), req.getName()),
      ignoreChanges: req.getIgnorechangesList(),
    });
    return register(req, cb);
  };
  return recorder;
}

/** Resolves every export of the loaded program and waits until every registration is done. */
export async function collect(recorder: Recorder, program: Record<string, unknown>): Promise<StackRun> {
  const { resources, calls } = recorder;
  const outputs: Record<string, unknown> = {};
  const secretOutputs = new Set<string>();
  for (const [k, v] of Object.entries(program)) {
    if (k === 'default' || k === '__esModule') continue;
    const r = await resolveOutput(v);
    outputs[k] = r.value;
    if (r.secret) secretOutputs.add(k);
  }
  await pulumi.runtime.disconnect();
  return {
    resources,
    calls,
    outputs,
    secretOutputs,
    byType: (type) => resources.filter((r) => r.type === type),
    one(type, name) {
      const found = resources.filter((r) => r.type === type && (name === undefined || r.name === name));
      if (found.length !== 1) throw new Error(`expected one ${type}${name ? ` named ${name}` : ''}, found ${found.length}`);
      return found[0]!;
    },
  };
}

/**
 * Runs the real program for `stack` under mocks (see installMocks) and records everything; `preview`
 * runs it as `pulumi preview` does (isDryRun true).
 */
export async function runStack(stack: string, overrides: Record<string, unknown> = {}, preview = false): Promise<StackRun> {
  const recorder = await installMocks(stack, overrides, preview);
  // require, not import(): the same call works under tsx and under Pulumi's ts-node (pulumi-runtime.test.ts).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const program = require('../../index') as Record<string, unknown>;
  return collect(recorder, program);
}

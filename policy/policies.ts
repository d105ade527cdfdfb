// The security rules of the model-deploy stack as CrossGuard resource policies. Plain functions of a
// resource's type and inputs, so test/infra runs them offline against every resource the mocks record,
// and `pulumi preview --policy-pack policy` runs the same functions against the real plan.
import type { PolicyResource, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy } from '@pulumi/policy';

/* eslint-disable @typescript-eslint/no-explicit-any -- resource inputs are untyped property bags here */

const STORAGE = 'azure-native:storage:StorageAccount';
const CONTAINER = 'azure-native:storage:BlobContainer';
const REGISTRY = 'azure-native:containerregistry:Registry';
const AKS = 'azure-native:containerservice:ManagedCluster';
const IOT_HUB = 'azure-native:iothub:IotHubResource';
const SERVICE = 'kubernetes:core/v1:Service';
/** Istio's Gateway and VirtualService, whichever API version declares them. */
const ISTIO_GATEWAY = /^kubernetes:networking\.istio\.io\/v1(alpha3|beta1)?:Gateway$/;
const ISTIO_VIRTUAL_SERVICE = /^kubernetes:networking\.istio\.io\/v1(alpha3|beta1)?:VirtualService$/;
const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/** Tags every taggable resource must carry (cost reports, ownership, clean-up). */
export const REQUIRED_TAGS = ['project', 'environment', 'stack', 'owner', 'managedBy', 'component'] as const;

/** Azure resource types of this stack that take tags. */
export const TAGGABLE_TYPES = new Set([
  'azure-native:resources:ResourceGroup',
  STORAGE,
  REGISTRY,
  AKS,
  'azure-native:containerservice:AgentPool',
  IOT_HUB,
  'azure-native:operationalinsights:Workspace',
  'azure-native:applicationinsights:Component',
  'azure-native:monitor:DataCollectionRule',
  'azure-native:network:PublicIPAddress',
]);

/** Kubernetes kinds with a pod template (or a pod) whose containers the pod rules check. */
function podSpec(type: string, props: any): any {
  if (type === 'kubernetes:core/v1:Pod') return props.spec;
  if (/^kubernetes:(apps\/v1:(Deployment|StatefulSet|DaemonSet|ReplicaSet)|batch\/v1:Job)$/.test(type)) return props.spec?.template?.spec;
  if (type === 'kubernetes:batch/v1:CronJob') return props.spec?.jobTemplate?.spec?.template?.spec;
  return undefined;
}

function containers(spec: any): any[] {
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
}

type Check = (args: Pick<ResourceValidationArgs, 'type' | 'props'>, report: ReportViolation) => void;

const policy = (name: string, description: string, check: Check, enforcementLevel: 'mandatory' | 'advisory' = 'mandatory'): ResourceValidationPolicy => ({
  name,
  description,
  enforcementLevel,
  validateResource: (args, report) => check(args, report),
});

export const policies: ResourceValidationPolicy[] = [
  policy('storage-no-public-blob-access', 'Storage accounts forbid anonymous blob access; containers are private.', ({ type, props }, report) => {
    if (type === STORAGE && props.allowBlobPublicAccess !== false) report('allowBlobPublicAccess must be false.');
    if (type === CONTAINER && (props.publicAccess ?? 'None') !== 'None') report(`publicAccess is ${props.publicAccess}; it must be None.`);
  }),
  policy('tls-1-2', 'Azure endpoints accept TLS 1.2 or later only, and storage HTTPS only.', ({ type, props }, report) => {
    if (type === STORAGE) {
      if (props.minimumTlsVersion !== 'TLS1_2' && props.minimumTlsVersion !== 'TLS1_3') report(`minimumTlsVersion is ${props.minimumTlsVersion}; it must be TLS1_2 or later.`);
      if (props.enableHttpsTrafficOnly !== true) report('enableHttpsTrafficOnly must be true.');
    }
    if (type === IOT_HUB && props.properties?.minTlsVersion !== '1.2') report(`properties.minTlsVersion is ${props.properties?.minTlsVersion}; it must be 1.2.`);
  }),
  policy('acr-admin-off', 'Container registries have no admin user and no anonymous pull.', ({ type, props }, report) => {
    if (type !== REGISTRY) return;
    if (props.adminUserEnabled !== false) report('adminUserEnabled must be false (use tokens or managed identities).');
    if (props.anonymousPullEnabled === true) report('anonymousPullEnabled must be false.');
  }),
  policy('aks-entra-rbac-no-local-accounts', 'AKS uses Entra ID with Azure RBAC and has no local accounts.', ({ type, props }, report) => {
    if (type !== AKS) return;
    if (props.enableRBAC !== true) report('enableRBAC must be true.');
    if (props.aadProfile?.managed !== true || props.aadProfile?.enableAzureRBAC !== true) report('aadProfile must be managed with enableAzureRBAC.');
    if (props.disableLocalAccounts !== true) report('disableLocalAccounts must be true.');
  }),
  policy('pods-non-root-read-only', 'Pods run as non-root with a read-only root filesystem, no privilege escalation and no capabilities.', ({ type, props }, report) => {
    const spec = podSpec(type, props);
    if (!spec) return;
    for (const c of containers(spec)) {
      const sc = { ...spec.securityContext, ...c.securityContext };
      if (sc.runAsNonRoot !== true) report(`container ${c.name}: runAsNonRoot must be true.`);
      if (c.securityContext?.readOnlyRootFilesystem !== true) report(`container ${c.name}: readOnlyRootFilesystem must be true.`);
      if (c.securityContext?.allowPrivilegeEscalation !== false) report(`container ${c.name}: allowPrivilegeEscalation must be false.`);
      if (c.securityContext?.privileged === true) report(`container ${c.name}: privileged is not allowed.`);
      if (!(c.securityContext?.capabilities?.drop ?? []).includes('ALL')) report(`container ${c.name}: capabilities must drop ALL.`);
    }
  }),
  policy('images-by-digest', 'Containers run images by digest, so a deployment runs exactly the bytes that were tested.', ({ type, props }, report) => {
    for (const c of containers(podSpec(type, props))) {
      // Unknown during a preview (the digest exists after the build): nothing to check yet.
      if (typeof c.image === 'string' && !/@sha256:[0-9a-f]{64}$/.test(c.image)) report(`container ${c.name}: image ${c.image} is not pinned by digest.`);
    }
  }),
  policy('https-only', 'Nothing serves the API over plain HTTP: no public load balancer but on 443, and every ingress gateway listener is HTTPS (TLS 1.2+, a certificate) or plain HTTP for redirects.', ({ type, props }, report) => {
    if (type === SERVICE && props.spec?.type === 'LoadBalancer') {
      for (const p of props.spec?.ports ?? []) {
        if (p.port !== 443 || p.appProtocol === 'http') report(`Service ${props.metadata?.name} exposes port ${p.port} (${p.appProtocol ?? p.protocol}) to the internet; serve HTTPS only.`);
      }
    }
    if (!ISTIO_GATEWAY.test(type)) return;
    for (const server of props.spec?.servers ?? []) {
      const where = `Gateway ${props.metadata?.name} port ${server.port?.number}`;
      const protocol = String(server.port?.protocol ?? '').toUpperCase();
      if (protocol === 'HTTPS') {
        if (!['SIMPLE', 'MUTUAL'].includes(server.tls?.mode)) report(`${where}: tls.mode is ${server.tls?.mode}; it must terminate TLS (SIMPLE or MUTUAL).`);
        if (!server.tls?.credentialName) report(`${where}: tls.credentialName names no certificate.`);
        if (!['TLSV1_2', 'TLSV1_3'].includes(server.tls?.minProtocolVersion)) report(`${where}: tls.minProtocolVersion is ${server.tls?.minProtocolVersion}; it must be TLSV1_2 or later.`);
      } else if (protocol !== 'HTTP' && protocol !== 'TLS') {
        // HTTP listeners are judged with their routes (https-only-routes); TLS passthrough stays encrypted.
        report(`${where}: protocol ${protocol} carries the API unencrypted; use HTTPS.`);
      }
    }
  }),
  policy('required-tags', `Azure resources carry the tags ${REQUIRED_TAGS.join(', ')}.`, ({ type, props }, report) => {
    if (!TAGGABLE_TYPES.has(type)) return;
    const missing = REQUIRED_TAGS.filter((t) => !props.tags?.[t]);
    if (missing.length > 0) report(`missing tags: ${missing.join(', ')}.`);
  }),
];

/** Whether a VirtualService route can receive requests arriving on one of `ports`. */
function routeServesPorts(route: any, ports: number[]): boolean {
  const matches: any[] = route.match ?? [];
  return matches.length === 0 || matches.some((m) => m.port === undefined || ports.includes(m.port));
}

function isAcmeChallengeRoute(route: any): boolean {
  const matches: any[] = route.match ?? [];
  return matches.length > 0 && matches.every((m) => typeof m.uri?.prefix === 'string' && m.uri.prefix.startsWith(ACME_CHALLENGE_PREFIX));
}

/** The Gateways (namespace/name) a VirtualService binds to. */
function boundGateways(vs: any): string[] {
  const ns = vs.metadata?.namespace ?? 'default';
  return (vs.spec?.gateways ?? []).map((g: string) => (g.includes('/') ? g : `${ns}/${g}`));
}

/**
 * Cross-resource rules: what a plain-HTTP gateway listener may do is decided by the routes bound to it
 * (redirect to https, or answer the ACME HTTP-01 challenge, nothing else), and every route that serves
 * the API over HTTPS sets Strict-Transport-Security.
 */
export const stackPolicies: StackValidationPolicy[] = [
  {
    name: 'https-only-routes',
    description: 'Plain-HTTP gateway listeners only redirect to HTTPS (or answer ACME challenges); HTTPS routes send HSTS.',
    enforcementLevel: 'mandatory',
    validateStack: ({ resources }, report) => {
      const gateways = resources.filter((r) => ISTIO_GATEWAY.test(r.type));
      const services = resources.filter((r) => ISTIO_VIRTUAL_SERVICE.test(r.type));
      for (const gw of gateways) {
        const id = `${gw.props.metadata?.namespace ?? 'default'}/${gw.props.metadata?.name}`;
        const servers: any[] = gw.props.spec?.servers ?? [];
        const plainPorts = servers.filter((x) => String(x.port?.protocol).toUpperCase() === 'HTTP' && x.tls?.httpsRedirect !== true).map((x) => x.port?.number);
        const hasHttps = servers.some((x) => String(x.port?.protocol).toUpperCase() === 'HTTPS');
        for (const vs of services.filter((v) => boundGateways(v.props).includes(id))) {
          for (const route of vs.props.spec?.http ?? []) {
            const where = `VirtualService ${vs.props.metadata?.name} route ${route.name ?? '(unnamed)'} on Gateway ${id}`;
            const redirectsToHttps = route.redirect?.scheme === 'https';
            if (plainPorts.length > 0 && routeServesPorts(route, plainPorts) && !redirectsToHttps && !isAcmeChallengeRoute(route)) {
              report(`${where} answers plain HTTP on port ${plainPorts.join(', ')}; redirect it to https.`);
            }
            if (hasHttps && route.route && !isAcmeChallengeRoute(route) && !/^max-age=\d+/.test(route.headers?.response?.set?.['Strict-Transport-Security'] ?? '')) {
              report(`${where} serves HTTPS without a Strict-Transport-Security header.`);
            }
          }
        }
      }
    },
  },
];

/** Runs the stack policies against a whole stack's resources, outside the policy host. */
export function stackViolations(resources: Array<Pick<PolicyResource, 'type' | 'props'>>): Array<{ policy: string; message: string }> {
  const found: Array<{ policy: string; message: string }> = [];
  for (const p of stackPolicies) {
    const validate = p.validateStack as (args: { resources: typeof resources }, report: ReportViolation) => void;
    validate({ resources }, (message) => found.push({ policy: p.name, message }));
  }
  return found;
}

/** Runs every policy against one resource, outside the policy host: what the tests and tools use. */
export function violations(type: string, props: Record<string, unknown>): Array<{ policy: string; enforcementLevel: string; message: string }> {
  const found: Array<{ policy: string; enforcementLevel: string; message: string }> = [];
  for (const p of policies) {
    const validate = p.validateResource as (args: Pick<ResourceValidationArgs, 'type' | 'props'>, report: ReportViolation) => void;
    validate({ type, props }, (message) => found.push({ policy: p.name, enforcementLevel: String(p.enforcementLevel), message }));
  }
  return found;
}

// Each rule of the CrossGuard policy pack (policy/policies.ts) catches the violation it exists for, so
// the offline run against the stacks (stack-checks.ts) means something.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

/* eslint-disable @typescript-eslint/no-explicit-any */
import { policies, stackPolicies, stackViolations, violations } from '../../policy/policies';
import { gateway, virtualService } from '../../infra/https-manifests';

const names = (type: string, props: Record<string, unknown>) => violations(type, props).map((v) => v.policy);
const securePod = {
  securityContext: { runAsNonRoot: true },
  containers: [{ name: 'app', image: `cr.azurecr.io/app@sha256:${'a'.repeat(64)}`, securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
};
const deployment = (pod: unknown) => ({ spec: { template: { spec: pod } } });

describe('CrossGuard policy pack', () => {
  test('every rule has a name, a description and an enforcement level', () => {
    const all = [...policies, ...stackPolicies];
    for (const p of all) assert.ok(p.name && p.description && p.enforcementLevel, p.name);
    assert.equal(new Set(all.map((p) => p.name)).size, all.length);
    assert.equal(policies.find((p) => p.name === 'https-only')!.enforcementLevel, 'mandatory');
  });

  test('storage: public blob access, old TLS, plain HTTP', () => {
    assert.deepEqual(names('azure-native:storage:StorageAccount', { allowBlobPublicAccess: true, minimumTlsVersion: 'TLS1_0', enableHttpsTrafficOnly: false }), [
      'storage-no-public-blob-access', 'tls-1-2', 'tls-1-2', 'required-tags',
    ]);
    assert.deepEqual(names('azure-native:storage:BlobContainer', { publicAccess: 'Blob' }), ['storage-no-public-blob-access']);
  });

  test('registry admin user; IoT Hub TLS', () => {
    assert.deepEqual(names('azure-native:containerregistry:Registry', { adminUserEnabled: true, tags: {} }), ['acr-admin-off', 'required-tags']);
    assert.deepEqual(names('azure-native:iothub:IotHubResource', { properties: { minTlsVersion: '1.0' } }), ['tls-1-2', 'required-tags']);
  });

  test('AKS without Entra RBAC or with local accounts', () => {
    const found = violations('azure-native:containerservice:ManagedCluster', { enableRBAC: true, disableLocalAccounts: false });
    assert.deepEqual(found.filter((v) => v.policy === 'aks-entra-rbac-no-local-accounts').map((v) => v.message), [
      'aadProfile must be managed with enableAzureRBAC.', 'disableLocalAccounts must be true.',
    ]);
  });

  test('pods: a secure pod passes; root, writable root filesystem, escalation, capabilities and tags are each caught', () => {
    assert.deepEqual(names('kubernetes:apps/v1:Deployment', deployment(securePod)), []);
    const c = securePod.containers[0]!;
    const bad = { containers: [{ ...c, image: 'nginx:latest', securityContext: { privileged: true } }] };
    assert.deepEqual(violations('kubernetes:apps/v1:Deployment', deployment(bad)).map((v) => v.message), [
      'container app: runAsNonRoot must be true.',
      'container app: readOnlyRootFilesystem must be true.',
      'container app: allowPrivilegeEscalation must be false.',
      'container app: privileged is not allowed.',
      'container app: capabilities must drop ALL.',
      'container app: image nginx:latest is not pinned by digest.',
    ]);
    assert.deepEqual(names('kubernetes:apps/v1:Deployment', deployment({ ...securePod, containers: [{ ...c, image: undefined }] })), [], 'an image unknown in preview is not judged');
  });

  test('HTTPS only: a public Service on port 80 is reported, 443 is not', () => {
    assert.deepEqual(names('kubernetes:core/v1:Service', { metadata: { name: 's' }, spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] } }), ['https-only']);
    assert.deepEqual(names('kubernetes:core/v1:Service', { metadata: { name: 's' }, spec: { type: 'LoadBalancer', ports: [{ port: 443, protocol: 'TCP' }] } }), []);
    assert.deepEqual(names('kubernetes:core/v1:Service', { spec: { type: 'ClusterIP', ports: [{ port: 80 }] } }), []);
  });

  const GW = 'kubernetes:networking.istio.io/v1:Gateway';
  const VS = 'kubernetes:networking.istio.io/v1:VirtualService';
  const built = (mode: 'keyvault' | 'letsencrypt') => ({
    gw: gateway('gw', 'scoring', 'api.example.com', mode, {}) as any,
    vs: virtualService('vs', 'scoring', { host: 'api.example.com', gatewayName: 'gw', serviceHost: 'svc', servicePort: 80, hstsMaxAgeSeconds: 60, ...(mode === 'letsencrypt' ? { acmeSolverHost: 'solver' } : {}) }, {}) as any,
  });
  const copy = <T>(o: T): T => JSON.parse(JSON.stringify(o));

  test('HTTPS only: the gateway the stack builds passes; no certificate, old TLS, passthrough of plain TCP are each caught', () => {
    for (const mode of ['keyvault', 'letsencrypt'] as const) assert.deepEqual(violations(GW, built(mode).gw), [], mode);
    const gw = copy(built('keyvault').gw);
    gw.spec.servers[0].tls = { mode: 'SIMPLE', minProtocolVersion: 'TLSV1_0' };
    gw.spec.servers.push({ port: { number: 8080, name: 'tcp', protocol: 'TCP' }, hosts: ['*'] });
    assert.deepEqual(violations(GW, gw).map((v) => v.message), [
      'Gateway gw port 443: tls.credentialName names no certificate.',
      'Gateway gw port 443: tls.minProtocolVersion is TLSV1_0; it must be TLSV1_2 or later.',
      'Gateway gw port 8080: protocol TCP carries the API unencrypted; use HTTPS.',
    ]);
  });

  test('HTTPS only, across resources: a plain-HTTP listener may only redirect or answer ACME; HTTPS routes send HSTS', () => {
    const stack = (gw: unknown, vs: unknown) => stackViolations([{ type: GW, props: gw as Record<string, unknown> }, { type: VS, props: vs as Record<string, unknown> }]);
    for (const mode of ['keyvault', 'letsencrypt'] as const) assert.deepEqual(stack(built(mode).gw, built(mode).vs), [], mode);

    // Let's Encrypt without the redirect route: port 80 would serve the API in plain HTTP.
    const { gw, vs } = built('letsencrypt');
    const noRedirect = copy(vs);
    noRedirect.spec.http = noRedirect.spec.http.filter((r: any) => r.name !== 'https-redirect');
    noRedirect.spec.http.at(-1).match = undefined;
    assert.deepEqual(stack(gw, noRedirect).map((v) => v.message), ['VirtualService vs route scoring-api on Gateway scoring/gw answers plain HTTP on port 80; redirect it to https.']);

    // Key Vault mode without httpsRedirect on the listener: the same route now serves port 80.
    const kv = built('keyvault');
    const openGw = copy(kv.gw);
    delete openGw.spec.servers[1].tls;
    const anyPort = copy(kv.vs);
    delete anyPort.spec.http[0].match;
    assert.deepEqual(stack(openGw, anyPort).map((v) => v.policy), ['https-only-routes']);

    // A route that forgets HSTS.
    const noHsts = copy(kv.vs);
    delete noHsts.spec.http[0].headers;
    assert.deepEqual(stack(kv.gw, noHsts).map((v) => v.message), ['VirtualService vs route scoring-api on Gateway scoring/gw serves HTTPS without a Strict-Transport-Security header.']);
  });

  test('tags: every required tag, on taggable types only', () => {
    const tags = { project: 'p', environment: 'dev', stack: 'dev', owner: 'o', managedBy: 'pulumi', component: 'c' };
    assert.deepEqual(names('azure-native:operationalinsights:Workspace', { tags }), []);
    assert.deepEqual(violations('azure-native:operationalinsights:Workspace', { tags: { ...tags, owner: '' } }).map((v) => v.message), ['missing tags: owner.']);
    assert.deepEqual(names('azure-native:authorization:RoleAssignment', {}), []);
  });
});

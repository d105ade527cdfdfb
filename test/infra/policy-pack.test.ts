// Each rule of the CrossGuard policy pack (policy/policies.ts) catches the violation it exists for, so
// the offline run against the stacks (stack-checks.ts) means something.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { policies, violations } from '../../policy/policies';

const names = (type: string, props: Record<string, unknown>) => violations(type, props).map((v) => v.policy);
const securePod = {
  securityContext: { runAsNonRoot: true },
  containers: [{ name: 'app', image: `cr.azurecr.io/app@sha256:${'a'.repeat(64)}`, securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
};
const deployment = (pod: unknown) => ({ spec: { template: { spec: pod } } });

describe('CrossGuard policy pack', () => {
  test('every rule has a name, a description and an enforcement level', () => {
    for (const p of policies) assert.ok(p.name && p.description && p.enforcementLevel, p.name);
    assert.equal(new Set(policies.map((p) => p.name)).size, policies.length);
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

  test('tags: every required tag, on taggable types only', () => {
    const tags = { project: 'p', environment: 'dev', stack: 'dev', owner: 'o', managedBy: 'pulumi', component: 'c' };
    assert.deepEqual(names('azure-native:operationalinsights:Workspace', { tags }), []);
    assert.deepEqual(violations('azure-native:operationalinsights:Workspace', { tags: { ...tags, owner: '' } }).map((v) => v.message), ['missing tags: owner.']);
    assert.deepEqual(names('azure-native:authorization:RoleAssignment', {}), []);
  });
});

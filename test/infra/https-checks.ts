// HTTPS on AKS, checked against the real program under mocks for whichever tlsMode the run uses: with
// none nothing is public; otherwise the Istio add-on's external gateway terminates TLS with the Key Vault
// or Let's Encrypt certificate, port 80 only redirects (and answers ACME challenges), and every answer
// carries HSTS. The custom resources are validated against their CRDs' schemas (kubernetes-models for
// Istio and cert-manager; the Secrets Store CSI driver has no such package, see SECRET_PROVIDER_CLASS_SCHEMA).
// Azure rules that cannot run here are written down where they are relied on, with their source.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import YAML from 'yaml';
import type { StackConfig } from '../../infra/config';
import { KEY_VAULT_ADDON_CONFIG } from '../../infra/cluster';
import { CERT_MANAGER_CHART, ROLE_IDS } from '../../infra/https-ingress';
import { ACME_CHALLENGE_PREFIX, ACME_SOLVER_LABEL, ACME_SOLVER_PORT, EXTERNAL_GATEWAY, LETSENCRYPT_SERVERS, TLS_SECRET_NAME } from '../../infra/https-manifests';
import { REPO_ROOT, mockId, type RecordedResource, type StackRun } from './harness';

/* eslint-disable @typescript-eslint/no-explicit-any */

type Validatable = new (o: any) => { validate(): void };

/**
 * The SecretProviderClass v1 fields we use, from the driver's CRD
 * (https://github.com/kubernetes-sigs/secrets-store-csi-driver/blob/main/charts/secrets-store-csi-driver/crds/secrets-store.csi.x-k8s.io_secretproviderclasses.yaml):
 * parameters is a map of strings (the Azure provider parses `objects` as YAML), secretObjects[].data
 * pairs objectName and key. `provider` is what the driver dispatches on, so it is required here.
 */
const SECRET_PROVIDER_CLASS_SCHEMA = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'secrets-store.csi.x-k8s.io/v1' },
    kind: { const: 'SecretProviderClass' },
    metadata: { type: 'object', required: ['name', 'namespace'] },
    spec: {
      type: 'object',
      required: ['provider'],
      additionalProperties: false,
      properties: {
        provider: { type: 'string', minLength: 1 },
        parameters: { type: 'object', additionalProperties: { type: 'string' } },
        secretObjects: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            properties: {
              secretName: { type: 'string' },
              type: { type: 'string' },
              labels: { type: 'object', additionalProperties: { type: 'string' } },
              annotations: { type: 'object', additionalProperties: { type: 'string' } },
              data: { type: 'array', items: { type: 'object', additionalProperties: false, properties: { objectName: { type: 'string' }, key: { type: 'string' } } } },
            },
          },
        },
      },
    },
  },
} as const;
const validateSpc = new Ajv({ allErrors: true, strict: false }).compile(SECRET_PROVIDER_CLASS_SCHEMA);

const CRD_MODELS: Record<string, () => Promise<Validatable>> = {
  'networking.istio.io/v1/Gateway': async () => (await import('@kubernetes-models/istio/networking.istio.io/v1')).Gateway as Validatable,
  'networking.istio.io/v1/VirtualService': async () => (await import('@kubernetes-models/istio/networking.istio.io/v1')).VirtualService as Validatable,
  'cert-manager.io/v1/Issuer': async () => (await import('@kubernetes-models/cert-manager/cert-manager.io/v1')).Issuer as Validatable,
  'cert-manager.io/v1/Certificate': async () => (await import('@kubernetes-models/cert-manager/cert-manager.io/v1')).Certificate as Validatable,
};

/** Validates a custom resource the stack emits; false = not a custom resource (the caller validates core kinds). */
export async function validateCustomResource(o: RecordedResource): Promise<boolean> {
  const key = `${o.inputs.apiVersion}/${o.inputs.kind}`;
  if (key === 'secrets-store.csi.x-k8s.io/v1/SecretProviderClass') {
    assert.ok(validateSpc(o.inputs), `${key} ${o.name}: ${JSON.stringify(validateSpc.errors)}`);
    return true;
  }
  const load = CRD_MODELS[key];
  if (!load) {
    const builtIn = !String(o.inputs.apiVersion).includes('.') || String(o.inputs.apiVersion).endsWith('.k8s.io/v1');
    assert.ok(builtIn, `no schema for the custom resource ${key}: add its model to CRD_MODELS`);
    return false;
  }
  const Model = await load();
  assert.doesNotThrow(() => new Model(o.inputs).validate(), `${key} ${o.name}`);
  return true;
}

const kind = (run: StackRun, apiVersion: string, k: string) => run.resources.filter((r) => r.inputs.apiVersion === apiVersion && r.inputs.kind === k && r.type.startsWith('kubernetes:'));
const onlyOne = (found: RecordedResource[], what: string) => {
  assert.equal(found.length, 1, `one ${what}`);
  return found[0]!;
};

export function describeHttps(get: () => { run: StackRun; cfg: StackConfig }): void {
  describe('HTTPS only (issue 14, point 6)', () => {
    test('nothing answers on plain HTTP with keys: no public load balancer Service, only the add-on gateway', () => {
      const { run } = get();
      for (const svc of run.resources.filter((r) => r.type === 'kubernetes:core/v1:Service')) {
        assert.notEqual(svc.inputs.spec.type, 'LoadBalancer', svc.name);
        assert.notEqual(svc.inputs.spec.type, 'NodePort', svc.name);
      }
    });

    test('without a certificate: no mesh, no public IP, no gateway; the outputs say how to publish', (t) => {
      const { run, cfg } = get();
      if (cfg.tls.mode !== 'none') return t.skip(`tlsMode ${cfg.tls.mode}`);
      const aks = run.one('azure-native:containerservice:ManagedCluster').inputs;
      assert.deepEqual(aks.serviceMeshProfile, { mode: 'Disabled' });
      assert.equal(aks.addonProfiles.azureKeyvaultSecretsProvider, undefined);
      assert.equal(run.byType('azure-native:network:PublicIPAddress').length, 0);
      assert.equal(run.resources.filter((r) => r.type.includes('istio')).length, 0);
      assert.equal(run.outputs.scoringUrl, undefined);
      assert.match(String(run.outputs.scoringAccess), /Not published.*tlsMode.*keyvault or letsencrypt/);
    });

    describe('with a certificate', () => {
      const tlsOn = () => get().cfg.tls.mode !== 'none';
      const host = () => hosts(get().run, get().cfg);

      test('AKS runs the Istio add-on (configured revision) with its external ingress gateway', (t) => {
        if (!tlsOn()) return t.skip('tlsMode none');
        const { run, cfg } = get();
        const aks = run.one('azure-native:containerservice:ManagedCluster').inputs;
        assert.deepEqual(aks.serviceMeshProfile, {
          mode: 'Istio',
          istio: { revisions: [cfg.tls.istioRevision], components: { ingressGateways: [{ mode: 'External', enabled: true }] } },
        });
      });

      test('a static zone-redundant (where zoned) public IP with the DNS label, attached to the gateway Service by name', (t) => {
        if (!tlsOn()) return t.skip('tlsMode none');
        const { run, cfg } = get();
        const ip = run.one('azure-native:network:PublicIPAddress');
        assert.deepEqual(ip.inputs.sku, { name: 'Standard', tier: 'Regional' });
        assert.equal(ip.inputs.publicIPAllocationMethod, 'Static');
        assert.deepEqual(ip.inputs.zones ?? [], cfg.aks.zones.length > 1 ? cfg.aks.zones : []);
        const patch = run.one('kubernetes:core/v1:ServicePatch').inputs.metadata;
        assert.deepEqual([patch.namespace, patch.name], ['aks-istio-ingress', EXTERNAL_GATEWAY]);
        const a = patch.annotations;
        // The add-on accepts exactly these annotations on its gateway Service and reverts IP changes
        // (https://learn.microsoft.com/azure/aks/istio-deploy-ingress#ingress-gateway-service-customizations);
        // azure-dns-label-name is not on that list, hence the label on our own public IP.
        assert.equal(a['service.beta.kubernetes.io/azure-pip-name'], ip.inputs.publicIpAddressName);
        assert.equal(a['service.beta.kubernetes.io/azure-load-balancer-resource-group'], run.one('azure-native:resources:ResourceGroup').inputs.resourceGroupName);
        assert.equal(a['service.beta.kubernetes.io/azure-dns-label-name'], undefined);
        for (const port of [80, 443]) {
          assert.equal(a[`service.beta.kubernetes.io/port_${port}_health-probe_request-path`], '/healthz/ready', 'the load balancer probes Envoy readiness');
          assert.equal(a[`service.beta.kubernetes.io/port_${port}_health-probe_port`], '15021');
        }
        // A public IP outside the node resource group needs Network Contributor for the cluster identity on
        // its group (https://learn.microsoft.com/azure/aks/static-ip).
        const grant = run.byType('azure-native:authorization:RoleAssignment').find((r) => r.name === 'https-cluster-network')!.inputs;
        assert.equal(grant.principalId, 'cluster-principal-id');
        assert.ok(String(grant.roleDefinitionId).endsWith(`/roleDefinitions/${ROLE_IDS.networkContributor}`));
        assert.equal(grant.scope, mockId(run.one('azure-native:resources:ResourceGroup')));
      });

      test('the Gateway: 443 terminates TLS 1.2+ with the certificate secret; 80 redirects (or, with ACME, is left to the routes)', (t) => {
        if (!tlsOn()) return t.skip('tlsMode none');
        const { run, cfg } = get();
        const gw = onlyOne(kind(run, 'networking.istio.io/v1', 'Gateway'), 'Gateway').inputs;
        assert.deepEqual(gw.spec.selector, { istio: EXTERNAL_GATEWAY });
        const [https, http] = gw.spec.servers;
        assert.deepEqual(https, { port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: [host().client], tls: { mode: 'SIMPLE', credentialName: TLS_SECRET_NAME, minProtocolVersion: 'TLSV1_2' } });
        assert.deepEqual(http.port, { number: 80, name: 'http', protocol: 'HTTP' });
        assert.deepEqual(http.tls, cfg.tls.mode === 'keyvault' ? { httpsRedirect: true } : undefined);
        assert.equal(gw.metadata.namespace, cfg.scoring.namespace);
      });

      test('the routes: the API with HSTS on 443; with ACME, the challenge path to the solver and a 308 to https for the rest of port 80', (t) => {
        if (!tlsOn()) return t.skip('tlsMode none');
        const { run, cfg } = get();
        const vs = onlyOne(kind(run, 'networking.istio.io/v1', 'VirtualService'), 'VirtualService').inputs;
        const gw = onlyOne(kind(run, 'networking.istio.io/v1', 'Gateway'), 'Gateway').inputs;
        assert.deepEqual(vs.spec.hosts, [host().client]);
        assert.deepEqual(vs.spec.gateways, [`${gw.metadata.namespace}/${gw.metadata.name}`]);
        const api = vs.spec.http.at(-1);
        assert.deepEqual(api.match, [{ port: 443 }]);
        assert.deepEqual(api.route, [{ destination: { host: `scoring-service.${cfg.scoring.namespace}.svc.cluster.local`, port: { number: 80 } } }]);
        assert.deepEqual(api.headers, { response: { set: { 'Strict-Transport-Security': `max-age=${cfg.tls.hstsMaxAgeSeconds}` } } });
        if (cfg.tls.mode === 'keyvault') {
          assert.equal(vs.spec.http.length, 1);
          return;
        }
        const [challenge, redirect] = vs.spec.http;
        const solver = run.resources.find((r) => r.type === 'kubernetes:core/v1:Service' && r.inputs.metadata.namespace === 'aks-istio-ingress')!.inputs;
        assert.deepEqual(challenge.match, [{ port: 80, uri: { prefix: ACME_CHALLENGE_PREFIX } }]);
        assert.deepEqual(challenge.route, [{ destination: { host: `${solver.metadata.name}.aks-istio-ingress.svc.cluster.local`, port: { number: ACME_SOLVER_PORT } } }]);
        assert.deepEqual(solver.spec.selector, ACME_SOLVER_LABEL, 'cert-manager labels every HTTP-01 solver pod so');
        assert.deepEqual(redirect, { name: 'https-redirect', match: [{ port: 80 }], redirect: { scheme: 'https', redirectCode: 308 } });
      });

      test('outputs: scoringUrl is https://<host>; the Azure host name is what a custom domain CNAMEs to', (t) => {
        if (!tlsOn()) return t.skip('tlsMode none');
        const { run } = get();
        assert.equal(run.outputs.scoringUrl, `https://${host().client}`);
        assert.equal(run.outputs.scoringAzureHostName, host().azure);
        assert.match(String(run.outputs.scoringAccess), /^HTTPS only/);
      });
    });

    test('Key Vault: the add-on syncs the one certificate, with read rights on that certificate only', (t) => {
      const { run, cfg } = get();
      if (cfg.tls.mode !== 'keyvault') return t.skip(`tlsMode ${cfg.tls.mode}`);
      const aks = run.one('azure-native:containerservice:ManagedCluster').inputs;
      assert.deepEqual(aks.addonProfiles.azureKeyvaultSecretsProvider, { enabled: true, config: { ...KEY_VAULT_ADDON_CONFIG } });
      // Key Vault RBAC takes a single secret or certificate as scope; reading a certificate's private key
      // goes through the secrets endpoint (Key Vault Secrets User), its public part through the
      // certificates endpoint (Key Vault Certificate User)
      // (https://learn.microsoft.com/azure/key-vault/general/rbac-guide). The vault must use the RBAC model.
      const grants = run.byType('azure-native:authorization:RoleAssignment').filter((r) => r.name.startsWith('https-keyvault-')).map((r) => r.inputs);
      assert.deepEqual(
        grants.map((g) => [g.principalId, g.roleDefinitionId.split('/').pop(), g.scope]).sort(),
        [
          ['kv-addon-object-id', ROLE_IDS.keyVaultSecretsUser, `${cfg.tls.keyVaultId}/secrets/${cfg.tls.certificateName}`],
          ['kv-addon-object-id', ROLE_IDS.keyVaultCertificateUser, `${cfg.tls.keyVaultId}/certificates/${cfg.tls.certificateName}`],
        ].sort(),
      );
      const spc = onlyOne(kind(run, 'secrets-store.csi.x-k8s.io/v1', 'SecretProviderClass'), 'SecretProviderClass').inputs;
      assert.equal(spc.metadata.namespace, 'aks-istio-ingress', 'the gateway reads credentialName from its own namespace');
      assert.equal(spc.spec.parameters.keyvaultName, cfg.tls.keyVaultName);
      assert.equal(spc.spec.parameters.userAssignedIdentityID, 'kv-addon-client-id');
      assert.equal(spc.spec.parameters.tenantId, 'tenant-id');
      // The Azure provider reads `objects` as YAML: `array` of YAML documents, one per Key Vault object.
      const objects = (YAML.parse(spc.spec.parameters.objects).array as string[]).map((o) => YAML.parse(o));
      assert.deepEqual(objects, [
        { objectName: cfg.tls.certificateName, objectType: 'secret', objectAlias: 'tls-key' },
        { objectName: cfg.tls.certificateName, objectType: 'cert', objectAlias: 'tls-crt' },
      ]);
      const [secretObject] = spc.spec.secretObjects;
      assert.deepEqual([secretObject.secretName, secretObject.type], [TLS_SECRET_NAME, 'kubernetes.io/tls']);
      assert.deepEqual(secretObject.data, [{ objectName: 'tls-key', key: 'tls.key' }, { objectName: 'tls-crt', key: 'tls.crt' }], 'the synced keys come from the aliases above');
      const sync = run.resources.find((r) => r.inputs.kind === 'Deployment' && r.inputs.metadata.namespace === 'aks-istio-ingress')!.inputs;
      const pod = sync.spec.template.spec;
      assert.equal(pod.volumes[0].csi.volumeAttributes.secretProviderClass, spc.metadata.name, 'a mounted volume is what makes the driver sync the Secret');
      assert.equal(pod.containers[0].image, run.outputs.scoringImage, 'an image already pulled, by digest');
    });

    test("Let's Encrypt: cert-manager (pinned chart), a namespaced ACME issuer, one certificate for the host", (t) => {
      const { run, cfg } = get();
      if (!cfg.tls.mode.startsWith('letsencrypt')) return t.skip(`tlsMode ${cfg.tls.mode}`);
      const release = run.one('kubernetes:helm.sh/v3:Release').inputs;
      assert.deepEqual([release.chart, release.version, release.repositoryOpts.repo], [CERT_MANAGER_CHART.chart, CERT_MANAGER_CHART.version, CERT_MANAGER_CHART.repo]);
      assert.equal(release.values.crds.enabled, true);
      const issuer = onlyOne(kind(run, 'cert-manager.io/v1', 'Issuer'), 'Issuer').inputs;
      assert.equal(issuer.spec.acme.server, LETSENCRYPT_SERVERS[cfg.tls.mode as 'letsencrypt']);
      assert.equal(issuer.spec.acme.email, cfg.tls.acmeEmail);
      assert.deepEqual(issuer.spec.acme.solvers[0].http01.ingress.podTemplate.metadata.labels, ACME_SOLVER_LABEL);
      const cert = onlyOne(kind(run, 'cert-manager.io/v1', 'Certificate'), 'Certificate').inputs;
      assert.equal(cert.metadata.namespace, 'aks-istio-ingress');
      assert.equal(cert.spec.secretName, TLS_SECRET_NAME);
      assert.deepEqual(cert.spec.dnsNames, [hosts(run, cfg).client]);
      assert.deepEqual(cert.spec.issuerRef, { name: issuer.metadata.name, kind: 'Issuer', group: 'cert-manager.io' });
    });

    test('every role the stack assigns is documented with its id, so the deploy identity can be allowed to grant it', () => {
      const { run } = get();
      const docPath = join(REPO_ROOT, 'docs', 'deploying.md');
      const doc = readFileSync(docPath, 'utf8');
      for (const r of run.byType('azure-native:authorization:RoleAssignment')) {
        const id = String(r.inputs.roleDefinitionId).split('/').pop()!;
        assert.ok(doc.includes(id), `${r.name} grants role ${id}, which docs/deploying.md does not list`);
      }
    });

    test('the schema check catches a broken custom resource (so the validation of every object means something)', async () => {
      const { Gateway } = await import('@kubernetes-models/istio/networking.istio.io/v1');
      const broken = { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'g' }, spec: { servers: [{ port: { number: '443' }, tls: { mode: 'PLAIN' } }] } };
      assert.throws(() => new Gateway(broken as never).validate());
      const { Certificate } = await import('@kubernetes-models/cert-manager/cert-manager.io/v1');
      assert.throws(() => new Certificate({ apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'c' }, spec: { dnsNames: ['x'] } } as never).validate(), /secretName|issuerRef/);
      assert.equal(validateSpc({ apiVersion: 'secrets-store.csi.x-k8s.io/v1', kind: 'SecretProviderClass', metadata: { name: 'x', namespace: 'y' }, spec: { parameters: { objects: 1 } } }), false);
    });
  });
}

/** The gateway's Azure host name and the host clients use (the custom domain when set). */
function hosts(run: StackRun, cfg: StackConfig): { azure: string; client: string } {
  const label = run.one('azure-native:network:PublicIPAddress').inputs.dnsSettings.domainNameLabel;
  const azure = `${label}.${cfg.location}.cloudapp.azure.com`;
  return { azure, client: cfg.tls.customDomain || azure };
}

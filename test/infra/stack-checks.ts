// The checks every stack must pass, run against the REAL program (index.ts) under mocks with the
// stack's REAL config file: the resources exist with the right relations, the policies hold (no public
// access, admin off, RBAC, identities, tags, probes, securityContext, limits, digests, secrets), every
// Kubernetes object is valid against the Kubernetes schema, the edge manifest against the IoT Edge
// schemas, and the stack's values are the ones its Pulumi.<stack>.yaml asks for.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { modelEnv, parseConfig, type StackConfig } from '../../infra/config';
import { checkEdgeRuntimeRules, edgeDeploymentId, type EdgeDeploymentManifest } from '../../infra/edge-manifest';
import { readModelFolder } from '../../infra/model-folder';
import { ACR_PULL_ROLE_ID } from '../../infra/cluster';
import { planWorkloadPools } from '../../infra/node-pools';
import { tokenPasswordRotation } from '../../infra/registry';
import { stackViolations, violations } from '../../policy/policies';
import { intraOpThreads, SCORING_UID, terminationGracePeriodSeconds } from '../../infra/scoring-workload';
import { validateAgainst, validateSystemModules } from './edge-schemas';
import { describeHttps, validateCustomResource } from './https-checks';
import { PROJECT, REPO_ROOT, mockId, runStack, stackConfig, type StackRun } from './harness';

/* eslint-disable @typescript-eslint/no-explicit-any */

const T = {
  rg: 'azure-native:resources:ResourceGroup',
  storage: 'azure-native:storage:StorageAccount',
  container: 'azure-native:storage:BlobContainer',
  blob: 'azure-native:storage:Blob',
  blobService: 'azure-native:storage:BlobServiceProperties',
  workspace: 'azure-native:operationalinsights:Workspace',
  appInsights: 'azure-native:applicationinsights:Component',
  acr: 'azure-native:containerregistry:Registry',
  scopeMap: 'azure-native:containerregistry:ScopeMap',
  token: 'azure-native:containerregistry:Token',
  tokenPassword: 'pulumi-nodejs:dynamic/containerregistry:TokenPassword',
  image: 'docker:index/image:Image',
  aks: 'azure-native:containerservice:ManagedCluster',
  agentPool: 'azure-native:containerservice:AgentPool',
  maintenance: 'azure-native:containerservice:MaintenanceConfiguration',
  role: 'azure-native:authorization:RoleAssignment',
  dcr: 'azure-native:monitor:DataCollectionRule',
  dcra: 'azure-native:monitor:DataCollectionRuleAssociation',
  publicIp: 'azure-native:network:PublicIPAddress',
  k8sProvider: 'pulumi:providers:kubernetes',
  hub: 'azure-native:iothub:IotHubResource',
  device: 'pulumi-nodejs:dynamic/iothub:Device',
  deployment: 'pulumi-nodejs:dynamic/iothub:EdgeDeployment',
} as const;

/** Azure resource types that take tags; any other azure-native type must be listed as untaggable. */
const TAGGED = new Set<string>([T.rg, T.storage, T.workspace, T.appInsights, T.acr, T.aks, T.agentPool, T.hub, T.dcr, T.publicIp]);
const UNTAGGABLE = new Set<string>([T.container, T.blob, T.blobService, T.maintenance, T.scopeMap, T.token, T.role, T.dcra]);

/** Evaluates the subset of the IoT Hub query language our target conditions use: `tags.k=v AND ...`. */
export function matchesTargetCondition(condition: string, tags: Record<string, unknown>): boolean {
  return condition.split(/\s+AND\s+/).every((clause) => {
    const m = /^tags\.([A-Za-z0-9_]+)\s*=\s*(?:'([^']*)'|(true|false|\d+))$/.exec(clause.trim());
    if (!m) throw new Error(`unsupported clause ${clause}`);
    const expected = m[2] ?? JSON.parse(m[3]!);
    return tags[m[1]!] === expected;
  });
}

/** The sensitive values the stack handles (generated keys, passwords, tokens, credentials). */
function sensitiveValues(run: StackRun): string[] {
  const manifest = JSON.parse(String(run.outputs.edgeDeploymentManifest));
  const pullCreds = Object.values(manifest.modulesContent.$edgeAgent['properties.desired'].runtime.settings.registryCredentials) as Array<{ password: string }>;
  const image = run.byType('docker:index/image:Image')[0]!;
  const telemetry = run.resources.find((r) => r.inputs.kind === 'Secret' && r.inputs.stringData?.APPLICATIONINSIGHTS_CONNECTION_STRING)!;
  const values = [
    String(run.outputs.scoringPrimaryKey),
    String(run.outputs.scoringSecondaryKey),
    ...pullCreds.map((c) => c.password),
    String(image.inputs.registry.password),
    String(telemetry.inputs.stringData.APPLICATIONINSIGHTS_CONNECTION_STRING),
    ...Object.values(run.outputs.edgeDeviceConnectionStrings as Record<string, string>),
  ];
  assert.ok(values.every((v) => v.length >= 8 && v !== 'undefined'), 'every sensitive value was found');
  return values;
}

/** Strings anywhere in `v`, except under the given secret paths. */
function clearStrings(v: unknown, secretPaths: string[], path = ''): string[] {
  if (secretPaths.includes(path || '.')) return [];
  if (typeof v === 'string') return [v];
  if (v && typeof v === 'object') {
    return Object.entries(v).flatMap(([k, x]) => (k === '__provider' ? [] : clearStrings(x, secretPaths, path ? `${path}.${k}` : k)));
  }
  return [];
}

/** `overrides`: config values on top of the stack file (namespaced keys), e.g. another tlsMode. */
export function describeStack(stack: string, overrides: Record<string, unknown> = {}): void {
  const variant = 'model-deploy:tlsMode' in overrides ? ` with tlsMode ${String(overrides['model-deploy:tlsMode'])}` : '';
  describe(`stack ${stack}${variant}: the real index.ts under mocks`, () => {
    let run: StackRun;
    let cfg: StackConfig;
    const model = readModelFolder(join(REPO_ROOT, 'model'));
    const all = (type: string) => run.byType(type);
    const one = (type: string, name?: string) => run.one(type, name);
    const k8sObjects = () => run.resources.filter((r) => r.type.startsWith('kubernetes:') && r.inputs.kind);
    /** The scoring workload's own objects (the HTTPS ingress adds its own, checked in https-checks.ts). */
    const workloadObjects = () => {
      const component = run.resources.find((r) => r.type === 'model-deploy:infra:ScoringWorkload')!;
      return k8sObjects().filter((r) => r.parentUrn === component.urn);
    };
    const k8s = (kind: string) => {
      const found = workloadObjects().filter((r) => r.inputs.kind === kind);
      assert.equal(found.length, 1, `one ${kind}`);
      return found[0]!.inputs;
    };
    const container = () => k8s('Deployment').spec.template.spec.containers[0];

    before(async () => {
      run = await runStack(stack, overrides);
      cfg = parseConfig((key) => stackConfig(stack, overrides)[`${PROJECT}:${key}`], PROJECT, stack);
    });

    describe('resources and their relations', () => {
      test('one resource group holds every Azure resource', () => {
        const rg = one(T.rg);
        assert.equal(rg.inputs.location, cfg.location);
        for (const r of run.resources.filter((x) => x.type.startsWith('azure-native:') && ![T.rg, T.role, T.dcra].includes(x.type as never))) {
          assert.equal(r.inputs.resourceGroupName, rg.inputs.resourceGroupName, `${r.type} ${r.name}`);
        }
      });

      test("storage: HTTPS only, TLS 1.2, public blob access off, private container with every file of the model folder under <name>/<revision>", async () => {
        const account = one(T.storage);
        assert.equal(account.inputs.enableHttpsTrafficOnly, true);
        assert.equal(account.inputs.minimumTlsVersion, 'TLS1_2');
        assert.equal(account.inputs.allowBlobPublicAccess, false);
        assert.deepEqual(account.inputs.sku, { name: cfg.storageSku });
        const c = one(T.container);
        assert.equal(c.inputs.publicAccess, 'None');
        assert.equal(c.inputs.accountName, account.inputs.accountName);
        const blobs = all(T.blob);
        assert.deepEqual(blobs.map((b) => b.inputs.blobName).sort(), [`${model.name}/${model.revision}/card.json`, `${model.name}/${model.revision}/model.onnx`]);
        assert.match(model.revision, new RegExp(`^${model.version.replace(/\./g, '\\.')}-[0-9a-f]{12}$`));
        for (const b of blobs) {
          assert.equal(b.inputs.containerName, c.inputs.containerName);
          const file = model.files.find((f) => f.path === String(b.inputs.blobName).split('/').pop())!;
          assert.deepEqual(b.inputs.metadata, { modelName: model.name, modelVersion: model.version, modelContentSha256: model.contentSha256, sha256: file.sha256 });
          const path = String(await b.inputs.source.path);
          assert.equal(path, join(cfg.modelDir, String(b.inputs.blobName).split('/').pop()!), 'relative to the project directory');
          assert.ok(existsSync(join(REPO_ROOT, path)), path);
        }
      });

      test('the model store keeps versions of overwritten blobs and can restore deleted blobs and containers', () => {
        const svc = one(T.blobService).inputs;
        assert.equal(svc.accountName, one(T.storage).inputs.accountName);
        assert.equal(svc.blobServicesName, 'default', 'ARM allows only the "default" blob service');
        assert.equal(svc.isVersioningEnabled, true);
        assert.deepEqual(svc.deleteRetentionPolicy, { enabled: true, days: 30 });
        assert.deepEqual(svc.containerDeleteRetentionPolicy, { enabled: true, days: 30 });
      });

      test('Log Analytics with the configured retention; Application Insights is workspace-based', () => {
        const ws = one(T.workspace);
        assert.equal(ws.inputs.retentionInDays, cfg.logRetentionDays);
        const ai = one(T.appInsights);
        assert.equal(ai.inputs.ingestionMode, 'LogAnalytics');
        assert.equal(ai.inputs.workspaceResourceId, mockId(ws));
      });

      test('registry: admin user and anonymous pull off', () => {
        const acr = one(T.acr);
        assert.equal(acr.inputs.adminUserEnabled, false);
        assert.equal(acr.inputs.anonymousPullEnabled, false);
        assert.deepEqual(acr.inputs.sku, { name: cfg.acrSku });
      });

      test('registry tokens: push can write the two app repositories; the edge token can only read edge-module', () => {
        const maps: Record<string, string[]> = Object.fromEntries(all(T.scopeMap).map((m) => [m.inputs.scopeMapName, m.inputs.actions as string[]]));
        assert.deepEqual(Object.keys(maps).sort(), ['edge-pull-scope', 'push-scope']);
        assert.deepEqual(maps['edge-pull-scope'], ['repositories/edge-module/content/read']);
        for (const repo of ['scoring-service', 'edge-module']) {
          assert.ok(maps['push-scope']!.includes(`repositories/${repo}/content/write`), repo);
        }
        assert.ok(!maps['push-scope']!.some((a) => a.includes('delete')), 'no delete');
        for (const token of all(T.token)) {
          const map = all(T.scopeMap).find((m) => m.inputs.scopeMapName === String(token.inputs.tokenName).replace('-token', '-scope'))!;
          assert.equal(token.inputs.scopeMapId, mockId(map));
          const pw = all(T.tokenPassword).find((p) => p.inputs.tokenId === mockId(token));
          assert.ok(pw, `a generated password for ${token.inputs.tokenName}`);
          assert.equal(pw.inputs.registryId, mockId(one(T.acr)));
          assert.deepEqual(pw.secretPaths, [], 'no credential is handed to the provider: it signs in with Entra ID');
          assert.equal(pw.inputs.tokenCreated, '2026-01-01T00:00:00Z', 'a token created again gets a new password');
          const rotation = tokenPasswordRotation(Date.now(), cfg.acrPasswordRotationDays);
          assert.equal(pw.inputs.passwordName, rotation.passwordName);
          assert.equal(pw.inputs.expiry, rotation.expiry);
          assert.ok(Date.parse(pw.inputs.expiry) - Date.now() > cfg.acrPasswordRotationDays * 86_400_000, 'valid for more than a period');
        }
      });

      test('images: built from the one Dockerfile (context = repository root) with APP and MODEL_DIR, tagged with the model revision, pushed with the push token', () => {
        const images: Record<string, any> = Object.fromEntries(all(T.image).map((i) => [i.name, i.inputs]));
        const server = `${one(T.acr).inputs.registryName}.azurecr.io`;
        // Relative to the project directory (where Pulumi runs), so the state is the same on every machine.
        assert.deepEqual(images['images-scoring'].build.args, { MODEL_DIR: cfg.modelDir, APP: 'scoring-service' });
        assert.deepEqual(images['images-edge'].build.args, { MODEL_DIR: cfg.modelDir, APP: 'edge-module' });
        for (const i of Object.values(images)) {
          assert.equal(i.build.dockerfile, 'Dockerfile');
          assert.ok(String(i.imageName).endsWith(`:${model.revision}`), String(i.imageName));
        }
        assert.equal(images['images-scoring'].build.platform, cfg.imagePlatform);
        assert.equal(images['images-edge'].build.platform, cfg.edge.imagePlatform);
        for (const i of Object.values(images)) {
          assert.equal(i.build.context, '.');
          assert.ok(existsSync(join(REPO_ROOT, i.build.context, i.build.dockerfile)), i.build.dockerfile);
          assert.equal(i.build.builderVersion, 'BuilderBuildKit');
          assert.equal(i.buildOnPreview, false);
          assert.ok(String(i.imageName).startsWith(`${server}/`));
          assert.equal(i.registry.server, server);
          assert.equal(i.registry.username, 'push-token');
        }
        for (const image of all(T.image)) {
          assert.ok(image.secretPaths.some((p) => p === 'registry' || p === 'registry.password'), `${image.name}: the push password is secret`);
        }
      });

      test('AKS: managed identity, Kubernetes RBAC, Container Insights to the workspace, autoscaling pool as configured', () => {
        const aks = one(T.aks).inputs;
        assert.deepEqual(aks.identity, { type: 'SystemAssigned' });
        assert.equal(aks.enableRBAC, true);
        assert.equal(aks.addonProfiles.omsagent.enabled, true);
        assert.equal(aks.addonProfiles.omsagent.config.logAnalyticsWorkspaceResourceID, mockId(one(T.workspace)));
        assert.equal(aks.addonProfiles.omsagent.config.useAADAuth, 'true', 'the agent authenticates with its managed identity');
        const dcr = one(T.dcr).inputs;
        assert.equal(dcr.destinations.logAnalytics[0].workspaceResourceId, mockId(one(T.workspace)));
        assert.deepEqual(dcr.dataFlows[0].destinations, [dcr.destinations.logAnalytics[0].name]);
        assert.equal(dcr.dataSources.extensions[0].extensionName, 'ContainerInsights');
        const dcra = one(T.dcra).inputs;
        assert.equal(dcra.resourceUri, mockId(one(T.aks)));
        assert.equal(dcra.dataCollectionRuleId, mockId(one(T.dcr)));
        assert.equal(aks.networkProfile.networkPolicy, 'cilium', 'NetworkPolicy is enforced');
        assert.equal(aks.sku.tier, cfg.aks.skuTier);
        assert.equal(aks.agentPoolProfiles.length, 1, 'only the system pool is inline');
        const system = aks.agentPoolProfiles[0];
        assert.equal(system.mode, 'System');
        assert.deepEqual(system.nodeTaints, ['CriticalAddonsOnly=true:NoSchedule'], 'application pods stay off the system pool');
        assert.equal(aks.autoScalerProfile.balanceSimilarNodeGroups, 'true');
        const pools = all(T.agentPool);
        assert.deepEqual(
          pools.map((p) => ({ name: p.inputs.agentPoolName, zones: p.inputs.availabilityZones ?? [], min: p.inputs.minCount, max: p.inputs.maxCount })),
          planWorkloadPools(cfg.aks).map((p) => ({ name: p.name, zones: p.zones, min: p.minCount, max: p.maxCount })),
        );
        for (const p of pools) {
          assert.equal(p.inputs.mode, 'User');
          assert.equal(p.inputs.enableAutoScaling, true);
          assert.equal(p.inputs.vmSize, cfg.aks.vmSize);
          assert.equal(p.inputs.resourceName, one(T.aks).inputs.resourceName);
          assert.equal(p.name, `cluster-pool-${p.inputs.agentPoolName}`, 'the Pulumi name follows the pool name, so a new pool is a new resource');
          assert.deepEqual(p.ignoreChanges, ['count'], 'the autoscaler owns the count');
        }
        if (cfg.aks.zones.length > 1) assert.equal(pools.length, cfg.aks.zones.length, 'one pool per zone');
        assert.equal(aks.servicePrincipalProfile, undefined, 'no service principal secret');
      });

      test('AKS access: Entra ID with Azure RBAC, no local accounts, a kubelogin kubeconfig without credentials, the deployer as RBAC cluster admin', () => {
        const aks = one(T.aks).inputs;
        assert.deepEqual(aks.aadProfile, { managed: true, enableAzureRBAC: true, adminGroupObjectIDs: cfg.aks.adminGroupObjectIds });
        assert.equal(aks.disableLocalAccounts, true);
        const creds = run.calls.find((c) => c.token === 'azure-native:containerservice:listManagedClusterUserCredentials')!;
        assert.equal(creds.inputs.format, 'exec');
        const kubeconfig = String(run.outputs.kubeconfig);
        assert.match(kubeconfig, /command: kubelogin/);
        assert.match(kubeconfig, /- --login\n\s+- azurecli/);
        assert.doesNotMatch(kubeconfig, /devicecode|token:|client-key-data|password/);
        const admin = all(T.role).find((r) => r.name === 'cluster-deployer-rbac-admin')!.inputs;
        assert.equal(admin.principalId, 'deployer-object-id');
        assert.ok(String(admin.roleDefinitionId).endsWith('/roleDefinitions/b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b'));
        assert.equal(admin.scope, mockId(one(T.aks)), 'on this cluster only');
      });

      test('AKS: API server reachable only from the configured ranges; automatic upgrades inside the weekly window', () => {
        const aks = one(T.aks).inputs;
        if (cfg.aks.authorizedIpRanges.length > 0) assert.deepEqual(aks.apiServerAccessProfile.authorizedIPRanges, cfg.aks.authorizedIpRanges);
        else assert.equal(aks.apiServerAccessProfile, undefined);
        const windows = all(T.maintenance).map((m) => m.inputs);
        assert.deepEqual(windows.map((w) => w.configName).sort(), ['aksManagedAutoUpgradeSchedule', 'aksManagedNodeOSUpgradeSchedule']);
        for (const w of windows) {
          assert.equal(w.resourceName, aks.resourceName);
          assert.deepEqual(w.maintenanceWindow.schedule, { weekly: { dayOfWeek: cfg.aks.maintenanceDay, intervalWeeks: 1 } });
          assert.equal(w.maintenanceWindow.startTime, `${String(cfg.aks.maintenanceStartHour).padStart(2, '0')}:00`);
          assert.ok(w.maintenanceWindow.durationHours >= 4, 'AKS requires at least 4 hours');
        }
      });

      test('the kubelet identity may pull from the registry (AcrPull), so no image pull secrets exist', () => {
        const role = all(T.role).find((r) => r.name === 'cluster-kubelet-acr-pull')!.inputs;
        assert.equal(role.principalId, 'kubelet-object-id');
        assert.equal(role.principalType, 'ServicePrincipal');
        assert.ok(String(role.roleDefinitionId).endsWith(`/roleDefinitions/${ACR_PULL_ROLE_ID}`));
        assert.equal(role.scope, mockId(one(T.acr)));
        assert.equal(k8s('Deployment').spec.template.spec.imagePullSecrets, undefined);
        assert.ok(!k8sObjects().some((o) => o.inputs.type === 'kubernetes.io/dockerconfigjson'));
      });

      test('every Kubernetes object goes through the provider built from the cluster credentials', () => {
        const provider = one(T.k8sProvider);
        assert.match(provider.inputs.kubeconfig, /kind: Config/);
        assert.equal(provider.inputs.kubeconfig, run.outputs.kubeconfig);
        assert.deepEqual(workloadObjects().map((o) => o.inputs.kind).sort(), [
          'Deployment', 'HorizontalPodAutoscaler', 'Namespace', 'NetworkPolicy', 'PodDisruptionBudget', 'Secret', 'Secret', 'Service', 'ServiceAccount',
        ]);
        for (const o of run.resources.filter((r) => r.type.startsWith('kubernetes:'))) assert.equal(o.provider, `${provider.urn}::cluster-k8s-id`, o.name);
      });

      test('the workload: namespace, secrets, deployment, service, autoscaler, disruption budget, network policy', () => {
        const ns = k8s('Namespace');
        assert.equal(ns.metadata.name, cfg.scoring.namespace);
        assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
        for (const o of workloadObjects().filter((x) => x.inputs.kind !== 'Namespace')) assert.equal(o.inputs.metadata.namespace, cfg.scoring.namespace, o.name);

        const selector = k8s('Deployment').spec.selector.matchLabels;
        assert.deepEqual(k8s('Service').spec.selector, selector);
        assert.deepEqual(k8s('PodDisruptionBudget').spec.selector.matchLabels, selector);
        assert.deepEqual(k8s('NetworkPolicy').spec.podSelector.matchLabels, selector);
        for (const [k, v] of Object.entries(selector)) assert.equal(k8s('Deployment').spec.template.metadata.labels[k], v);

        const svc = k8s('Service');
        assert.equal(svc.spec.type, 'ClusterIP', 'no public load balancer: the HTTPS gateway is the only way in');
        assert.deepEqual(svc.spec.ports, [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' }]);
        assert.equal(svc.metadata.annotations, undefined, 'no DNS label or load balancer annotation on the app Service');

        const hpa = k8s('HorizontalPodAutoscaler');
        assert.equal(hpa.spec.scaleTargetRef.name, k8s('Deployment').metadata.name);
        assert.equal(hpa.spec.minReplicas, cfg.scoring.minReplicas);
        assert.equal(hpa.spec.maxReplicas, cfg.scoring.maxReplicas);
        assert.equal(hpa.spec.metrics[0].resource.target.averageUtilization, cfg.scoring.targetCpuPercent);
        assert.equal(k8s('Deployment').spec.replicas, undefined, 'the autoscaler owns replicas');
        assert.equal(k8s('PodDisruptionBudget').spec.maxUnavailable, 1);

        const np = k8s('NetworkPolicy');
        assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
        assert.deepEqual(np.spec.ingress, [
          { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'aks-istio-ingress' } } }], ports: [{ protocol: 'TCP', port: 5001 }] },
        ], 'only the ingress gateway reaches the pods');
      });

      test('the Kubernetes provider never drops resources from the state when the cluster does not answer', () => {
        // Provider configuration reaches the engine as strings.
        assert.equal(String(one(T.k8sProvider).inputs.deleteUnreachable), 'false');
      });

      test('the IoT Hub partition count is create-only, so a changed value is ignored instead of failing every update', () => {
        assert.ok(one(T.hub).ignoreChanges.includes('properties.eventHubEndpoints.events.partitionCount'));
      });

      test('every physical Azure name carries the stack suffix, so two stacks with one prefix and environment can share a subscription', () => {
        const nameKeys = ['resourceGroupName', 'accountName', 'registryName', 'resourceName', 'workspaceName', 'dataCollectionRuleName'];
        const named = [one(T.rg), one(T.storage), one(T.acr), one(T.aks), one(T.workspace), one(T.appInsights), one(T.hub), one(T.dcr)];
        for (const r of named) {
          const key = nameKeys.find((k) => k in r.inputs && (r.type === T.rg || k !== 'resourceGroupName'))!;
          assert.match(String(r.inputs[key]), /k3x9q2/, `${r.type} ${key}`);
        }
      });

      test('IoT Hub as configured', () => {
        const hub = one(T.hub).inputs;
        assert.deepEqual(hub.sku, { name: cfg.iotHub.sku, capacity: cfg.iotHub.capacity });
        assert.equal(hub.properties.minTlsVersion, '1.2');
        assert.deepEqual(hub.properties.eventHubEndpoints.events, { partitionCount: cfg.iotHub.partitionCount, retentionTimeInDays: cfg.iotHub.retentionDays });
        assert.equal(run.outputs.iotHubName, hub.resourceName);
      });

      test('one IoT Edge identity per configured device, tagged so the one at-scale deployment targets it', () => {
        const hostName = `${one(T.hub).inputs.resourceName}.azure-devices.net`;
        const devices = all(T.device);
        assert.deepEqual(devices.map((d) => d.inputs.deviceId), cfg.edge.deviceIds);
        assert.deepEqual(run.outputs.edgeDeviceIds, cfg.edge.deviceIds);
        const deployments = all(T.deployment);
        assert.equal(deployments.length, 1, 'one at-scale deployment, not one manifest per device');
        const d = deployments[0]!.inputs;
        assert.equal(d.targetCondition, cfg.edge.targetCondition);
        assert.equal(d.priority, cfg.edge.deploymentPriority);
        for (const dev of devices) {
          assert.equal(dev.inputs.edgeEnabled, true);
          assert.equal(dev.inputs.hostName, hostName);
          assert.ok(matchesTargetCondition(d.targetCondition, dev.inputs.tags), `${dev.inputs.deviceId} matches ${d.targetCondition}`);
        }
        assert.ok(!matchesTargetCondition(d.targetCondition, { ...cfg.edge.deviceTags, environment: 'other' }));
        assert.equal(d.hostName, hostName);
      });

      test('the IoT Hub providers sign in with Entra ID: no hub key is listed or stored; the deployer gets the hub data role, on the hub only', () => {
        assert.ok(!run.calls.some((c) => c.token === 'azure-native:iothub:listIotHubResourceKeysForKeyName'));
        for (const r of [...all(T.device), ...all(T.deployment)]) {
          assert.ok(!Object.keys(r.inputs).some((k) => /key|token|policy/i.test(k) && k !== 'primaryKey'), `${r.name}: ${Object.keys(r.inputs).join(', ')}`);
          assert.equal(r.inputs.primaryKey, undefined, 'the device key is an output only');
        }
        const grant = all(T.role).find((r) => r.name === 'edge-deployer-hub-data')!.inputs;
        assert.equal(grant.principalId, 'deployer-object-id');
        assert.ok(String(grant.roleDefinitionId).endsWith('/roleDefinitions/4fc6c259-987e-4a07-842e-c321cc9d413f'), 'IoT Hub Data Contributor');
        assert.equal(grant.scope, mockId(one(T.hub)), 'scoped to this hub, not the group or subscription');
      });
    });

    describe('the edge deployment manifest', () => {
      const manifest = () => JSON.parse(String(run.outputs.edgeDeploymentManifest)) as EdgeDeploymentManifest;

      test('is the content of the deployment, and its id hashes that content', () => {
        const d = one(T.deployment).inputs;
        assert.deepEqual(d.content, manifest());
        assert.equal(d.configurationId, edgeDeploymentId(cfg.namePrefix, cfg.environment, manifest()));
        assert.equal(run.outputs.edgeDeploymentId, d.configurationId);
      });

      test('gives the module an API key for its HTTP contract on the devices (it refuses to serve HTTP without one)', () => {
        const env = (manifest().modulesContent as any).$edgeAgent['properties.desired'].modules.classifier.env;
        assert.equal(typeof run.outputs.edgeDeviceApiKey, 'string');
        assert.equal(env.SCORING_API_KEYS.value, run.outputs.edgeDeviceApiKey);
        assert.equal(env.SCORING_AUTH, undefined);
        // The same model environment as the scoring pods.
        for (const [name, value] of Object.entries(modelEnv({ ...cfg.model, name: model.name }))) assert.deepEqual(env[name], { value }, name);
        assert.deepEqual(env.MODEL_NAME, { value: model.name });
      });

      test('runs the edge image by digest with the pull-only token, and the configured twin and TTL', () => {
        const m = manifest().modulesContent as any;
        const agent = m.$edgeAgent['properties.desired'];
        assert.equal(agent.modules.classifier.settings.image, run.outputs.edgeImage);
        const creds = Object.values(agent.runtime.settings.registryCredentials) as any[];
        assert.equal(creds.length, 1);
        assert.equal(creds[0].address, run.outputs.registryLoginServer);
        assert.equal(creds[0].username, 'edge-pull-token');
        const pullPassword = all(T.tokenPassword).find((p) => String(p.inputs.tokenId).endsWith('/edge-pull-token'))!;
        assert.ok(pullPassword);
        assert.equal(agent.systemModules.edgeHub.settings.image, `mcr.microsoft.com/azureiotedge-hub:${cfg.edge.runtimeVersion}`);
        assert.equal(m.$edgeHub['properties.desired'].storeAndForwardConfiguration.timeToLiveSecs, cfg.edge.storeAndForwardTtlSecs);
        assert.deepEqual(m.classifier['properties.desired'], { topK: cfg.edge.topK, confidenceThreshold: cfg.edge.confidenceThreshold });
      });

      test('validates against the IoT Edge schemas and the runtime rules', () => {
        assert.deepEqual(validateSystemModules(manifest()), []);
        assert.deepEqual(validateAgainst('azure-iot-edge-deployment-2.0', manifest()), []);
        assert.deepEqual(checkEdgeRuntimeRules(manifest()), []);
      });
    });

    describe('policies', () => {
      test('every taggable Azure resource carries the common tags and its component', () => {
        for (const r of run.resources.filter((x) => x.type.startsWith('azure-native:'))) {
          if (UNTAGGABLE.has(r.type)) continue;
          assert.ok(TAGGED.has(r.type), `${r.type} is new: tag it (and list it in TAGGED) or list it as UNTAGGABLE`);
          const tags = r.inputs.tags as Record<string, string>;
          assert.deepEqual({ ...tags, component: undefined }, { ...cfg.tags, component: undefined }, `${r.type} ${r.name}`);
          assert.ok(tags.component, `${r.type} ${r.name} has a component tag`);
        }
      });

      test('every resource but the resource group and the name suffix belongs to a component and is named after it', () => {
        const components = new Map(run.resources.filter((r) => r.type.startsWith('model-deploy:infra:')).map((c) => [c.urn, c]));
        assert.equal(components.size, cfg.tls.mode === 'none' ? 7 : 8);
        for (const r of run.resources) {
          if (r.type.startsWith('model-deploy:infra:') || r.name === 'resource-group' || r.name === 'name-suffix') continue;
          const parent = components.get(r.parentUrn);
          assert.ok(parent, `${r.type} ${r.name} has a component parent (got ${r.parentUrn})`);
          assert.ok(r.name.startsWith(`${parent.name}-`), `${r.name} is named after ${parent.name}`);
        }
      });

      test('pods: probes on /v2/health/live and /v2/health/ready, requests and limits, non-root, read-only, no escalation, no capabilities', () => {
        const pod = k8s('Deployment').spec.template.spec;
        const c = container();
        assert.equal(c.livenessProbe.httpGet.path, '/v2/health/live');
        assert.equal(c.readinessProbe.httpGet.path, '/v2/health/ready');
        assert.equal(c.startupProbe.httpGet.path, '/v2/health/live');
        assert.deepEqual(c.ports, [{ name: 'http', containerPort: 5001, protocol: 'TCP' }]);
        assert.deepEqual(c.resources, {
          requests: { cpu: cfg.scoring.cpuRequest, memory: cfg.scoring.memoryRequest },
          limits: { cpu: cfg.scoring.cpuLimit, memory: cfg.scoring.memoryLimit },
        });
        assert.equal(pod.securityContext.runAsNonRoot, true);
        assert.equal(pod.securityContext.runAsUser, SCORING_UID);
        assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
        assert.equal(pod.automountServiceAccountToken, false);
        assert.equal(c.securityContext.readOnlyRootFilesystem, true);
        assert.equal(c.securityContext.allowPrivilegeEscalation, false);
        assert.equal(c.securityContext.privileged, false);
        assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
        assert.deepEqual(c.volumeMounts.find((m: any) => m.mountPath === '/tmp'), { name: 'tmp', mountPath: '/tmp' });
        assert.ok(pod.volumes.find((v: any) => v.name === 'tmp').emptyDir);
      });

      test('pods: spread across zones and nodes; graceful shutdown longer than the service drain', () => {
        const pod = k8s('Deployment').spec.template.spec;
        const keys = pod.topologySpreadConstraints.map((t: any) => [t.topologyKey, t.whenUnsatisfiable]);
        assert.deepEqual(keys, [
          ['topology.kubernetes.io/zone', cfg.aks.zones.length > 1 ? 'DoNotSchedule' : 'ScheduleAnyway'],
          ['kubernetes.io/hostname', 'ScheduleAnyway'],
        ]);
        const c = container();
        assert.equal(pod.terminationGracePeriodSeconds, terminationGracePeriodSeconds(cfg.scoring.shutdownGraceMs));
        assert.ok(pod.terminationGracePeriodSeconds > c.lifecycle.preStop.sleep.seconds + cfg.scoring.shutdownGraceMs / 1000);
      });

      test('pods: the environment of the scoring contract; keys and telemetry come from Secrets', () => {
        const c = container();
        const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
        assert.equal(env.PORT, '5001');
        assert.equal(env.HOST, '0.0.0.0');
        assert.equal(env.MODEL_DIR, '/app/model');
        for (const [name, value] of Object.entries(modelEnv({ ...cfg.model, name: model.name }))) assert.equal(env[name], value, name);
        // Always set: in the image the folder is /app/model, whose name is not the model's.
        assert.equal(env.MODEL_NAME, model.name);
        assert.equal(env.EXACT_PREPROCESSING, String(cfg.model.exactPreprocessing));
        assert.equal(env.EXIF_ORIENTATION, String(cfg.model.exifOrientation));
        assert.equal(env.SCORING_API_KEYS_FILE, '/var/run/secrets/scoring/keys');
        assert.equal(env.SHUTDOWN_GRACE_MS, String(cfg.scoring.shutdownGraceMs));
        assert.equal(env.LOG_LEVEL, cfg.scoring.logLevel);
        assert.equal(env.INTRA_OP_SPINNING, 'false', 'no busy-waiting against the CPU limit');
        assert.equal(env.MODEL_THREADS, String(cfg.scoring.modelThreads));
        assert.equal(env.INTRA_OP_THREADS, String(intraOpThreads(cfg.scoring.cpuLimit, cfg.scoring.modelThreads, cfg.scoring.intraOpThreads)));
        // One intra-op thread per whole CPU of the limit, divided among the model threads, at least one,
        // unless scoringIntraOpThreads says how many.
        assert.deepEqual([intraOpThreads('2'), intraOpThreads('2', 1), intraOpThreads('2', 2), intraOpThreads('4', 3), intraOpThreads('1500m', 0), intraOpThreads('500m', 4)], [2, 2, 1, 1, 1, 1]);
        assert.deepEqual([intraOpThreads('2', 1, 1), intraOpThreads('2', 0, 3), intraOpThreads('1', 2, 0)], [1, 3, 1]);
        assert.equal(env.BATCH_MAX_WAIT_MS, String(cfg.scoring.batchMaxWaitMs));
        assert.equal(env.SCORING_API_KEYS, undefined, 'keys are never in the environment');
        const telemetry = k8sObjects().find((o) => o.inputs.kind === 'Secret' && o.inputs.stringData.APPLICATIONINSIGHTS_CONNECTION_STRING)!;
        assert.deepEqual(env.APPLICATIONINSIGHTS_CONNECTION_STRING, {
          secretKeyRef: { name: telemetry.inputs.metadata.name, key: 'APPLICATIONINSIGHTS_CONNECTION_STRING' },
        });
        assert.ok(telemetry.secretPaths.some((p) => p.startsWith('stringData')));
        const keys = k8sObjects().find((o) => o.inputs.kind === 'Secret' && o.inputs.stringData.keys)!;
        assert.ok(keys.secretPaths.some((p) => p.startsWith('stringData')));
        assert.equal(keys.inputs.stringData.keys, `${run.outputs.scoringPrimaryKey}\n${run.outputs.scoringSecondaryKey}\n`);
        const mount = c.volumeMounts.find((m: any) => m.mountPath === '/var/run/secrets/scoring');
        assert.equal(mount.readOnly, true);
        const volume = k8s('Deployment').spec.template.spec.volumes.find((v: any) => v.name === mount.name);
        assert.equal(volume.secret.secretName, keys.inputs.metadata.name);
      });

      test('images are referenced by digest', () => {
        for (const k of ['scoringImage', 'edgeImage']) {
          assert.match(String(run.outputs[k]), /^[a-z0-9]+\.azurecr\.io\/[a-z-]+@sha256:[0-9a-f]{64}$/, k);
        }
        assert.equal(container().image, run.outputs.scoringImage);
      });

      test('secret outputs are secret, and no secret value appears in the clear anywhere', () => {
        for (const k of ['scoringPrimaryKey', 'scoringSecondaryKey', 'edgeDeploymentManifest', 'edgeDeviceConnectionStrings', 'edgeDeviceApiKey']) {
          assert.ok(run.secretOutputs.has(k), `${k} is secret`);
        }
        for (const k of ['kubeconfig', 'scoringUrl', 'scoringAccess', 'registryLoginServer', 'scoringImage', 'edgeImage', 'iotHubName', 'edgeDeviceIds', 'edgeDeploymentId']) {
          assert.ok(!run.secretOutputs.has(k), `${k} is readable`);
        }
        const secrets = sensitiveValues(run);
        for (const r of run.resources) {
          for (const s of clearStrings(r.inputs, r.secretPaths)) {
            for (const secret of secrets) assert.ok(!s.includes(secret), `${r.type} ${r.name} has a secret in the clear`);
          }
        }
        for (const [k, v] of Object.entries(run.outputs)) {
          if (run.secretOutputs.has(k)) continue;
          for (const secret of secrets) assert.ok(!(JSON.stringify(v) ?? '').includes(secret), `output ${k} has a secret in the clear`);
        }
      });
    });

    describe('the CrossGuard policy pack (policy/), run offline against every recorded resource', () => {
      test('no mandatory policy is violated', () => {
        const found = run.resources.flatMap((r) => violations(r.type, r.inputs).map((v) => ({ ...v, resource: `${r.type} ${r.name}` })));
        assert.deepEqual(found, []);
        assert.deepEqual(stackViolations(run.resources.map((r) => ({ type: r.type, props: r.inputs }))), []);
      });
    });

    describe('Kubernetes schema', () => {
      test('every Kubernetes object validates (kubernetes-models)', async () => {
        const modules: Record<string, () => Promise<unknown>> = {
          'v1/Namespace': () => import('kubernetes-models/v1/Namespace'),
          'v1/Secret': () => import('kubernetes-models/v1/Secret'),
          'v1/ServiceAccount': () => import('kubernetes-models/v1/ServiceAccount'),
          'v1/Service': () => import('kubernetes-models/v1/Service'),
          'apps/v1/Deployment': () => import('kubernetes-models/apps/v1/Deployment'),
          'autoscaling/v2/HorizontalPodAutoscaler': () => import('kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'),
          'policy/v1/PodDisruptionBudget': () => import('kubernetes-models/policy/v1/PodDisruptionBudget'),
          'networking.k8s.io/v1/NetworkPolicy': () => import('kubernetes-models/networking.k8s.io/v1/NetworkPolicy'),
        };
        for (const o of k8sObjects()) {
          const key = `${o.inputs.apiVersion}/${o.inputs.kind}`;
          if (await validateCustomResource(o)) continue;
          const load = modules[key];
          assert.ok(load, `no schema for ${key}`);
          const Model = ((await load()) as Record<string, new (o: unknown) => { validate(): void }>)[o.inputs.kind]!;
          assert.doesNotThrow(() => new Model(o.inputs).validate(), `${key} ${o.name}`);
        }
      });

      test('the validator catches a broken object (so the check above means something)', async () => {
        const { Deployment } = await import('kubernetes-models/apps/v1/Deployment');
        const broken = JSON.parse(JSON.stringify(k8s('Deployment')));
        broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
        delete broken.spec.selector;
        assert.throws(() => new Deployment(broken).validate(), /containerPort must be integer|selector/);
      });
    });

    describeHttps(() => ({ run, cfg }));

    describe('the image contract with the Dockerfile', () => {
      const file = 'Dockerfile';
      const path = join(REPO_ROOT, file);
      test(`${file} runs both apps as uid ${SCORING_UID} and exposes 5001`, () => {
        const text = readFileSync(path, 'utf8');
        const users = [...text.matchAll(/^\s*USER\s+(\S+)/gim)].map((m) => m[1]);
        assert.ok(users.length > 0, 'USER is set');
        assert.match(users.at(-1)!, new RegExp(`^${SCORING_UID}(:\\d+)?$`), `the last USER is numeric ${SCORING_UID}`);
        assert.match(text, /^\s*EXPOSE\s+5001\b/im);
      });
    });
  });
}

// Composition root of the stack: read the config once, create one component per concern, export
// what users need (the scoring URL and its keys, the registry, the images, the edge fleet). The scoring
// API is public over HTTPS only (infra/https-ingress.ts), and only once tlsMode names a certificate.
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import * as authorization from '@pulumi/azure-native/authorization';
import * as resources from '@pulumi/azure-native/resources';
import * as random from '@pulumi/random';
import { AcrImageImport } from './infra/acr-image-import';
import { modelEnv, readConfig } from './infra/config';
import { Cluster } from './infra/cluster';
import { EdgeFleet } from './infra/edge-fleet';
import { ContainerImages } from './infra/images';
import { imageTagFor, readModelFolder } from './infra/model-folder';
import { ModelStore } from './infra/model-store';
import { Monitoring } from './infra/monitoring';
import { azureName, componentTags, type AzureNameKind } from './infra/naming';
import { HttpsIngress } from './infra/https-ingress';
import { EDGE_REPOSITORY, Registry, SCORING_REPOSITORY } from './infra/registry';
import { SERVICE_PORT, ScoringWorkload } from './infra/scoring-workload';

/** Azure Resource Manager of the public cloud (token passwords are generated through it, with an Entra token). */
const ARM_ENDPOINT = 'https://management.azure.com';
const SUFFIX_LENGTH = 6;

const cfg = readConfig();
// Pulumi runs the program from the project directory (the repository root); paths handed to
// resources stay relative to it so the state does not depend on where the checkout lives.
const repoRoot = path.relative(process.cwd(), __dirname) || '.';
// The model folder, checked and content-addressed before anything is created (the core's own deep
// check runs in the image build); its name, version and hash label the blobs, images and deployments.
const model = readModelFolder(path.join(repoRoot, cfg.modelDir), cfg.model.name);
// MODEL_NAME always: in the images the folder is /app/model, so its own name would be lost.
const appModelEnv = modelEnv({ ...cfg.model, name: model.name });

// Fail before creating anything if a name would break Azure's rules (the suffix is random, its shape is not).
const kinds: AzureNameKind[] = ['resourceGroup', 'storageAccount', 'containerRegistry', 'kubernetesCluster', 'logAnalytics', 'appInsights', 'iotHub', 'publicIp'];
for (const kind of kinds) azureName(kind, cfg.namePrefix, cfg.environment, 'a'.repeat(SUFFIX_LENGTH));

// Every physical name carries a random suffix that is fixed per stack (see infra/naming.ts).
const suffix = new random.RandomString('name-suffix', { length: SUFFIX_LENGTH, special: false, upper: false, numeric: true });
const globalName = (kind: AzureNameKind) => suffix.result.apply((s) => azureName(kind, cfg.namePrefix, cfg.environment, s));
const tags = (component: string) => componentTags(cfg.tags, component);

const client = authorization.getClientConfigOutput();

const resourceGroup = new resources.ResourceGroup('resource-group', {
  resourceGroupName: globalName('resourceGroup'),
  location: cfg.location,
  tags: tags('resource-group'),
});
const common = { resourceGroupName: resourceGroup.name, location: resourceGroup.location };

const monitoring = new Monitoring('monitoring', {
  ...common,
  workspaceName: globalName('logAnalytics'),
  appInsightsName: globalName('appInsights'),
  retentionDays: cfg.logRetentionDays,
  tags: tags('monitoring'),
});

const modelStore = new ModelStore('model-store', {
  ...common,
  accountName: globalName('storageAccount'),
  sku: cfg.storageSku,
  model,
  tags: tags('model-store'),
});

const registry = new Registry('registry', {
  ...common,
  registryName: globalName('containerRegistry'),
  sku: cfg.acrSku,
  armEndpoint: ARM_ENDPOINT,
  passwordRotationDays: cfg.acrPasswordRotationDays,
  now: Date.now(),
  tags: tags('registry'),
});

// Prod runs the digests dev tested (imported, not rebuilt); other stacks build from this checkout.
const images = cfg.promotion
  ? promotedImages(cfg.promotion)
  : new ContainerImages('images', {
    context: repoRoot,
    registry: registry.pushCredentials,
    tag: imageTagFor(model.revision),
    // The Dockerfile takes the model folder relative to the build context (the repository root).
    buildArgs: { MODEL_DIR: cfg.modelDir },
    images: {
      scoring: { repository: SCORING_REPOSITORY, app: 'scoring-service', platform: cfg.imagePlatform },
      edge: { repository: EDGE_REPOSITORY, app: 'edge-module', platform: cfg.edge.imagePlatform },
    },
  });

function promotedImages(p: NonNullable<typeof cfg.promotion>): { scoringImage: pulumi.Output<string>; edgeImage: pulumi.Output<string> } {
  const common = { armEndpoint: ARM_ENDPOINT, registryId: registry.registryId, loginServer: registry.loginServer, sourceRegistryId: p.sourceRegistryId, tag: imageTagFor(model.revision) };
  const one = (key: string, repository: string, digest: string) => new AcrImageImport(`images-${key}-import`, { ...common, repository, digest }).image;
  return { scoringImage: one('scoring', SCORING_REPOSITORY, p.scoringDigest), edgeImage: one('edge', EDGE_REPOSITORY, p.edgeDigest) };
}

const cluster = new Cluster('cluster', {
  ...common,
  clusterName: globalName('kubernetesCluster'),
  aks: cfg.aks,
  logAnalyticsWorkspaceId: monitoring.workspaceId,
  registryId: registry.registryId,
  subscriptionId: client.subscriptionId,
  deployerObjectId: client.objectId,
  tags: tags('cluster'),
  ...(cfg.tls.mode !== 'none' ? { httpsIngress: { istioRevision: cfg.tls.istioRevision, keyVaultSecretsProvider: cfg.tls.mode === 'keyvault' } } : {}),
});

const scoring = new ScoringWorkload('scoring', {
  provider: cluster.provider,
  scoring: cfg.scoring,
  image: images.scoringImage,
  appInsightsConnectionString: monitoring.appInsightsConnectionString,
  zonal: cfg.aks.zones.length > 1,
  model: { name: model.name, version: model.version, sha256: model.contentSha256 },
  modelEnv: appModelEnv,
  dependsOn: [cluster.acrPull, ...cluster.workloadPools],
});

// Without a certificate nothing is published: the keys never travel in plain HTTP.
const tls = cfg.tls;
const https = tls.mode === 'none'
  ? undefined
  : new HttpsIngress('https', {
    provider: cluster.provider,
    tls: { ...tls, mode: tls.mode },
    resourceGroupName: resourceGroup.name,
    resourceGroupId: resourceGroup.id,
    location: resourceGroup.location,
    subscriptionId: client.subscriptionId,
    tenantId: client.tenantId,
    zones: cfg.aks.zones,
    dnsLabel: pulumi.interpolate`${cfg.namePrefix}-${cfg.environment}-scoring-${suffix.result}`,
    publicIpName: globalName('publicIp'),
    clusterPrincipalId: cluster.principalId,
    keyVaultIdentity: cluster.keyVaultSecretsProviderIdentity,
    syncImage: images.scoringImage,
    app: { namespace: scoring.namespace, serviceName: scoring.serviceName, port: SERVICE_PORT },
    tags: tags('https-ingress'),
  }, { dependsOn: cluster.workloadPools });

const edge = new EdgeFleet('edge', {
  ...common,
  hubName: globalName('iotHub'),
  iotHub: cfg.iotHub,
  edge: cfg.edge,
  moduleImage: images.edgeImage,
  registry: registry.edgePullCredentials,
  namePrefix: cfg.namePrefix,
  environment: cfg.environment,
  labels: { modelName: model.name, modelVersion: model.version, modelRevision: model.revision, stack: cfg.stack },
  modelEnv: appModelEnv,
  tags: tags('edge'),
  deployerObjectId: client.objectId,
  subscriptionId: client.subscriptionId,
});

export const resourceGroupName = resourceGroup.name;
/** https://<host> of the scoring API; absent until tlsMode is set (see scoringAccess). */
export const scoringUrl = https?.url;
/** The host a custom domain's CNAME record points to (<label>.<region>.cloudapp.azure.com). */
export const scoringAzureHostName = https?.azureHostName;
export const scoringAccess = https
  ? pulumi.interpolate`HTTPS only (${tls.mode}); port 80 redirects; Strict-Transport-Security max-age=${tls.hstsMaxAgeSeconds}`
  : 'Not published: the scoring Service is cluster-internal until a certificate is configured. Set tlsMode to keyvault or letsencrypt (docs/deploying.md, "HTTPS").';
export const scoringPrimaryKey = scoring.primaryKey;
export const scoringSecondaryKey = scoring.secondaryKey;
/** Secret: Bearer key of the HTTP contract (port 5001) on the edge devices. */
export const edgeDeviceApiKey = edge.deviceApiKey;
export const kubeconfig = cluster.kubeconfig;
export const aksClusterName = cluster.clusterName;
export const registryLoginServer = registry.loginServer;
/** The registry's resource id: prod imports the images dev tested from it (promoteFromRegistryId). */
export const registryId = registry.registryId;
export const scoringImage = images.scoringImage;
export const edgeImage = images.edgeImage;
export const modelBlobUrl = modelStore.modelBlobUrl;
export const appInsightsName = monitoring.appInsightsName;
export const iotHubName = edge.hubName;
export const iotHubHostName = edge.hostName;
export const edgeDeviceIds = edge.deviceIds;
export const edgeDeviceConnectionStrings = edge.deviceConnectionStrings;
export const edgeDeploymentId = edge.deploymentId;
export const edgeDeploymentManifest = edge.manifestJson;

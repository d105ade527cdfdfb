// AKS: managed identity, Kubernetes RBAC, Container Insights into the Log Analytics workspace, a small
// tainted system pool and autoscaling workload pools (one per zone where configured; node-pools.ts), Azure
// CNI overlay with Cilium (so NetworkPolicy is enforced), the kubelet identity allowed to pull from the
// registry (AcrPull: no pull secrets), and, when the API is served over HTTPS, the Istio add-on with its
// external ingress gateway (and the Key Vault Secrets Provider add-on for a Key Vault certificate).
import * as pulumi from '@pulumi/pulumi';
import * as authorization from '@pulumi/azure-native/authorization';
import * as containerservice from '@pulumi/azure-native/containerservice';
import * as monitor from '@pulumi/azure-native/monitor';
import * as k8s from '@pulumi/kubernetes';
import type { AksConfig } from './config';
import { kubeloginKubeconfig } from './kubeconfig';
import { SYSTEM_POOL_TAINT, planWorkloadPools } from './node-pools';

/** Built-in role "Azure Kubernetes Service RBAC Cluster Admin". */
export const AKS_RBAC_CLUSTER_ADMIN_ROLE_ID = 'b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b';

/** Built-in role "AcrPull". */
export const ACR_PULL_ROLE_ID = '7f951dda-4ed3-4680-a7ca-43fe172d538d';

/** The system pool only runs AKS's own add-ons (tainted), so the smallest general-purpose size does. */
export const SYSTEM_POOL_VM_SIZE = 'Standard_D2s_v5';

export interface ClusterArgs {
  resourceGroupName: pulumi.Input<string>;
  location: pulumi.Input<string>;
  clusterName: pulumi.Input<string>;
  aks: AksConfig;
  /** Resource id of the Log Analytics workspace Container Insights writes to. */
  logAnalyticsWorkspaceId: pulumi.Input<string>;
  /** Resource id of the registry the kubelet pulls from. */
  registryId: pulumi.Input<string>;
  subscriptionId: pulumi.Input<string>;
  /** Object id of the identity running `pulumi up`: it gets cluster admin through Azure RBAC. */
  deployerObjectId: pulumi.Input<string>;
  tags: Record<string, string>;
  /**
   * Set when the scoring API is served over HTTPS (https-ingress.ts): the Istio add-on with its managed
   * external ingress gateway, and the Key Vault Secrets Provider add-on when the certificate is in Key Vault.
   */
  httpsIngress?: { istioRevision: string; keyVaultSecretsProvider: boolean };
}

/** Secrets Store CSI driver settings of the Key Vault add-on: re-read the certificate every two minutes, so a renewal in Key Vault reaches the gateway without a deployment. */
export const KEY_VAULT_ADDON_CONFIG = { enableSecretRotation: 'true', rotationPollInterval: '2m' } as const;

/** An output whose value is not known until `pulumi up` (what a preview shows as "output<string>"). */
export function unknownOutput<T>(): pulumi.Output<T> {
  return pulumi.output(pulumi.unknown) as unknown as pulumi.Output<T>;
}

export class Cluster extends pulumi.ComponentResource {
  readonly clusterName: pulumi.Output<string>;
  /** A kubelogin kubeconfig: no credential in it (Entra sign-in through the Azure CLI). */
  readonly kubeconfig: pulumi.Output<string>;
  /** Kubernetes provider bound to this cluster's credentials. */
  readonly provider: k8s.Provider;
  readonly kubeletObjectId: pulumi.Output<string>;
  /** AcrPull for the kubelet: workloads pulling from the registry depend on it. */
  readonly acrPull: authorization.RoleAssignment;
  /** The pools application pods run on (see node-pools.ts). */
  readonly workloadPools: containerservice.AgentPool[];
  /** Object id of the cluster's own (control plane) identity: the cloud provider acts with it on load balancers and public IPs. */
  readonly principalId: pulumi.Output<string>;
  /** The Key Vault Secrets Provider add-on's identity (with httpsIngress.keyVaultSecretsProvider). */
  readonly keyVaultSecretsProviderIdentity: pulumi.Output<{ clientId: string; objectId: string }>;

  constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super('model-deploy:infra:Cluster', name, {}, opts);
    const a = args.aks;
    if (a.maxCount < a.minCount) {
      throw new Error(`Cluster ${name}: aks.maxCount (${a.maxCount}) is below aks.minCount (${a.minCount}).`);
    }
    // Two system nodes at least where zones matter (AKS's production guidance), one per zone up to three.
    const systemCount = a.zones.length > 1 ? Math.max(2, a.zones.length) : 1;
    const cluster = new containerservice.ManagedCluster(
      `${name}-aks`,
      {
        resourceName: args.clusterName,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        dnsPrefix: args.clusterName,
        ...(a.kubernetesVersion ? { kubernetesVersion: a.kubernetesVersion } : {}),
        sku: { name: 'Base', tier: a.skuTier },
        identity: { type: 'SystemAssigned' },
        enableRBAC: true,
        // Entra sign-in and Azure RBAC for Kubernetes authorisation; no local accounts, so no static
        // admin credential exists to leak (listClusterAdminCredential is refused).
        aadProfile: { managed: true, enableAzureRBAC: true, adminGroupObjectIDs: a.adminGroupObjectIds },
        disableLocalAccounts: true,
        ...(a.authorizedIpRanges.length > 0 ? { apiServerAccessProfile: { authorizedIPRanges: a.authorizedIpRanges } } : {}),
        autoUpgradeProfile: { upgradeChannel: 'patch', nodeOSUpgradeChannel: 'NodeImage' },
        // Only the small, tainted system pool is inline (a cluster needs one at creation); workloads run
        // on the AgentPool resources below. Its size and zones are fixed at creation: change them by
        // adding a new system pool, never by editing this profile.
        agentPoolProfiles: [
          {
            name: 'system',
            mode: 'System',
            osType: 'Linux',
            osSKU: 'AzureLinux',
            type: 'VirtualMachineScaleSets',
            vmSize: SYSTEM_POOL_VM_SIZE,
            osDiskSizeGB: 64,
            count: systemCount,
            ...(a.zones.length > 0 ? { availabilityZones: a.zones } : {}),
            nodeTaints: [SYSTEM_POOL_TAINT],
            upgradeSettings: { maxSurge: '33%' },
          },
        ],
        // Zonal pools of one workload are similar node groups: scale them together, zone by zone.
        autoScalerProfile: { balanceSimilarNodeGroups: 'true' },
        networkProfile: {
          networkPlugin: 'azure',
          networkPluginMode: 'overlay',
          networkDataplane: 'cilium',
          networkPolicy: 'cilium',
          loadBalancerSku: 'standard',
        },
        addonProfiles: {
          omsagent: {
            enabled: true,
            config: { logAnalyticsWorkspaceResourceID: args.logAnalyticsWorkspaceId, useAADAuth: 'true' },
          },
          ...(args.httpsIngress?.keyVaultSecretsProvider ? { azureKeyvaultSecretsProvider: { enabled: true, config: { ...KEY_VAULT_ADDON_CONFIG } } } : {}),
        },
        // The Istio add-on's managed external ingress gateway terminates TLS for the scoring API (the
        // app-routing NGINX add-on's support ended in November 2026; its Gateway API mode is a preview that
        // azure-native 3.28 cannot express). "Disabled" rather than absent, so turning HTTPS off removes it.
        serviceMeshProfile: args.httpsIngress
          ? {
              mode: 'Istio',
              istio: { revisions: [args.httpsIngress.istioRevision], components: { ingressGateways: [{ mode: 'External', enabled: true }] } },
            }
          : { mode: 'Disabled' },
        tags: args.tags,
      },
      { parent: this },
    );

    const pools = planWorkloadPools(a);
    this.workloadPools = pools.map(
      (p) =>
        new containerservice.AgentPool(
          // The Pulumi name follows the AKS name, so a changed immutable property is a new resource.
          `${name}-pool-${p.name}`,
          {
            agentPoolName: p.name,
            resourceName: cluster.name,
            resourceGroupName: args.resourceGroupName,
            mode: 'User',
            osType: 'Linux',
            osSKU: p.osSku,
            type: 'VirtualMachineScaleSets',
            vmSize: p.vmSize,
            osDiskSizeGB: p.osDiskSizeGb,
            enableAutoScaling: true,
            count: p.minCount,
            minCount: p.minCount,
            maxCount: p.maxCount,
            ...(p.zones.length > 0 ? { availabilityZones: p.zones } : {}),
            upgradeSettings: { maxSurge: '33%' },
            tags: args.tags,
          },
          // The autoscaler owns the node count after creation.
          { parent: this, ignoreChanges: ['count'] },
        ),
    );

    // The automatic upgrades (upgradeChannel patch, nodeOSUpgradeChannel NodeImage) run only inside
    // these windows (AKS docs, "Use Planned Maintenance": the two aksManaged* configuration names).
    const window = { durationHours: 4, startTime: `${String(a.maintenanceStartHour).padStart(2, '0')}:00`, utcOffset: '+00:00' };
    for (const [suffix, configName] of [['upgrade', 'aksManagedAutoUpgradeSchedule'], ['node-os', 'aksManagedNodeOSUpgradeSchedule']] as const) {
      new containerservice.MaintenanceConfiguration(
        `${name}-maintenance-${suffix}`,
        {
          configName,
          resourceGroupName: args.resourceGroupName,
          resourceName: cluster.name,
          maintenanceWindow: { ...window, schedule: { weekly: { dayOfWeek: a.maintenanceDay, intervalWeeks: 1 } } },
        },
        { parent: this },
      );
    }

    // pulumi up manages the workload's Kubernetes objects (namespace included) through Azure RBAC.
    new authorization.RoleAssignment(
      `${name}-deployer-rbac-admin`,
      {
        principalId: args.deployerObjectId,
        roleDefinitionId: pulumi.interpolate`/subscriptions/${args.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${AKS_RBAC_CLUSTER_ADMIN_ROLE_ID}`,
        scope: cluster.id,
        description: 'pulumi up applies the scoring workload (Entra ID + Azure RBAC; local accounts are off).',
      },
      { parent: this },
    );

    // With managed-identity auth (useAADAuth) the monitoring agent reads what to collect from a data
    // collection rule associated with the cluster; ARM does not create it (the az CLI would), so we do.
    const dcr = new monitor.DataCollectionRule(
      `${name}-insights-dcr`,
      {
        dataCollectionRuleName: pulumi.interpolate`MSCI-${args.clusterName}`,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        kind: 'Linux',
        description: 'Container Insights for the AKS cluster.',
        dataSources: {
          extensions: [
            {
              name: 'ContainerInsightsExtension',
              extensionName: 'ContainerInsights',
              streams: ['Microsoft-ContainerInsights-Group-Default'],
              extensionSettings: { dataCollectionSettings: { interval: '1m', namespaceFilteringMode: 'Off', enableContainerLogV2: true } },
            },
          ],
        },
        destinations: { logAnalytics: [{ name: 'ciworkspace', workspaceResourceId: args.logAnalyticsWorkspaceId }] },
        dataFlows: [{ streams: ['Microsoft-ContainerInsights-Group-Default'], destinations: ['ciworkspace'] }],
        tags: args.tags,
      },
      { parent: this },
    );
    new monitor.DataCollectionRuleAssociation(
      `${name}-insights-dcra`,
      {
        associationName: 'ContainerInsightsExtension',
        resourceUri: cluster.id,
        dataCollectionRuleId: dcr.id,
        description: 'Association of data collection rule. Deleting this association will break the data collection for this AKS Cluster.',
      },
      { parent: this },
    );

    this.principalId = cluster.identity.apply((i) => {
      if (!i?.principalId) throw new Error(`Cluster ${name}: AKS reported no principal id for its system-assigned identity.`);
      return i.principalId;
    });
    this.keyVaultSecretsProviderIdentity = cluster.addonProfiles.apply((p) => {
      const identity = p?.['azureKeyvaultSecretsProvider']?.identity;
      if (!args.httpsIngress?.keyVaultSecretsProvider) return { clientId: '', objectId: '' };
      if (!identity?.clientId || !identity.objectId) throw new Error(`Cluster ${name}: AKS reported no identity for the Key Vault Secrets Provider add-on.`);
      return { clientId: identity.clientId, objectId: identity.objectId };
    });

    this.kubeletObjectId = cluster.identityProfile.apply((p) => {
      const id = p?.['kubeletidentity']?.objectId;
      if (!id) throw new Error(`Cluster ${name}: AKS reported no kubelet identity.`);
      return id;
    });
    this.acrPull = new authorization.RoleAssignment(
      `${name}-kubelet-acr-pull`,
      {
        principalId: this.kubeletObjectId,
        principalType: 'ServicePrincipal',
        roleDefinitionId: pulumi.interpolate`/subscriptions/${args.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${ACR_PULL_ROLE_ID}`,
        scope: args.registryId,
        description: 'AKS kubelet pulls application images (no image pull secrets).',
      },
      { parent: this },
    );

    // Listing credentials is a POST action (.../listClusterUserCredential/action) that the Reader role
    // of a pull-request preview cannot call. A preview does not need them: with an unknown kubeconfig
    // the Kubernetes provider plans from the program alone and never contacts the cluster.
    this.kubeconfig = pulumi.runtime.isDryRun()
      ? unknownOutput<string>()
      : containerservice
          // format "exec": the kubelogin kubeconfig of an Entra cluster (rewritten for unattended use).
          .listManagedClusterUserCredentialsOutput({ resourceGroupName: args.resourceGroupName, resourceName: cluster.name, format: 'exec' }, { parent: this })
          .kubeconfigs.apply((k) => {
            const value = k[0]?.value;
            if (!value) throw new Error(`Cluster ${name}: AKS returned no kubeconfig.`);
            return kubeloginKubeconfig(Buffer.from(value, 'base64').toString('utf8'));
          });
    this.provider = new k8s.Provider(
      `${name}-k8s`,
      // deleteUnreachable would drop every Kubernetes resource from the state after one failed call to
      // the API server during `pulumi up --refresh` (pulumi-kubernetes docs: it deletes "resources
      // associated with an unreachable cluster"); an unreachable cluster must fail the update instead.
      { kubeconfig: this.kubeconfig, enableServerSideApply: true, deleteUnreachable: false },
      { parent: this },
    );
    this.clusterName = cluster.name;
    this.registerOutputs({ clusterName: this.clusterName, kubeconfig: this.kubeconfig });
  }
}

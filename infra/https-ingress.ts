// HTTPS for the scoring API on the AKS Istio add-on's managed external ingress gateway: a static public
// IP with an Azure DNS label handed to the gateway's Service, the Gateway (443 TLS, 80 redirect) and
// VirtualService (HSTS) in front of the cluster-internal scoring Service, and the certificate either
// synced from Key Vault (Secrets Store CSI driver add-on, least-privilege roles on that one certificate)
// or issued by Let's Encrypt through cert-manager (Helm release; HTTP-01 answered through the gateway).
import * as pulumi from '@pulumi/pulumi';
import * as authorization from '@pulumi/azure-native/authorization';
import * as network from '@pulumi/azure-native/network';
import * as k8s from '@pulumi/kubernetes';
import type { TlsConfig } from './config';
import {
  ACME_SOLVER_LABEL, ACME_SOLVER_PORT, EXTERNAL_GATEWAY, ISTIO_INGRESS_NAMESPACE,
  acmeIssuer, certificate, gateway, secretProviderClass, virtualService,
} from './https-manifests';

/** Built-in roles (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles). */
export const ROLE_IDS = {
  networkContributor: '4d97b98b-1d4f-4787-a291-c67834d212e7',
  keyVaultSecretsUser: '4633458b-17ec-4ca5-9a1b-4a5f9bd9bd8f',
  keyVaultCertificateUser: 'db79e9a7-68ee-4b58-9aeb-b90e7c24fcba',
} as const;

/** cert-manager's chart, pinned (https://charts.jetstack.io is its only supported source). */
export const CERT_MANAGER_CHART = { chart: 'cert-manager', version: 'v1.19.1', repo: 'https://charts.jetstack.io' } as const;

export interface HttpsIngressArgs {
  provider: k8s.Provider;
  tls: TlsConfig & { mode: Exclude<TlsConfig['mode'], 'none'> };
  resourceGroupName: pulumi.Input<string>;
  /** Resource id of that group: the cluster identity may manage the public IP in it. */
  resourceGroupId: pulumi.Input<string>;
  location: pulumi.Input<string>;
  subscriptionId: pulumi.Input<string>;
  tenantId: pulumi.Input<string>;
  /** Zones of the workload; a zone-redundant public IP when more than one. */
  zones: string[];
  /** Azure DNS label of the public IP: <label>.<location>.cloudapp.azure.com. */
  dnsLabel: pulumi.Input<string>;
  publicIpName: pulumi.Input<string>;
  /** Object id of the AKS control-plane identity (the cloud provider attaches the IP with it). */
  clusterPrincipalId: pulumi.Input<string>;
  /** The Key Vault Secrets Provider add-on identity (keyvault mode). */
  keyVaultIdentity: pulumi.Input<{ clientId: string; objectId: string }>;
  /** Image of the pod that keeps the CSI volume mounted (keyvault mode): the scoring image, already pulled, by digest. */
  syncImage: pulumi.Input<string>;
  /** The service to publish. */
  app: { namespace: pulumi.Input<string>; serviceName: pulumi.Input<string>; port: number };
  tags: Record<string, string>;
}

type Built = Record<string, unknown>;

/**
 * A custom resource from a built object (https-manifests.ts). apiVersion and kind are plain because
 * they make the resource's type token; metadata and spec may wait for outputs.
 */
function customResource(name: string, apiVersion: string, kind: string, built: pulumi.Input<Built>, opts: pulumi.CustomResourceOptions): k8s.apiextensions.CustomResource {
  const o = pulumi.output(built).apply((b) => {
    if (b.apiVersion !== apiVersion || b.kind !== kind) throw new Error(`${name}: built ${String(b.apiVersion)}/${String(b.kind)}, declared ${apiVersion}/${kind}.`);
    return b as unknown as { metadata: k8s.types.input.meta.v1.ObjectMeta; spec: Record<string, unknown> };
  });
  return new k8s.apiextensions.CustomResource(name, { apiVersion, kind, metadata: o.apply((b) => b.metadata), spec: o.apply((b) => b.spec) }, opts);
}

export class HttpsIngress extends pulumi.ComponentResource {
  /** The Azure host name of the gateway's public IP (a custom domain's CNAME points here). */
  readonly azureHostName: pulumi.Output<string>;
  /** The host clients use: the custom domain, else the Azure host name. */
  readonly host: pulumi.Output<string>;
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: HttpsIngressArgs, opts?: pulumi.ComponentResourceOptions) {
    super('model-deploy:infra:HttpsIngress', name, {}, opts);
    const t = args.tls;
    if (t.mode === 'keyvault' && (!t.keyVaultId || !t.certificateName)) {
      throw new Error(`HttpsIngress ${name}: tlsMode keyvault needs tlsKeyVaultId and tlsKeyVaultCertificateName.`);
    }
    if (t.mode !== 'keyvault' && !t.acmeEmail) throw new Error(`HttpsIngress ${name}: tlsMode ${t.mode} needs tlsAcmeEmail.`);
    const k8sOpts = { parent: this, provider: args.provider };
    const labels = { 'app.kubernetes.io/part-of': 'model-deploy', 'app.kubernetes.io/managed-by': 'pulumi', 'app.kubernetes.io/component': 'https-ingress' };
    const role = (id: string) => pulumi.interpolate`/subscriptions/${args.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${id}`;

    // The add-on reverts IP changes on its Service but lets these annotations through (AKS docs,
    // "Ingress gateway service customizations"); azure-dns-label-name is not among them, so the DNS
    // label lives on a public IP of ours that the Service is pointed at by name.
    const ip = new network.PublicIPAddress(
      `${name}-ip`,
      {
        publicIpAddressName: args.publicIpName,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        sku: { name: 'Standard', tier: 'Regional' },
        publicIPAllocationMethod: 'Static',
        publicIPAddressVersion: 'IPv4',
        dnsSettings: { domainNameLabel: args.dnsLabel },
        ...(args.zones.length > 1 ? { zones: args.zones } : {}),
        tags: args.tags,
      },
      { parent: this },
    );
    // A public IP outside the node resource group: the cluster identity needs Network Contributor on its
    // resource group (AKS docs, "Use a static public IP address ... outside the node resource group").
    const ipGrant = new authorization.RoleAssignment(
      `${name}-cluster-network`,
      {
        principalId: args.clusterPrincipalId,
        principalType: 'ServicePrincipal',
        roleDefinitionId: role(ROLE_IDS.networkContributor),
        scope: args.resourceGroupId,
        description: 'AKS attaches the HTTPS gateway public IP to its load balancer.',
      },
      { parent: this },
    );
    new k8s.core.v1.ServicePatch(
      `${name}-gateway-service`,
      {
        metadata: {
          name: EXTERNAL_GATEWAY,
          namespace: ISTIO_INGRESS_NAMESPACE,
          annotations: {
            // The add-on owns the Service; take just these fields over if another manager wrote them.
            'pulumi.com/patchForce': 'true',
            'service.beta.kubernetes.io/azure-pip-name': ip.name,
            'service.beta.kubernetes.io/azure-load-balancer-resource-group': args.resourceGroupName,
            // Probe Envoy's readiness (status port 15021) for both ports instead of a TCP connect, so a
            // gateway pod that is up but not configured takes no traffic.
            ...Object.fromEntries(
              [80, 443].flatMap((p) => [
                [`service.beta.kubernetes.io/port_${p}_health-probe_protocol`, 'http'],
                [`service.beta.kubernetes.io/port_${p}_health-probe_port`, '15021'],
                [`service.beta.kubernetes.io/port_${p}_health-probe_request-path`, '/healthz/ready'],
              ]),
            ),
          },
        },
      },
      { ...k8sOpts, dependsOn: [ipGrant] },
    );

    this.azureHostName = pulumi.interpolate`${args.dnsLabel}.${args.location}.cloudapp.azure.com`;
    this.host = t.customDomain ? pulumi.output(t.customDomain) : this.azureHostName;

    let certificateReady: pulumi.Resource[];
    let acmeSolverHost: string | undefined;
    if (t.mode === 'keyvault') {
      certificateReady = this.keyVaultCertificate(name, args, k8sOpts, labels, role);
    } else {
      acmeSolverHost = `${name}-acme-solver.${ISTIO_INGRESS_NAMESPACE}.svc.cluster.local`;
      certificateReady = this.letsEncryptCertificate(name, args, k8sOpts, labels);
    }

    const serviceHost = pulumi.interpolate`${args.app.serviceName}.${args.app.namespace}.svc.cluster.local`;
    const gatewayName = 'scoring-https';
    const istio = 'networking.istio.io/v1';
    const gw = customResource(
      `${name}-gateway`, istio, 'Gateway',
      pulumi.all([args.app.namespace, this.host]).apply(([ns, host]) => gateway(gatewayName, ns, host, t.mode, labels)),
      { ...k8sOpts, dependsOn: certificateReady },
    );
    customResource(
      `${name}-routes`, istio, 'VirtualService',
      pulumi
        .all([args.app.namespace, this.host, serviceHost])
        .apply(([ns, host, svc]) =>
          virtualService('scoring-https', ns, { host, gatewayName, serviceHost: svc, servicePort: args.app.port, hstsMaxAgeSeconds: t.hstsMaxAgeSeconds, acmeSolverHost }, labels),
        ),
      { ...k8sOpts, dependsOn: [gw] },
    );
    this.url = pulumi.interpolate`https://${this.host}`;
    this.registerOutputs({ azureHostName: this.azureHostName, host: this.host, url: this.url });
  }

  /** Key Vault: the add-on identity may read this one certificate (as a secret for the key, as a certificate for the chain), nothing else. */
  private keyVaultCertificate(
    name: string,
    args: HttpsIngressArgs,
    k8sOpts: pulumi.CustomResourceOptions,
    labels: Record<string, string>,
    role: (id: string) => pulumi.Output<string>,
  ): pulumi.Resource[] {
    const t = args.tls;
    const identity = pulumi.output(args.keyVaultIdentity);
    const grants = [
      ['secrets-user', ROLE_IDS.keyVaultSecretsUser, 'secrets'],
      ['certificate-user', ROLE_IDS.keyVaultCertificateUser, 'certificates'],
    ].map(
      ([suffix, roleId, kind]) =>
        new authorization.RoleAssignment(
          `${name}-keyvault-${suffix}`,
          {
            principalId: identity.objectId,
            principalType: 'ServicePrincipal',
            roleDefinitionId: role(roleId!),
            // Key Vault RBAC accepts a single secret or certificate as scope.
            scope: `${t.keyVaultId}/${kind}/${t.certificateName}`,
            description: 'The AKS Key Vault Secrets Provider add-on syncs the scoring API certificate into the ingress gateway.',
          },
          { parent: this },
        ),
    );
    const spcName = 'scoring-tls';
    const spc = customResource(
      `${name}-secret-provider`, 'secrets-store.csi.x-k8s.io/v1', 'SecretProviderClass',
      pulumi
        .all([args.tenantId, identity.clientId])
        .apply(([tenantId, clientId]) =>
          secretProviderClass(spcName, { keyVaultName: t.keyVaultName, certificateName: t.certificateName, tenantId, identityClientId: clientId }, labels),
        ),
      { ...k8sOpts, dependsOn: grants },
    );
    // The CSI driver syncs (and rotates) the Secret only while a pod mounts the volume.
    const selector = { 'app.kubernetes.io/name': 'scoring-tls-sync' };
    const sync = new k8s.apps.v1.Deployment(
      `${name}-tls-sync`,
      {
        metadata: { name: 'scoring-tls-sync', namespace: ISTIO_INGRESS_NAMESPACE, labels: { ...labels, ...selector } },
        spec: {
          replicas: 1,
          selector: { matchLabels: selector },
          template: {
            metadata: { labels: { ...labels, ...selector } },
            spec: {
              automountServiceAccountToken: false,
              securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
              containers: [
                {
                  name: 'sync',
                  image: args.syncImage,
                  command: ['node', '-e', 'process.on("SIGTERM", () => process.exit(0)); setInterval(() => {}, 1 << 30);'],
                  resources: { requests: { cpu: '5m', memory: '48Mi' }, limits: { cpu: '50m', memory: '96Mi' } },
                  securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
                  volumeMounts: [{ name: 'tls', mountPath: '/mnt/secrets-store', readOnly: true }],
                },
              ],
              volumes: [{ name: 'tls', csi: { driver: 'secrets-store.csi.k8s.io', readOnly: true, volumeAttributes: { secretProviderClass: spcName } } }],
            },
          },
        },
      },
      { ...k8sOpts, dependsOn: [spc] },
    );
    return [sync];
  }

  /** Let's Encrypt: cert-manager, a namespaced ACME issuer, the certificate, and a stable Service in front of the solver pods. */
  private letsEncryptCertificate(name: string, args: HttpsIngressArgs, k8sOpts: pulumi.CustomResourceOptions, labels: Record<string, string>): pulumi.Resource[] {
    const t = args.tls as HttpsIngressArgs['tls'] & { mode: 'letsencrypt' | 'letsencrypt-staging' };
    const ns = new k8s.core.v1.Namespace(
      `${name}-cert-manager-ns`,
      { metadata: { name: 'cert-manager', labels: { ...labels, 'pod-security.kubernetes.io/enforce': 'restricted' } } },
      k8sOpts,
    );
    const release = new k8s.helm.v3.Release(
      `${name}-cert-manager`,
      {
        name: 'cert-manager',
        namespace: ns.metadata.name,
        chart: CERT_MANAGER_CHART.chart,
        version: CERT_MANAGER_CHART.version,
        repositoryOpts: { repo: CERT_MANAGER_CHART.repo },
        values: { crds: { enabled: true, keep: true } },
        // The Issuer and Certificate below need the webhook answering, not just the Deployments created.
        waitForJobs: true,
        atomic: true,
      },
      k8sOpts,
    );
    new k8s.core.v1.Service(
      `${name}-acme-solver`,
      {
        metadata: { name: `${name}-acme-solver`, namespace: ISTIO_INGRESS_NAMESPACE, labels },
        spec: { type: 'ClusterIP', selector: { ...ACME_SOLVER_LABEL }, ports: [{ name: 'http', port: ACME_SOLVER_PORT, targetPort: ACME_SOLVER_PORT, protocol: 'TCP', appProtocol: 'http' }] },
      },
      k8sOpts,
    );
    const issuerName = t.mode;
    const issuer = customResource(
      `${name}-issuer`, 'cert-manager.io/v1', 'Issuer',
      acmeIssuer(issuerName, { mode: t.mode, email: t.acmeEmail }, labels),
      { ...k8sOpts, dependsOn: [release] },
    );
    customResource(
      `${name}-certificate`, 'cert-manager.io/v1', 'Certificate',
      this.host.apply((host) => certificate('scoring-tls', { host, issuerName }, labels)),
      { ...k8sOpts, dependsOn: [issuer] },
    );
    // Nothing waits for the certificate: its HTTP-01 challenge needs the Gateway and routes to exist.
    return [];
  }
}

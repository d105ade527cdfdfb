// The scoring service on AKS: namespace (Pod Security "restricted"), API keys in a Secret mounted as a
// file (the service re-reads it, so rotating keys needs no restart), a hardened Deployment spread over
// zones and nodes, a cluster-internal Service (https-ingress.ts publishes it over HTTPS; nothing here is
// reachable from outside the cluster), an autoscaler, a disruption budget and a NetworkPolicy that admits
// only the HTTPS ingress gateway, on the service port.
import * as pulumi from '@pulumi/pulumi';
import * as k8s from '@pulumi/kubernetes';
import * as random from '@pulumi/random';
import type { ScoringConfig } from './config';
import { parseCpu } from './config';
import { ISTIO_INGRESS_NAMESPACE } from './https-manifests';

export const SCORING_PORT = 5001;
/** The uid/gid the scoring-service Dockerfile creates. */
export const SCORING_UID = 10001;
export const KEYS_MOUNT_DIR = '/var/run/secrets/scoring';
export const PRE_STOP_SLEEP_SECONDS = 5;

/**
 * Seconds Kubernetes waits after SIGTERM before SIGKILL: the preStop sleep (while endpoints drop the
 * pod, so no new requests arrive) + the service's own drain (SHUTDOWN_GRACE_MS) + a margin.
 */
export function terminationGracePeriodSeconds(shutdownGraceMs: number, preStopSeconds = PRE_STOP_SLEEP_SECONDS): number {
  return preStopSeconds + Math.ceil(shutdownGraceMs / 1000) + 5;
}

/**
 * onnxruntime intra-op threads per session: `explicit` when the stack sets it (scoringIntraOpThreads),
 * else one per whole CPU of the limit, divided among the model threads when there are any (as the
 * service itself divides them), at least one.
 */
export function intraOpThreads(cpuLimit: string, modelThreads = 0, explicit = 0): number {
  if (explicit > 0) return explicit;
  return Math.max(1, Math.floor(parseCpu(cpuLimit) / 1000 / Math.max(1, modelThreads)));
}

export interface ScoringWorkloadArgs {
  provider: k8s.Provider;
  scoring: ScoringConfig;
  /** Scoring image by digest. */
  image: pulumi.Input<string>;
  /** Secret. */
  appInsightsConnectionString: pulumi.Input<string>;
  /** More than one zone: spread pods strictly across zones. */
  zonal: boolean;
  /** sha256: the model folder's content hash (infra/model-folder.ts). */
  model: { name: string; version: string; sha256: string };
  /** The model's environment (MODEL_NAME, EXACT_PREPROCESSING, PREPROCESS_THREADS), as the edge module gets it. */
  modelEnv?: Record<string, string>;
  /** Resources that must exist before pods can start (e.g. the kubelet's AcrPull grant). */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** Port of the cluster-internal Service (the gateway's route destination). */
export const SERVICE_PORT = 80;

export class ScoringWorkload extends pulumi.ComponentResource {
  /** Name of the cluster-internal Service in `namespace`. */
  readonly serviceName: pulumi.Output<string>;
  /** Secret. */
  readonly primaryKey: pulumi.Output<string>;
  /** Secret. */
  readonly secondaryKey: pulumi.Output<string>;
  readonly namespace: pulumi.Output<string>;

  constructor(name: string, args: ScoringWorkloadArgs, opts?: pulumi.ComponentResourceOptions) {
    super('model-deploy:infra:ScoringWorkload', name, {}, opts);
    const s = args.scoring;
    if (s.maxReplicas < s.minReplicas) {
      throw new Error(`ScoringWorkload ${name}: scoring.maxReplicas (${s.maxReplicas}) is below scoring.minReplicas (${s.minReplicas}).`);
    }
    const k8sOpts = { parent: this, provider: args.provider };
    const appName = 'scoring-service';
    const selector = { 'app.kubernetes.io/name': appName, 'app.kubernetes.io/instance': name };
    const labels = { ...selector, 'app.kubernetes.io/part-of': 'model-deploy', 'app.kubernetes.io/managed-by': 'pulumi' };

    const keyArgs = { length: 48, special: false };
    const primary = new random.RandomPassword(`${name}-primary-key`, keyArgs, { parent: this });
    const secondary = new random.RandomPassword(`${name}-secondary-key`, keyArgs, { parent: this });

    const ns = new k8s.core.v1.Namespace(
      `${name}-ns`,
      {
        metadata: {
          name: s.namespace,
          labels: {
            ...labels,
            'pod-security.kubernetes.io/enforce': 'restricted',
            'pod-security.kubernetes.io/enforce-version': 'latest',
          },
        },
      },
      k8sOpts,
    );
    const namespace = ns.metadata.name;
    const meta = (n: string) => ({ name: n, namespace, labels });

    const keys = new k8s.core.v1.Secret(
      `${name}-api-keys`,
      {
        metadata: meta(`${appName}-api-keys`),
        type: 'Opaque',
        // One key per line, primary first: the service accepts either, so rotation is "replace the
        // secondary, move clients, swap".
        stringData: { keys: pulumi.interpolate`${primary.result}\n${secondary.result}\n` },
      },
      k8sOpts,
    );
    const telemetry = new k8s.core.v1.Secret(
      `${name}-telemetry`,
      {
        metadata: meta(`${appName}-telemetry`),
        type: 'Opaque',
        stringData: { APPLICATIONINSIGHTS_CONNECTION_STRING: args.appInsightsConnectionString },
      },
      k8sOpts,
    );
    const serviceAccount = new k8s.core.v1.ServiceAccount(
      `${name}-sa`,
      { metadata: meta(appName), automountServiceAccountToken: false },
      k8sOpts,
    );

    const zoneSpread: k8s.types.input.core.v1.TopologySpreadConstraint = {
      maxSkew: 1,
      topologyKey: 'topology.kubernetes.io/zone',
      whenUnsatisfiable: args.zonal ? 'DoNotSchedule' : 'ScheduleAnyway',
      labelSelector: { matchLabels: selector },
    };
    const nodeSpread: k8s.types.input.core.v1.TopologySpreadConstraint = {
      maxSkew: 1,
      topologyKey: 'kubernetes.io/hostname',
      whenUnsatisfiable: 'ScheduleAnyway',
      labelSelector: { matchLabels: selector },
    };

    const deployment = new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      {
        metadata: meta(appName),
        spec: {
          // No replicas: the HorizontalPodAutoscaler owns the count (min/max from config).
          revisionHistoryLimit: 5,
          selector: { matchLabels: selector },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
          template: {
            metadata: {
              labels: { ...labels, 'app.kubernetes.io/version': args.model.version.slice(0, 63).replace(/[^A-Za-z0-9_.-]/g, '-') },
              annotations: {
                'model-deploy/model-name': args.model.name,
                'model-deploy/model-version': args.model.version,
                'model-deploy/model-sha256': args.model.sha256,
              },
            },
            spec: {
              serviceAccountName: serviceAccount.metadata.name,
              automountServiceAccountToken: false,
              terminationGracePeriodSeconds: terminationGracePeriodSeconds(s.shutdownGraceMs),
              securityContext: {
                runAsNonRoot: true,
                runAsUser: SCORING_UID,
                runAsGroup: SCORING_UID,
                fsGroup: SCORING_UID,
                seccompProfile: { type: 'RuntimeDefault' },
              },
              topologySpreadConstraints: [zoneSpread, nodeSpread],
              containers: [
                {
                  name: appName,
                  image: args.image,
                  imagePullPolicy: 'IfNotPresent',
                  ports: [{ name: 'http', containerPort: SCORING_PORT, protocol: 'TCP' }],
                  env: [
                    { name: 'PORT', value: String(SCORING_PORT) },
                    { name: 'HOST', value: '0.0.0.0' },
                    { name: 'MODEL_DIR', value: '/app/model' },
                    ...Object.entries(args.modelEnv ?? {}).map(([envName, value]) => ({ name: envName, value })),
                    { name: 'SCORING_API_KEYS_FILE', value: `${KEYS_MOUNT_DIR}/keys` },
                    { name: 'SHUTDOWN_GRACE_MS', value: String(s.shutdownGraceMs) },
                    { name: 'LOG_LEVEL', value: s.logLevel },
                    { name: 'MODEL_THREADS', value: String(s.modelThreads) },
                    { name: 'INTRA_OP_THREADS', value: String(intraOpThreads(s.cpuLimit, s.modelThreads, s.intraOpThreads)) },
                    { name: 'BATCH_MAX_WAIT_MS', value: String(s.batchMaxWaitMs) },
                    // The service's default too, set here so that no image's default can change it:
                    // spinning onnxruntime threads busy-wait ~40 ms after every run, which the CPU
                    // limit counts (throttling the pod) while it serves HTTP or sits idle.
                    { name: 'INTRA_OP_SPINNING', value: 'false' },
                    {
                      name: 'APPLICATIONINSIGHTS_CONNECTION_STRING',
                      valueFrom: { secretKeyRef: { name: telemetry.metadata.name, key: 'APPLICATIONINSIGHTS_CONNECTION_STRING' } },
                    },
                  ],
                  resources: {
                    requests: { cpu: s.cpuRequest, memory: s.memoryRequest },
                    limits: { cpu: s.cpuLimit, memory: s.memoryLimit },
                  },
                  // Live = the process answers; ready = the model is loaded and warmed.
                  startupProbe: { httpGet: { path: '/v2/health/live', port: 'http' }, periodSeconds: 2, failureThreshold: 30 },
                  livenessProbe: { httpGet: { path: '/v2/health/live', port: 'http' }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
                  readinessProbe: { httpGet: { path: '/v2/health/ready', port: 'http' }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
                  // Keep serving while the endpoint is removed from the Service, then SIGTERM starts the drain.
                  lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SLEEP_SECONDS } } },
                  securityContext: {
                    runAsNonRoot: true,
                    runAsUser: SCORING_UID,
                    runAsGroup: SCORING_UID,
                    allowPrivilegeEscalation: false,
                    privileged: false,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ['ALL'] },
                  },
                  volumeMounts: [
                    { name: 'api-keys', mountPath: KEYS_MOUNT_DIR, readOnly: true },
                    { name: 'tmp', mountPath: '/tmp' },
                  ],
                },
              ],
              volumes: [
                { name: 'api-keys', secret: { secretName: keys.metadata.name, defaultMode: 0o440 } },
                { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
              ],
            },
          },
        },
      },
      { ...k8sOpts, dependsOn: args.dependsOn ?? [] },
    );

    // ClusterIP: no public load balancer ever answers with the keys in plain HTTP. appProtocol tells
    // Istio's gateway to speak HTTP to the pods.
    const service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: meta(appName),
        spec: {
          type: 'ClusterIP',
          selector,
          ports: [{ name: 'http', port: SERVICE_PORT, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' }],
        },
      },
      k8sOpts,
    );

    new k8s.autoscaling.v2.HorizontalPodAutoscaler(
      `${name}-hpa`,
      {
        metadata: meta(appName),
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name },
          minReplicas: s.minReplicas,
          maxReplicas: s.maxReplicas,
          metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: s.targetCpuPercent } } }],
        },
      },
      k8sOpts,
    );

    new k8s.policy.v1.PodDisruptionBudget(
      `${name}-pdb`,
      // maxUnavailable (not minAvailable) so a single-replica dev stack can still drain its node.
      { metadata: meta(appName), spec: { maxUnavailable: 1, selector: { matchLabels: selector } } },
      k8sOpts,
    );

    new k8s.networking.v1.NetworkPolicy(
      `${name}-netpol`,
      {
        metadata: meta(appName),
        spec: {
          podSelector: { matchLabels: selector },
          policyTypes: ['Ingress', 'Egress'],
          // Only the ingress gateway (which terminated TLS) reaches the service port. The kubelet's probes
          // come from the node, which Cilium admits whatever the policy says.
          ingress: [
            {
              from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ISTIO_INGRESS_NAMESPACE } } }],
              ports: [{ protocol: 'TCP', port: SCORING_PORT }],
            },
          ],
          egress: [
            {
              to: [
                {
                  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
                  podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
                },
              ],
              ports: [
                { protocol: 'UDP', port: 53 },
                { protocol: 'TCP', port: 53 },
              ],
            },
            // Application Insights ingestion (HTTPS).
            { ports: [{ protocol: 'TCP', port: 443 }] },
          ],
        },
      },
      k8sOpts,
    );

    this.namespace = namespace;
    this.primaryKey = pulumi.secret(primary.result);
    this.secondaryKey = pulumi.secret(secondary.result);
    this.serviceName = service.metadata.name;
    this.registerOutputs({ serviceName: this.serviceName, namespace: this.namespace });
  }
}

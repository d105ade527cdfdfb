// The edge fleet: an IoT Hub, the IoT Edge device identities listed in config (tagged so the
// deployment targets them) and ONE at-scale deployment that targets devices by tag. Identities and
// deployments live in the hub's data plane, not in ARM, hence the dynamic providers (iothub-device.ts,
// iothub-edge-deployment.ts), which authenticate with Microsoft Entra ID: no hub key is read or stored.
import * as pulumi from '@pulumi/pulumi';
import * as authorization from '@pulumi/azure-native/authorization';
import * as iothub from '@pulumi/azure-native/iothub';
import * as random from '@pulumi/random';
import type { EdgeConfig, IotHubConfig } from './config';
import { buildEdgeManifest, checkEdgeRuntimeRules, edgeDeploymentId } from './edge-manifest';
import { IotHubDevice } from './iothub-device';
import { IotHubEdgeDeployment } from './iothub-edge-deployment';
import type { RegistryCredentialsOutput } from './registry';

/** Built-in role "IoT Hub Data Contributor" (data actions Microsoft.Devices/IotHubs/*). */
export const IOT_HUB_DATA_CONTRIBUTOR_ROLE_ID = '4fc6c259-987e-4a07-842e-c321cc9d413f';

export interface EdgeFleetArgs {
  resourceGroupName: pulumi.Input<string>;
  location: pulumi.Input<string>;
  hubName: pulumi.Input<string>;
  iotHub: IotHubConfig;
  edge: EdgeConfig;
  /** Edge module image by digest. */
  moduleImage: pulumi.Input<string>;
  /** Pull-only registry credentials handed to the devices. */
  registry: RegistryCredentialsOutput;
  /** Used in the deployment id: `<namePrefix>-<environment>-classifier-<content hash>`. */
  namePrefix: string;
  environment: string;
  labels: Record<string, string>;
  /** The model's environment of the module (MODEL_NAME, EXACT_PREPROCESSING, PREPROCESS_THREADS), as the scoring pods get it. */
  modelEnv?: Record<string, string>;
  tags: Record<string, string>;
  /** Object id of the identity running `pulumi up`: it gets the hub's data-plane role. */
  deployerObjectId: pulumi.Input<string>;
  subscriptionId: pulumi.Input<string>;
}

export class EdgeFleet extends pulumi.ComponentResource {
  readonly hubName: pulumi.Output<string>;
  readonly hostName: pulumi.Output<string>;
  readonly deviceIds: pulumi.Output<string[]>;
  /** Secret: device id -> connection string for `iotedge config mp`. */
  readonly deviceConnectionStrings: pulumi.Output<Record<string, string>>;
  /** Secret: the deployment manifest JSON (carries the registry credentials). */
  readonly manifestJson: pulumi.Output<string>;
  readonly deploymentId: pulumi.Output<string>;
  /**
   * Secret: the API key of the module's HTTP contract on the devices (`POST /score` on port 5001). The
   * module refuses to serve HTTP without a key unless told SCORING_AUTH=disabled; a LAN-reachable
   * port should not be open, so every device gets this key.
   */
  readonly deviceApiKey: pulumi.Output<string>;

  constructor(name: string, args: EdgeFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    super('model-deploy:infra:EdgeFleet', name, {}, opts);
    if (args.iotHub.sku === 'F1' && args.iotHub.capacity !== 1) {
      throw new Error(`EdgeFleet ${name}: iotHub.sku F1 allows capacity 1, not ${args.iotHub.capacity}.`);
    }
    const hub = new iothub.IotHubResource(
      `${name}-hub`,
      {
        resourceName: args.hubName,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        sku: { name: args.iotHub.sku, capacity: args.iotHub.capacity },
        properties: {
          minTlsVersion: '1.2',
          publicNetworkAccess: 'Enabled',
          eventHubEndpoints: {
            events: { partitionCount: args.iotHub.partitionCount, retentionTimeInDays: args.iotHub.retentionDays },
          },
        },
        tags: args.tags,
      },
      // The built-in endpoint's partition count is fixed when the hub is created (IoT Hub docs,
      // "partitionCount ... cannot be changed after creation"): a changed value must not fail every update.
      { parent: this, ignoreChanges: ['properties.eventHubEndpoints.events.partitionCount'] },
    );
    const hostName = hub.properties.hostName;
    // The providers authenticate with Entra ID as the deploying identity, which needs the hub's
    // data-plane rights: devices and twins (identities, tags) and configurations (the deployment).
    // No narrower built-in role covers configurations; this one is scoped to this hub only.
    const dataRole = new authorization.RoleAssignment(
      `${name}-deployer-hub-data`,
      {
        principalId: args.deployerObjectId,
        roleDefinitionId: pulumi.interpolate`/subscriptions/${args.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${IOT_HUB_DATA_CONTRIBUTOR_ROLE_ID}`,
        scope: hub.id,
        description: 'pulumi up manages IoT Edge identities and deployments through the IoT Hub data plane (Entra ID, no keys).',
      },
      { parent: this },
    );
    const access = { hostName };
    const hubOpts = { parent: this, dependsOn: [dataRole] };

    const devices = args.edge.deviceIds.map(
      (deviceId) =>
        new IotHubDevice(
          `${name}-device-${deviceId}`,
          { ...access, deviceId, edgeEnabled: true, status: 'enabled', tags: args.edge.deviceTags },
          hubOpts,
        ),
    );

    const apiKey = new random.RandomPassword(`${name}-device-api-key`, { length: 48, special: false }, { parent: this });
    const manifest = pulumi
      .all([args.registry.server, args.registry.username, args.registry.password, args.moduleImage, apiKey.result])
      .apply(([address, username, password, moduleImage, key]) => {
        const m = buildEdgeManifest({
          registry: { address, username, password },
          moduleImage,
          env: { ...args.modelEnv, SCORING_API_KEYS: key },
          runtimeVersion: args.edge.runtimeVersion,
          storeAndForwardTtlSecs: args.edge.storeAndForwardTtlSecs,
          twin: { topK: args.edge.topK, confidenceThreshold: args.edge.confidenceThreshold },
        });
        const problems = checkEdgeRuntimeRules(m);
        if (problems.length > 0) throw new Error(`EdgeFleet ${name}: the edge deployment manifest would be rejected: ${problems.join('; ')}`);
        return m;
      });
    // The id hashes the content (which includes the password), but a 48-bit prefix of a SHA-256
    // reveals nothing of it; it must stay readable because it names the configuration in the hub.
    const configurationId = pulumi.unsecret(manifest.apply((m) => edgeDeploymentId(args.namePrefix, args.environment, m)));
    const deployment = new IotHubEdgeDeployment(
      `${name}-deployment`,
      {
        ...access,
        configurationId,
        content: manifest,
        targetCondition: args.edge.targetCondition,
        priority: args.edge.deploymentPriority,
        labels: args.labels,
      },
      hubOpts,
    );

    this.hubName = hub.name;
    this.hostName = hostName;
    this.deviceIds = pulumi.all(devices.map((d) => d.deviceId));
    this.deviceConnectionStrings = pulumi.secret(
      pulumi.all(devices.map((d) => pulumi.all([d.deviceId, d.connectionString]))).apply((pairs) => Object.fromEntries(pairs)),
    );
    this.manifestJson = pulumi.secret(manifest.apply((m) => JSON.stringify(m, null, 2)));
    this.deploymentId = deployment.configurationId;
    this.deviceApiKey = pulumi.secret(apiKey.result);
    this.registerOutputs({ hubName: this.hubName, hostName: this.hostName, deviceIds: this.deviceIds, deploymentId: this.deploymentId });
  }
}

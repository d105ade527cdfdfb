// IoT Edge device identities, with the twin tags the at-scale deployment targets, as a dynamic
// provider over the IoT Hub service REST API (ARM does not manage them). Authenticated with Microsoft
// Entra ID (iothub-client.ts): the deployer needs the IoT Hub data-plane role the stack grants it.
//
// Serialised by Pulumi into the state: provider methods use only function declarations of this file
// and the client modules (never an exported const of this file, which would drag @pulumi/pulumi along).
import * as pulumi from '@pulumi/pulumi';
import { hubFail, hubRequest, pickAccess, sameJson, isUnknown, type HubAccess } from './iothub-client';

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

/** Inputs of an IoT Edge device identity. */
export interface DeviceInputs extends HubAccess {
  deviceId: string;
  /** true for IoT Edge devices. */
  edgeEnabled: boolean;
  status: 'enabled' | 'disabled';
  /** Twin tags managed by the stack (the deployment's target condition matches them). */
  tags: Record<string, string | number | boolean>;
}

export interface DeviceOutputs extends DeviceInputs {
  etag: string;
  generationId: string;
  /** Secret. */
  primaryKey: string;
  /** Secret: what `iotedge config mp --connection-string` takes on the physical device. */
  connectionString: string;
}

interface HubDevice {
  deviceId: string;
  etag?: string;
  generationId?: string;
  status?: string;
  capabilities?: { iotEdge?: boolean };
  authentication?: { type?: string; symmetricKey?: { primaryKey?: string | null; secondaryKey?: string | null } };
}


function devicePath(deviceId: string): string {
  return `/devices/${encodeURIComponent(deviceId)}`;
}

function twinPath(deviceId: string): string {
  return `/twins/${encodeURIComponent(deviceId)}`;
}

function deviceOutputs(inputs: DeviceInputs, device: HubDevice): DeviceOutputs {
  const primaryKey = device.authentication?.symmetricKey?.primaryKey ?? '';
  return {
    ...inputs,
    etag: device.etag ?? '',
    generationId: device.generationId ?? '',
    primaryKey,
    connectionString: `HostName=${inputs.hostName};DeviceId=${inputs.deviceId};SharedAccessKey=${primaryKey}`,
  };
}

/** Sets the managed tags on the twin; tags managed before and no longer wanted are removed (null). */
async function patchTwinTags(
  access: HubAccess,
  deviceId: string,
  tags: Record<string, unknown>,
  previous: Record<string, unknown> = {},
): Promise<void> {
  const patch: Record<string, unknown> = {};
  for (const k of Object.keys(previous)) if (!(k in tags)) patch[k] = null;
  Object.assign(patch, tags);
  if (Object.keys(patch).length === 0) return;
  const res = await hubRequest(access, 'PATCH', twinPath(deviceId), { tags: patch }, { 'If-Match': '*' });
  if (res.status !== 200) hubFail(`setting twin tags of device ${deviceId}`, res);
}




/** CRUD of one device identity. Exported for tests, which drive it against a loopback server. */
export const deviceProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: DeviceInputs, news: DeviceInputs) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!isUnknown(news.deviceId) && !/^[A-Za-z0-9\-:.+%_#*?!(),=@$']{1,128}$/.test(String(news.deviceId))) {
      failures.push({ property: 'deviceId', reason: `"${news.deviceId}" is not a valid IoT Hub device id (1-128 letters, digits or -:.+%_#*?!(),=@$')` });
    }
    if (!isUnknown(news.status) && news.status !== 'enabled' && news.status !== 'disabled') {
      failures.push({ property: 'status', reason: `expected "enabled" or "disabled", got ${JSON.stringify(news.status)}` });
    }
    return { inputs: news, failures };
  },

  async create(inputs: DeviceInputs) {
    const access = pickAccess(inputs);
    // The first request after the deployer's data-plane role was granted waits for it to propagate.
    const res = await hubRequest(
      access,
      'PUT',
      devicePath(inputs.deviceId),
      {
        deviceId: inputs.deviceId,
        status: inputs.status,
        capabilities: { iotEdge: inputs.edgeEnabled },
        authentication: { type: 'sas', symmetricKey: { primaryKey: null, secondaryKey: null } },
      },
      {},
      true,
    );
    if (res.status === 409) {
      hubFail(`creating device ${inputs.deviceId} (it already exists; delete it or remove it from edgeDeviceIds)`, res);
    }
    if (res.status !== 200) hubFail(`creating device ${inputs.deviceId}`, res);
    await patchTwinTags(access, inputs.deviceId, inputs.tags);
    return { id: inputs.deviceId, outs: deviceOutputs(inputs, res.body as HubDevice) };
  },

  async read(id: string, props: DeviceOutputs) {
    const access = pickAccess(props);
    const res = await hubRequest(access, 'GET', devicePath(id));
    if (res.status === 404) return { id: '', props: {} };
    if (res.status !== 200) hubFail(`reading device ${id}`, res);
    const device = res.body as HubDevice;
    const twin = await hubRequest(access, 'GET', twinPath(id));
    if (twin.status !== 200) hubFail(`reading the twin of device ${id}`, twin);
    const allTags = ((twin.body as { tags?: Record<string, string | number | boolean> }).tags ?? {}) as Record<string, string | number | boolean>;
    // Only the tags this stack manages: tags others add to the twin are theirs.
    const tags: Record<string, string | number | boolean> = {};
    for (const k of Object.keys(props.tags ?? {})) if (k in allTags) tags[k] = allTags[k]!;
    const inputs: DeviceInputs = {
      ...pickAccess(props),
      deviceId: device.deviceId,
      edgeEnabled: Boolean(device.capabilities?.iotEdge),
      status: device.status === 'disabled' ? 'disabled' : 'enabled',
      tags,
    };
    return { id, props: deviceOutputs(inputs, device) };
  },

  async diff(_id: string, olds: DeviceOutputs, news: DeviceInputs) {
    const replaces: string[] = [];
    if (olds.deviceId !== news.deviceId) replaces.push('deviceId');
    if (olds.hostName !== news.hostName) replaces.push('hostName');
    const changed =
      replaces.length > 0 ||
      olds.edgeEnabled !== news.edgeEnabled ||
      olds.status !== news.status ||
      !sameJson(olds.tags, news.tags);
    // A new id or another hub never collides with the old identity: create the new one, then delete the old.
    return { changes: changed, replaces };
  },

  async update(id: string, olds: DeviceOutputs, news: DeviceInputs) {
    const access = pickAccess(news);
    let device: HubDevice;
    const current = await hubRequest(access, 'GET', devicePath(id));
    if (current.status !== 200) hubFail(`reading device ${id}`, current);
    device = current.body as HubDevice;
    if (Boolean(device.capabilities?.iotEdge) !== news.edgeEnabled || device.status !== news.status) {
      // A device PUT replaces the identity: send back its keys so they do not change.
      const res = await hubRequest(
        access,
        'PUT',
        devicePath(id),
        { ...device, status: news.status, capabilities: { ...device.capabilities, iotEdge: news.edgeEnabled } },
        { 'If-Match': `"${String(device.etag ?? '*').replace(/"/g, '')}"` },
      );
      if (res.status !== 200) hubFail(`updating device ${id}`, res);
      device = res.body as HubDevice;
    }
    if (!sameJson(olds.tags, news.tags)) await patchTwinTags(access, id, news.tags, olds.tags);
    return { outs: deviceOutputs(news, device) };
  },

  async delete(id: string, props: DeviceOutputs) {
    const res = await hubRequest(pickAccess(props), 'DELETE', devicePath(id), undefined, { 'If-Match': '*' });
    if (res.status !== 204 && res.status !== 200 && res.status !== 404) hubFail(`deleting device ${id}`, res);
  },
};

/** An IoT Edge device identity in the hub's registry, with the twin tags the edge deployment targets. */
export class IotHubDevice extends pulumi.dynamic.Resource {
  declare readonly deviceId: pulumi.Output<string>;
  declare readonly primaryKey: pulumi.Output<string>;
  declare readonly connectionString: pulumi.Output<string>;

  constructor(name: string, args: Inputs<DeviceInputs>, opts?: pulumi.CustomResourceOptions) {
    super(
      deviceProvider,
      name,
      { ...args, etag: undefined, generationId: undefined, primaryKey: undefined, connectionString: undefined },
      { ...opts, additionalSecretOutputs: ['primaryKey', 'connectionString'] },
      'iothub',
      'Device',
    );
  }
}

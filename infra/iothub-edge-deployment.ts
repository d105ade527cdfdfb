// The at-scale IoT Edge deployment (an IoT Hub configuration with modulesContent) as a dynamic
// provider over the IoT Hub service REST API, authenticated with Microsoft Entra ID (iothub-client.ts).
//
// Serialised by Pulumi into the state: see iothub-device.ts for the rules this file follows.
import * as pulumi from '@pulumi/pulumi';
import { hubFail, hubRequest, pickAccess, sameJson, isUnknown, type HubAccess } from './iothub-client';

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

export interface EdgeDeploymentInputs extends HubAccess {
  /** Carries a hash of the content: a new manifest is a new configuration (content is immutable). */
  configurationId: string;
  /** `{ modulesContent: {...} }`. Secret: it holds registry credentials. */
  content: { modulesContent: Record<string, unknown> };
  targetCondition: string;
  priority: number;
  labels: Record<string, string>;
}

export interface EdgeDeploymentOutputs extends EdgeDeploymentInputs {
  etag: string;
  createdTimeUtc: string;
}

interface HubConfiguration {
  id: string;
  etag?: string;
  createdTimeUtc?: string;
  labels?: Record<string, string> | null;
  targetCondition?: string;
  priority?: number;
  content?: unknown;
}

function configurationPath(id: string): string {
  return `/configurations/${encodeURIComponent(id)}`;
}

function configurationBody(inputs: EdgeDeploymentInputs, etag?: string): Record<string, unknown> {
  return {
    id: inputs.configurationId,
    schemaVersion: '1.0',
    labels: inputs.labels,
    content: inputs.content,
    targetCondition: inputs.targetCondition,
    priority: inputs.priority,
    ...(etag ? { etag } : {}),
  };
}

function deploymentOutputs(inputs: EdgeDeploymentInputs, c: HubConfiguration): EdgeDeploymentOutputs {
  return { ...inputs, etag: c.etag ?? '', createdTimeUtc: c.createdTimeUtc ?? '' };
}

/** CRUD of one at-scale edge deployment. Exported for tests, which drive it against a loopback server. */
export const edgeDeploymentProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: EdgeDeploymentInputs, news: EdgeDeploymentInputs) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!isUnknown(news.configurationId) && !/^[a-z0-9\-:+%_#*?!(),=@;$']{1,128}$/.test(String(news.configurationId))) {
      failures.push({ property: 'configurationId', reason: `"${news.configurationId}" is not a valid configuration id (lowercase, 1-128 chars)` });
    }
    if (!isUnknown(news.content) && (!news.content || typeof news.content !== 'object' || !news.content.modulesContent)) {
      failures.push({ property: 'content', reason: 'an edge deployment needs content.modulesContent' });
    }
    if (!isUnknown(news.priority) && (!Number.isInteger(news.priority) || news.priority < 0)) {
      failures.push({ property: 'priority', reason: `expected a non-negative integer, got ${JSON.stringify(news.priority)}` });
    }
    return { inputs: news, failures };
  },

  async create(inputs: EdgeDeploymentInputs) {
    const res = await hubRequest(pickAccess(inputs), 'PUT', configurationPath(inputs.configurationId), configurationBody(inputs), {}, true);
    if (res.status !== 200 && res.status !== 201) hubFail(`creating edge deployment ${inputs.configurationId}`, res);
    return { id: inputs.configurationId, outs: deploymentOutputs(inputs, res.body as HubConfiguration) };
  },

  async read(id: string, props: EdgeDeploymentOutputs) {
    const res = await hubRequest(pickAccess(props), 'GET', configurationPath(id));
    if (res.status === 404) return { id: '', props: {} };
    if (res.status !== 200) hubFail(`reading edge deployment ${id}`, res);
    const c = res.body as HubConfiguration;
    // Content cannot change in place, so the stored (secret) content stays; the mutable fields are refreshed.
    const inputs: EdgeDeploymentInputs = {
      ...props,
      targetCondition: c.targetCondition ?? '',
      priority: c.priority ?? 0,
      labels: c.labels ?? {},
    };
    delete (inputs as Partial<EdgeDeploymentOutputs>).etag;
    delete (inputs as Partial<EdgeDeploymentOutputs>).createdTimeUtc;
    return { id, props: deploymentOutputs(inputs, c) };
  },

  async diff(_id: string, olds: EdgeDeploymentOutputs, news: EdgeDeploymentInputs) {
    const replaces: string[] = [];
    if (olds.configurationId !== news.configurationId) replaces.push('configurationId');
    if (olds.hostName !== news.hostName) replaces.push('hostName');
    if (!sameJson(olds.content, news.content)) replaces.push('content');
    const changed =
      replaces.length > 0 ||
      olds.targetCondition !== news.targetCondition ||
      olds.priority !== news.priority ||
      !sameJson(olds.labels, news.labels);
    // Same id with new content cannot coexist with the old configuration: delete it first. With a new id
    // (the normal case, the id hashes the content) the new deployment is created before the old one goes,
    // and IoT Hub applies the newer of two equal-priority deployments, so devices move without a gap.
    const sameId = olds.configurationId === news.configurationId && olds.hostName === news.hostName;
    return { changes: changed, replaces, deleteBeforeReplace: replaces.length > 0 && sameId };
  },

  async update(id: string, _olds: EdgeDeploymentOutputs, news: EdgeDeploymentInputs) {
    // Only labels, targetCondition, priority (and metrics) may change in place; the content is sent unchanged.
    const access = pickAccess(news);
    const current = await hubRequest(access, 'GET', configurationPath(id));
    if (current.status !== 200) hubFail(`reading edge deployment ${id}`, current);
    const etag = (current.body as HubConfiguration).etag;
    const res = await hubRequest(access, 'PUT', configurationPath(id), configurationBody(news, etag), { 'If-Match': etag ? `"${etag}"` : '*' });
    if (res.status !== 200 && res.status !== 201) hubFail(`updating edge deployment ${id}`, res);
    return { outs: deploymentOutputs(news, res.body as HubConfiguration) };
  },

  async delete(id: string, props: EdgeDeploymentOutputs) {
    const res = await hubRequest(pickAccess(props), 'DELETE', configurationPath(id), undefined, { 'If-Match': '*' });
    if (res.status !== 204 && res.status !== 200 && res.status !== 404) hubFail(`deleting edge deployment ${id}`, res);
  },
};

/** An at-scale IoT Edge deployment (IoT Hub configuration) targeting devices by twin tags. */
export class IotHubEdgeDeployment extends pulumi.dynamic.Resource {
  declare readonly configurationId: pulumi.Output<string>;
  declare readonly etag: pulumi.Output<string>;

  constructor(name: string, args: Inputs<EdgeDeploymentInputs>, opts?: pulumi.CustomResourceOptions) {
    super(
      edgeDeploymentProvider,
      name,
      { ...args, content: pulumi.secret(args.content), etag: undefined, createdTimeUtc: undefined },
      { ...opts, additionalSecretOutputs: ['content'] },
      'iothub',
      'EdgeDeployment',
    );
  }
}

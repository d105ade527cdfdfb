// What both IoT Hub providers share: requests to the hub's service REST API (api-version 2021-04-12)
// through the Entra client, and the small helpers their diffs need. Serialised with the providers
// (see azure-client.ts): no top-level imports besides the client, no @pulumi/pulumi.
import { IOT_HUB_SCOPE, azureFail, azureRequest, type AzureResponse } from './azure-client';

/** How a provider reaches the hub: its host name (host[:port]; tests use a loopback server). */
export interface HubAccess {
  hostName: string;
}

/**
 * A data-plane role granted in the same `pulumi up` reaches IoT Hub within minutes; the first
 * request of a create waits for it this long before giving up.
 */
const ACCESS_PROPAGATION_MS = 10 * 60_000;

/** One call to the hub with an Entra token (audience https://iothubs.azure.net). */
export function hubRequest(
  access: HubAccess,
  method: 'GET' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  waitForAccess = false,
): Promise<AzureResponse> {
  const url = new URL(`https://${access.hostName}${path}`);
  url.searchParams.set('api-version', '2021-04-12');
  return azureRequest({ method, url: url.toString(), scope: IOT_HUB_SCOPE, body, headers, waitForAccessMs: waitForAccess ? ACCESS_PROPAGATION_MS : 0 });
}

export function hubFail(what: string, res: AzureResponse): never {
  azureFail('IoT Hub', what, res);
}

export function pickAccess(p: HubAccess): HubAccess {
  return { hostName: p.hostName };
}

/**
 * During previews Pulumi hands `check` the inputs it cannot know yet (e.g. a manifest holding an image
 * digest that is only known after the build) as this sentinel; validate only what is known.
 */
export function isUnknown(value: unknown): boolean {
  return value === '04da6b54-80e4-46f7-96ec-b56ff0331ba9';
}

export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v as Record<string, unknown>)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

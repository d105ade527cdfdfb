// The one HTTPS client of the stack's dynamic providers (IoT Hub identities and deployments, ACR token
// passwords): Microsoft Entra ID tokens from @azure/identity's DefaultAzureCredential (az login on a
// laptop; in CI the azure/login OIDC session; a workload or managed identity elsewhere) and Node's own
// fetch. No key is ever stored in the state, so a key rotation cannot break `pulumi up --refresh`
// (pulumi/pulumi#8265) and nothing in the state can connect a device.
//
// Pulumi serialises every function a provider reaches into the state and runs it in a separate
// process. So this module imports nothing at the top (packages are `require`d inside functions, which
// the provider host resolves from the project's node_modules) and never imports @pulumi/pulumi; the
// credential and the token cache live on globalThis so every resource in one provider process shares them.

/** Scope of Azure Resource Manager tokens (public cloud). */
export const ARM_SCOPE = 'https://management.azure.com/.default';
/** Scope of IoT Hub data-plane tokens (every hub, public cloud). */
export const IOT_HUB_SCOPE = 'https://iothubs.azure.net/.default';

export interface AzureResponse {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

export interface AzureRequest {
  method: 'GET' | 'PUT' | 'PATCH' | 'POST' | 'DELETE';
  url: string;
  /** Entra scope of the token the request carries. */
  scope: string;
  body?: unknown;
  headers?: Record<string, string>;
  /**
   * How long to keep retrying 401/403: a data-plane role granted a moment ago takes minutes to reach
   * the service ("up to 10 minutes", Azure RBAC troubleshooting). 0 = answer at once.
   */
  waitForAccessMs?: number;
}

interface TokenLike {
  token: string;
  expiresOnTimestamp: number;
}
interface CredentialLike {
  getToken(scope: string): Promise<TokenLike | null>;
}
interface ClientState {
  credential?: CredentialLike;
  tokens: Map<string, TokenLike>;
}

function clientState(): ClientState {
  const g = globalThis as { __modelDeployAzureClient?: ClientState };
  if (!g.__modelDeployAzureClient) g.__modelDeployAzureClient = { tokens: new Map() };
  return g.__modelDeployAzureClient;
}

/** A bearer token for `scope`, cached until five minutes before it expires. */
export async function accessToken(scope: string): Promise<string> {
  const state = clientState();
  const cached = state.tokens.get(scope);
  if (cached && cached.expiresOnTimestamp - Date.now() > 5 * 60_000) return cached.token;
  if (!state.credential) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const identity = require('@azure/identity') as typeof import('@azure/identity');
    state.credential = new identity.DefaultAzureCredential();
  }
  let token: TokenLike | null;
  try {
    token = await state.credential.getToken(scope);
  } catch (e) {
    const reason = String((e as Error)?.message ?? e).split('\n')[0]!.slice(0, 300);
    throw new Error(
      `Microsoft Entra ID: no token for ${scope} (${reason}). Sign in with \`az login\`, or in CI run azure/login with OIDC before pulumi.`,
    );
  }
  if (!token?.token) throw new Error(`Microsoft Entra ID: the credential returned no token for ${scope}.`);
  state.tokens.set(scope, token);
  return token.token;
}

/** Forgets cached tokens (a 401 may mean a token was revoked or its roles changed). */
export function forgetTokens(): void {
  clientState().tokens.clear();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One request with an Entra bearer token, retried on throttling and transient errors (429, 500, 503;
 * Retry-After honoured) and, when asked, on 401/403 while a new role assignment propagates. Resolves
 * with any other status: the caller decides what is an error. Never returns or logs the token.
 */
export async function azureRequest(req: AzureRequest): Promise<AzureResponse> {
  const started = Date.now();
  const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
  for (let attempt = 1; ; attempt++) {
    const token = await accessToken(req.scope);
    const res = await fetch(req.url, {
      method: req.method,
      headers: {
        Authorization: `Bearer ${token}`,
        Accept: 'application/json',
        ...(payload !== undefined ? { 'Content-Type': 'application/json; charset=utf-8' } : {}),
        ...req.headers,
      },
      body: payload,
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // keep the text: error pages are not always JSON
    }
    const answer: AzureResponse = { status: res.status, body, headers: Object.fromEntries(res.headers) };
    const transient = res.status === 429 || res.status === 500 || res.status === 503;
    const denied = res.status === 401 || res.status === 403;
    if (transient && attempt < 5) {
      const retryAfter = Number(answer.headers['retry-after']);
      await sleep(Number.isFinite(retryAfter) ? Math.min(retryAfter, 30) * 1000 : Math.min(500 * 2 ** attempt, 15_000));
      continue;
    }
    if (denied && Date.now() - started < (req.waitForAccessMs ?? 0)) {
      forgetTokens();
      await sleep(Math.min(1000 * 2 ** attempt, 30_000));
      continue;
    }
    return answer;
  }
}

/** Throws a readable error for an unexpected status: the service's own code and message, no token. */
export function azureFail(service: string, what: string, res: AzureResponse): never {
  const b = res.body as { error?: { code?: string; message?: string }; Message?: unknown; message?: unknown } | string | undefined;
  let detail = '';
  if (typeof b === 'string') detail = b;
  else if (b?.error) detail = `${b.error.code ?? ''} ${b.error.message ?? ''}`.trim();
  else if (b) detail = String(b.Message ?? b.message ?? '');
  detail = detail.replace(/Bearer\s+[\w.~+/=-]+/gi, 'Bearer [redacted]').slice(0, 400);
  throw new Error(`${service}: ${what} failed with HTTP ${res.status}${detail ? `: ${detail}` : ''}`);
}

function header(res: AzureResponse, name: string): string | undefined {
  return res.headers[name];
}

/**
 * Runs an ARM action to completion: 200 carries the result; 201/202 is a long-running operation,
 * polled through Azure-AsyncOperation (status document) and/or Location (final result).
 */
export async function armAction(url: string, what: string, body: unknown, timeoutMs = 300_000): Promise<unknown> {
  const started = Date.now();
  const first = await azureRequest({ method: 'POST', url, scope: ARM_SCOPE, body });
  if (first.status === 200) return first.body;
  if (first.status !== 201 && first.status !== 202) azureFail('Azure Resource Manager', what, first);
  const asyncUrl = header(first, 'azure-asyncoperation');
  let location = header(first, 'location');
  let last = first;
  const pause = async (res: AzureResponse) => {
    if (Date.now() - started > timeoutMs) throw new Error(`Azure Resource Manager: ${what} did not finish within ${timeoutMs / 1000} s`);
    const s = Number(header(res, 'retry-after'));
    await new Promise((r) => setTimeout(r, (Number.isFinite(s) ? Math.min(s, 30) : 2) * 1000));
  };
  if (asyncUrl) {
    for (;;) {
      await pause(last);
      last = await azureRequest({ method: 'GET', url: asyncUrl, scope: ARM_SCOPE });
      if (last.status !== 200) azureFail('Azure Resource Manager', `polling ${what}`, last);
      const status = String((last.body as { status?: string })?.status ?? '');
      if (status === 'Succeeded') break;
      if (status === 'Failed' || status === 'Canceled') {
        const err = (last.body as { error?: { code?: string; message?: string } }).error;
        throw new Error(`Azure Resource Manager: ${what} ended ${status}${err ? `: ${err.code ?? ''} ${err.message ?? ''}`.trimEnd() : ''}`);
      }
    }
    location = header(last, 'location') ?? location;
    if (!location) return undefined;
  }
  if (!location) azureFail('Azure Resource Manager', `${what} (no Location to poll)`, first);
  for (;;) {
    const res = await azureRequest({ method: 'GET', url: location, scope: ARM_SCOPE });
    if (res.status === 200) return res.body;
    if (res.status !== 202) azureFail('Azure Resource Manager', `polling ${what}`, res);
    last = res;
    await pause(last);
  }
}

// A password for an Azure Container Registry token (repository-scoped credentials). ARM only lets the
// registry generate the value (POST .../registries/<name>/generateCredentials, a long-running operation)
// and azure-native has no resource for it (pulumi/pulumi-azure-native#3099), so this dynamic provider
// calls that action with the deploying identity's ARM token.
//
// Serialised by Pulumi into the state: self-contained, function declarations only, `require` inside.
import * as pulumi from '@pulumi/pulumi';

export interface TokenPasswordInputs {
  /** ARM endpoint, e.g. https://management.azure.com (sovereign clouds differ; tests use loopback). */
  armEndpoint: string;
  /** Bearer token for ARM (from authorization.getClientToken). Secret; only used while creating. */
  armToken: string;
  /** Resource id of the registry. */
  registryId: string;
  /** Resource id of the token the password belongs to. */
  tokenId: string;
  passwordName: 'password1' | 'password2';
  /** Optional ISO-8601 expiry of the password; empty = never expires. */
  expiry: string;
}

export interface TokenPasswordOutputs extends Omit<TokenPasswordInputs, 'armToken'> {
  /** The token name: the user name for `docker login`. */
  username: string;
  /** Secret. */
  password: string;
  creationTime: string;
}

interface ArmResponse {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

export async function armRequest(method: 'GET' | 'POST', url: string, token: string, body?: unknown): Promise<ArmResponse> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const https = require('https') as typeof import('https');
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise<ArmResponse>((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          Accept: 'application/json',
          ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}),
        },
        timeout: 60_000,
      },
      (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON
          }
          resolve({ status: r.statusCode ?? 0, body: parsed, headers: r.headers });
        });
        r.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`ARM ${method} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function armFail(what: string, res: ArmResponse): never {
  const b = res.body as { error?: { code?: string; message?: string } } | string | undefined;
  const detail = typeof b === 'string' ? b.slice(0, 300) : b?.error ? `${b.error.code ?? ''} ${b.error.message ?? ''}`.trim() : '';
  throw new Error(`Azure Resource Manager: ${what} failed with HTTP ${res.status}${detail ? `: ${detail}` : ''}`);
}

function header(res: ArmResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Runs an ARM action to completion: 200 carries the result; 201/202 is a long-running operation,
 * polled through Azure-AsyncOperation (status document) and/or Location (final result).
 */
export async function armAction(url: string, token: string, body: unknown, timeoutMs = 300_000): Promise<unknown> {
  const started = Date.now();
  const first = await armRequest('POST', url, token, body);
  if (first.status === 200) return first.body;
  if (first.status !== 201 && first.status !== 202) armFail('generateCredentials', first);
  const asyncUrl = header(first, 'azure-asyncoperation');
  let location = header(first, 'location');
  let last = first;
  const pause = async (res: ArmResponse) => {
    if (Date.now() - started > timeoutMs) throw new Error(`Azure Resource Manager: generateCredentials did not finish within ${timeoutMs / 1000} s`);
    const s = Number(header(res, 'retry-after'));
    await new Promise((r) => setTimeout(r, (Number.isFinite(s) ? Math.min(s, 30) : 2) * 1000));
  };
  if (asyncUrl) {
    for (;;) {
      await pause(last);
      last = await armRequest('GET', asyncUrl, token);
      if (last.status !== 200) armFail('polling generateCredentials', last);
      const status = String((last.body as { status?: string })?.status ?? '');
      if (status === 'Succeeded') break;
      if (status === 'Failed' || status === 'Canceled') {
        const err = (last.body as { error?: { code?: string; message?: string } }).error;
        throw new Error(`Azure Resource Manager: generateCredentials ended ${status}${err ? `: ${err.code ?? ''} ${err.message ?? ''}`.trimEnd() : ''}`);
      }
    }
    location = header(last, 'location') ?? location;
    if (!location) return undefined;
  }
  if (!location) armFail('generateCredentials (no Location to poll)', first);
  for (;;) {
    const res = await armRequest('GET', location, token);
    if (res.status === 200) return res.body;
    if (res.status !== 202) armFail('polling generateCredentials', res);
    last = res;
    await pause(last);
  }
}

interface GenerateCredentialsResult {
  username?: string;
  passwords?: Array<{ name?: string; value?: string; creationTime?: string; expiry?: string }>;
}

function withoutToken(inputs: TokenPasswordInputs): Omit<TokenPasswordInputs, 'armToken'> {
  const { armToken: _armToken, ...rest } = inputs;
  return rest;
}

/**
 * Create generates the password; nothing else calls Azure. There is no read: ARM never returns a
 * password value again (refresh keeps the stored one). Delete does nothing: the password dies with its
 * token, and re-generating replaces the value in place.
 */
export const tokenPasswordProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: TokenPasswordInputs) {
    const url = `${inputs.armEndpoint.replace(/\/$/, '')}${inputs.registryId}/generateCredentials?api-version=2023-07-01`;
    const result = (await armAction(url, inputs.armToken, {
      tokenId: inputs.tokenId,
      name: inputs.passwordName,
      ...(inputs.expiry ? { expiry: inputs.expiry } : {}),
    })) as GenerateCredentialsResult | undefined;
    const pw = result?.passwords?.find((p) => p.name === inputs.passwordName);
    if (!result?.username || !pw?.value) {
      throw new Error(`Azure Resource Manager: generateCredentials returned no ${inputs.passwordName} for token ${inputs.tokenId}`);
    }
    const outs: TokenPasswordOutputs = {
      ...withoutToken(inputs),
      username: result.username,
      password: pw.value,
      creationTime: pw.creationTime ?? '',
    };
    return { id: `${inputs.tokenId}/${inputs.passwordName}`, outs };
  },

  async diff(_id: string, olds: TokenPasswordOutputs, news: TokenPasswordInputs) {
    // The ARM token changes on every run and is not part of the password's identity.
    const replaces = (['armEndpoint', 'registryId', 'tokenId', 'passwordName', 'expiry'] as const).filter((k) => olds[k] !== news[k]);
    return { changes: replaces.length > 0, replaces };
  },

  async delete() {
    // Nothing to do (see above).
  },
};

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

/** A generated password of an ACR token; `username` + `password` log in to the registry with the token's scope. */
export class AcrTokenPassword extends pulumi.dynamic.Resource {
  declare readonly username: pulumi.Output<string>;
  declare readonly password: pulumi.Output<string>;

  constructor(name: string, args: Inputs<TokenPasswordInputs>, opts?: pulumi.CustomResourceOptions) {
    super(
      tokenPasswordProvider,
      name,
      { ...args, armToken: pulumi.secret(args.armToken), username: undefined, password: undefined, creationTime: undefined },
      { ...opts, additionalSecretOutputs: ['password'] },
      'containerregistry',
      'TokenPassword',
    );
  }
}

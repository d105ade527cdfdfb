// A password for an Azure Container Registry token (repository-scoped credentials). ARM only lets the
// registry generate the value (POST .../registries/<name>/generateCredentials, a long-running operation)
// and azure-native has no resource for it (pulumi/pulumi-azure-native#3099), so this dynamic provider
// calls that action as the deploying identity (Microsoft Entra token through azure-client.ts).
//
// Serialised by Pulumi into the state: provider methods use only function declarations of this file
// and the client module.
import * as pulumi from '@pulumi/pulumi';
import { ARM_SCOPE, azureFail, azureRequest, type AzureResponse } from './azure-client';

export interface TokenPasswordInputs {
  /** ARM endpoint, e.g. https://management.azure.com (tests use loopback). */
  armEndpoint: string;
  /** Resource id of the registry. */
  registryId: string;
  /** Resource id of the token the password belongs to. */
  tokenId: string;
  /**
   * The token's creation time: a token deleted and created again under the same id has lost its
   * passwords, so a new creation time means a new password.
   */
  tokenCreated: string;
  passwordName: 'password1' | 'password2';
  /** Optional ISO-8601 expiry of the password; empty = never expires. */
  expiry: string;
}

export interface TokenPasswordOutputs extends TokenPasswordInputs {
  /** The token name: the user name for `docker login`. */
  username: string;
  /** Secret. */
  password: string;
  creationTime: string;
}

function header(res: AzureResponse, name: string): string | undefined {
  return res.headers[name];
}

/**
 * Runs an ARM action to completion: 200 carries the result; 201/202 is a long-running operation,
 * polled through Azure-AsyncOperation (status document) and/or Location (final result).
 */
export async function armAction(url: string, body: unknown, timeoutMs = 300_000): Promise<unknown> {
  const started = Date.now();
  const first = await azureRequest({ method: 'POST', url, scope: ARM_SCOPE, body });
  if (first.status === 200) return first.body;
  if (first.status !== 201 && first.status !== 202) azureFail('Azure Resource Manager', 'generateCredentials', first);
  const asyncUrl = header(first, 'azure-asyncoperation');
  let location = header(first, 'location');
  let last = first;
  const pause = async (res: AzureResponse) => {
    if (Date.now() - started > timeoutMs) throw new Error(`Azure Resource Manager: generateCredentials did not finish within ${timeoutMs / 1000} s`);
    const s = Number(header(res, 'retry-after'));
    await new Promise((r) => setTimeout(r, (Number.isFinite(s) ? Math.min(s, 30) : 2) * 1000));
  };
  if (asyncUrl) {
    for (;;) {
      await pause(last);
      last = await azureRequest({ method: 'GET', url: asyncUrl, scope: ARM_SCOPE });
      if (last.status !== 200) azureFail('Azure Resource Manager', 'polling generateCredentials', last);
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
  if (!location) azureFail('Azure Resource Manager', 'generateCredentials (no Location to poll)', first);
  for (;;) {
    const res = await azureRequest({ method: 'GET', url: location, scope: ARM_SCOPE });
    if (res.status === 200) return res.body;
    if (res.status !== 202) azureFail('Azure Resource Manager', 'polling generateCredentials', res);
    last = res;
    await pause(last);
  }
}

interface GenerateCredentialsResult {
  username?: string;
  passwords?: Array<{ name?: string; value?: string; creationTime?: string; expiry?: string }>;
}

/**
 * Create generates the password; nothing else calls Azure. There is no read: ARM never returns a
 * password value again (refresh keeps the stored one). Delete does nothing: the password dies with its
 * token, and re-generating replaces the value in place.
 */
export const tokenPasswordProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: TokenPasswordInputs) {
    const url = `${inputs.armEndpoint.replace(/\/$/, '')}${inputs.registryId}/generateCredentials?api-version=2023-07-01`;
    const result = (await armAction(url, {
      tokenId: inputs.tokenId,
      name: inputs.passwordName,
      ...(inputs.expiry ? { expiry: inputs.expiry } : {}),
    })) as GenerateCredentialsResult | undefined;
    const pw = result?.passwords?.find((p) => p.name === inputs.passwordName);
    if (!result?.username || !pw?.value) {
      throw new Error(`Azure Resource Manager: generateCredentials returned no ${inputs.passwordName} for token ${inputs.tokenId}`);
    }
    const outs: TokenPasswordOutputs = {
      ...inputs,
      username: result.username,
      password: pw.value,
      creationTime: pw.creationTime ?? '',
    };
    return { id: `${inputs.tokenId}/${inputs.passwordName}`, outs };
  },

  async diff(_id: string, olds: TokenPasswordOutputs, news: TokenPasswordInputs) {
    // Any change is a new password: Pulumi creates it before "deleting" the old one (a no-op), so the old
    // password keeps working until its own expiry while the new one rolls out: no pull outage.
    const replaces = (['armEndpoint', 'registryId', 'tokenId', 'tokenCreated', 'passwordName', 'expiry'] as const).filter((k) => olds[k] !== news[k]);
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
      { ...args, username: undefined, password: undefined, creationTime: undefined },
      { ...opts, additionalSecretOutputs: ['password'] },
      'containerregistry',
      'TokenPassword',
    );
  }
}

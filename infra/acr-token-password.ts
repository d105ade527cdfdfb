// A password for an Azure Container Registry token (repository-scoped credentials). ARM only lets the
// registry generate the value (POST .../registries/<name>/generateCredentials, a long-running operation)
// and azure-native has no resource for it (pulumi/pulumi-azure-native#3099), so this dynamic provider
// calls that action as the deploying identity (Microsoft Entra token through azure-client.ts).
//
// Serialised by Pulumi into the state: provider methods use only function declarations of this file
// and the client module.
import * as pulumi from '@pulumi/pulumi';
import { armAction } from './azure-client';

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
    const result = (await armAction(url, 'generateCredentials', {
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

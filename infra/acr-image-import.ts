// Promotion: an image tested in one registry (dev's) imported by digest into another (prod's), through
// ARM's registries/importImage action (a long-running operation) as the deploying identity. Importing
// copies the manifest, so the digest prod runs is the digest dev tested; nothing is rebuilt. azure-native
// has no resource for this action, hence a dynamic provider.
//
// Serialised by Pulumi into the state: provider methods use only function declarations of this file
// and the client module.
import * as pulumi from '@pulumi/pulumi';
import { armAction } from './azure-client';

export interface ImageImportInputs {
  /** ARM endpoint, e.g. https://management.azure.com (tests use loopback). */
  armEndpoint: string;
  /** Resource id of the registry the image is imported into. */
  registryId: string;
  /** Its login server, e.g. crprod.azurecr.io. */
  loginServer: string;
  /** Resource id of the registry holding the tested image (the deployer needs AcrPull on it). */
  sourceRegistryId: string;
  repository: string;
  /** sha256:<64 hex>. */
  digest: string;
  /** Tag given to the imported image, for humans browsing the registry. */
  tag: string;
}

export interface ImageImportOutputs extends ImageImportInputs {
  /** `<loginServer>/<repository>@<digest>`: what workloads run. */
  image: string;
}

export const imageImportProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: ImageImportInputs, news: ImageImportInputs) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (typeof news.digest === 'string' && !/^sha256:[0-9a-f]{64}$/.test(news.digest) && news.digest !== '04da6b54-80e4-46f7-96ec-b56ff0331ba9') {
      failures.push({ property: 'digest', reason: `"${news.digest}" is not a sha256 digest (sha256:<64 hex digits>)` });
    }
    return { inputs: news, failures };
  },

  async create(inputs: ImageImportInputs) {
    const url = `${inputs.armEndpoint.replace(/\/$/, '')}${inputs.registryId}/importImage?api-version=2023-07-01`;
    await armAction(url, 'importImage', {
      source: { resourceId: inputs.sourceRegistryId, sourceImage: `${inputs.repository}@${inputs.digest}` },
      targetTags: [`${inputs.repository}:${inputs.tag}`],
      // The tag may name the previous release; the digest reference is what runs.
      mode: 'Force',
    });
    const outs: ImageImportOutputs = { ...inputs, image: `${inputs.loginServer}/${inputs.repository}@${inputs.digest}` };
    return { id: `${inputs.registryId}/${inputs.repository}@${inputs.digest}`, outs };
  },

  async diff(_id: string, olds: ImageImportOutputs, news: ImageImportInputs) {
    const replaces = (['armEndpoint', 'registryId', 'loginServer', 'sourceRegistryId', 'repository', 'digest', 'tag'] as const).filter((k) => olds[k] !== news[k]);
    return { changes: replaces.length > 0, replaces };
  },

  async delete() {
    // Images stay in the registry: a rollback may need them (the registry's retention policy prunes).
  },
};

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

/** An image imported by digest from another registry. */
export class AcrImageImport extends pulumi.dynamic.Resource {
  declare readonly image: pulumi.Output<string>;

  constructor(name: string, args: Inputs<ImageImportInputs>, opts?: pulumi.CustomResourceOptions) {
    super(imageImportProvider, name, { ...args, image: undefined }, opts, 'containerregistry', 'ImageImport');
  }
}

// The model registry of record: a locked-down storage account with a private container holding the
// exact model file and card the images were built from, labelled with the card's version and sha256,
// with blob versioning and soft delete on.
import * as pulumi from '@pulumi/pulumi';
import * as storage from '@pulumi/azure-native/storage';
import { join } from 'node:path';
import type { ModelCardSummary } from './model-card';

/** Days a deleted model blob or container can be restored. */
export const SOFT_DELETE_DAYS = 30;

export interface ModelStoreArgs {
  resourceGroupName: pulumi.Input<string>;
  location: pulumi.Input<string>;
  /** Physical account name (3-24 lowercase alphanumerics, globally unique). */
  accountName: pulumi.Input<string>;
  sku: string;
  /**
   * The folder holding the model file and card.json, relative to the project directory Pulumi runs in
   * (relative asset paths keep the state identical on every machine).
   */
  modelDir: string;
  card: ModelCardSummary;
  tags: Record<string, string>;
}

export class ModelStore extends pulumi.ComponentResource {
  readonly accountName: pulumi.Output<string>;
  readonly containerName: pulumi.Output<string>;
  /** Blob URL of the model file (private: needs Azure AD or a SAS to read). */
  readonly modelBlobUrl: pulumi.Output<string>;

  constructor(name: string, args: ModelStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super('model-deploy:infra:ModelStore', name, {}, opts);
    const account = new storage.StorageAccount(
      `${name}-account`,
      {
        accountName: args.accountName,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        kind: 'StorageV2',
        sku: { name: args.sku },
        enableHttpsTrafficOnly: true,
        minimumTlsVersion: 'TLS1_2',
        allowBlobPublicAccess: false,
        allowCrossTenantReplication: false,
        encryption: {
          keySource: 'Microsoft.Storage',
          services: { blob: { enabled: true, keyType: 'Account' } },
        },
        tags: args.tags,
      },
      { parent: this },
    );
    // The registry of record keeps what it held: overwriting a blob keeps the old bytes as a version,
    // and a deleted blob or container can be restored for SOFT_DELETE_DAYS.
    new storage.BlobServiceProperties(
      `${name}-blob-service`,
      {
        accountName: account.name,
        resourceGroupName: args.resourceGroupName,
        blobServicesName: 'default',
        isVersioningEnabled: true,
        deleteRetentionPolicy: { enabled: true, days: SOFT_DELETE_DAYS },
        containerDeleteRetentionPolicy: { enabled: true, days: SOFT_DELETE_DAYS },
      },
      { parent: this },
    );
    const container = new storage.BlobContainer(
      `${name}-models`,
      {
        containerName: 'models',
        accountName: account.name,
        resourceGroupName: args.resourceGroupName,
        publicAccess: 'None',
      },
      { parent: this },
    );
    // One folder per model version: a new version never overwrites what an older deployment used.
    const prefix = `${args.card.name}/${args.card.version}`;
    const metadata = { modelName: args.card.name, modelVersion: args.card.version, sha256: args.card.sha256 };
    const model = new storage.Blob(
      `${name}-model-file`,
      {
        blobName: `${prefix}/${args.card.file}`,
        accountName: account.name,
        containerName: container.name,
        resourceGroupName: args.resourceGroupName,
        type: 'Block',
        contentType: 'application/octet-stream',
        source: new pulumi.asset.FileAsset(join(args.modelDir, args.card.file)),
        metadata,
      },
      { parent: this },
    );
    new storage.Blob(
      `${name}-model-card`,
      {
        blobName: `${prefix}/card.json`,
        accountName: account.name,
        containerName: container.name,
        resourceGroupName: args.resourceGroupName,
        type: 'Block',
        contentType: 'application/json',
        source: new pulumi.asset.FileAsset(join(args.modelDir, 'card.json')),
        metadata,
      },
      { parent: this },
    );
    this.accountName = account.name;
    this.containerName = container.name;
    this.modelBlobUrl = model.url;
    this.registerOutputs({ accountName: this.accountName, containerName: this.containerName, modelBlobUrl: this.modelBlobUrl });
  }
}

// The model registry of record: a locked-down storage account with a private container holding every
// file of the model folder the images were built from, under <name>/<revision>/ (the revision carries
// the folder's content hash), labelled with the model's name, version and hashes, with blob versioning
// and soft delete on.
import * as pulumi from '@pulumi/pulumi';
import * as storage from '@pulumi/azure-native/storage';
import { join } from 'node:path';
import type { ModelFolder } from './model-folder';

/** Days a deleted model blob or container can be restored. */
export const SOFT_DELETE_DAYS = 30;

export interface ModelStoreArgs {
  resourceGroupName: pulumi.Input<string>;
  location: pulumi.Input<string>;
  /** Physical account name (3-24 lowercase alphanumerics, globally unique). */
  accountName: pulumi.Input<string>;
  sku: string;
  /**
   * The model folder (its `dir` relative to the project directory Pulumi runs in: relative asset paths
   * keep the state identical on every machine); every one of its files is uploaded.
   */
  model: ModelFolder;
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
    // One folder per model revision: a new version or new bytes never overwrite what an older deployment used.
    const m = args.model;
    const prefix = `${m.name}/${m.revision}`;
    let modelBlob: storage.Blob | undefined;
    for (const file of m.files) {
      const blob = new storage.Blob(
        `${name}-file-${file.path}`,
        {
          blobName: `${prefix}/${file.path}`,
          accountName: account.name,
          containerName: container.name,
          resourceGroupName: args.resourceGroupName,
          type: 'Block',
          contentType: contentTypeOf(file.path),
          source: new pulumi.asset.FileAsset(join(m.dir, file.path)),
          metadata: { modelName: m.name, modelVersion: m.version, modelContentSha256: m.contentSha256, sha256: file.sha256 },
        },
        { parent: this },
      );
      if (file.path === m.modelFile) modelBlob = blob;
    }
    if (modelBlob === undefined) throw new Error(`ModelStore ${name}: the model file ${m.modelFile} is not among the folder's files (${m.files.map((f) => f.path).join(', ')}).`);
    this.accountName = account.name;
    this.containerName = container.name;
    this.modelBlobUrl = modelBlob.url;
    this.registerOutputs({ accountName: this.accountName, containerName: this.containerName, modelBlobUrl: this.modelBlobUrl });
  }
}

/** Content type of a model folder's file, by extension (the only kinds a model folder carries). */
export function contentTypeOf(path: string): string {
  if (path.endsWith('.json')) return 'application/json';
  if (path.endsWith('.txt')) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}

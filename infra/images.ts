// The two application images, built from the one Dockerfile at the repository root (APP picks the app,
// MODEL_DIR the model folder; build context = repository root) and pushed to the registry; everything downstream references them by digest, so a deployment
// always runs exactly the bytes that were pushed.
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import * as docker from '@pulumi/docker';
import type { RegistryCredentialsOutput } from './registry';

export interface ImageSpec {
  /** Repository in the registry, e.g. scoring-service. */
  repository: string;
  /** The Dockerfile's APP build argument. */
  app: 'scoring-service' | 'edge-module';
  /** e.g. linux/amd64 */
  platform: string;
}

export interface ContainerImagesArgs {
  /**
   * The repository root (the build context and the Dockerfile's folder), relative to the project directory
   * Pulumi runs in: relative paths keep the state identical on every machine (laptop, CI runner).
   */
  context: string;
  registry: RegistryCredentialsOutput;
  /** Tag pushed alongside the digest (the model version), for humans browsing the registry. */
  tag: string;
  /** Build arguments common to both images (MODEL_DIR: the model folder, relative to the context). */
  buildArgs: Record<string, string>;
  images: Record<'scoring' | 'edge', ImageSpec>;
}

/** `<server>/<repository>@sha256:…` from the repoDigest docker reports (which may carry the tag too). */
export function digestReference(server: string, repository: string, repoDigest: string): string {
  const at = repoDigest.lastIndexOf('@');
  const digest = at >= 0 ? repoDigest.slice(at + 1) : '';
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) {
    throw new Error(`The pushed image ${server}/${repository} has no sha256 digest (got "${repoDigest}").`);
  }
  return `${server}/${repository}@${digest}`;
}

export class ContainerImages extends pulumi.ComponentResource {
  /** Image references by digest, e.g. myacr.azurecr.io/scoring-service@sha256:… */
  readonly scoringImage: pulumi.Output<string>;
  readonly edgeImage: pulumi.Output<string>;

  constructor(name: string, args: ContainerImagesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('model-deploy:infra:ContainerImages', name, {}, opts);
    const build = (key: 'scoring' | 'edge'): pulumi.Output<string> => {
      const spec = args.images[key];
      const image = new docker.Image(
        `${name}-${key}`,
        {
          imageName: pulumi.interpolate`${args.registry.server}/${spec.repository}:${args.tag}`,
          build: {
            // The Dockerfile uses BuildKit features (cache mounts, --platform=$BUILDPLATFORM).
            builderVersion: 'BuilderBuildKit',
            context: args.context,
            // Relative to the project directory (docker provider >= 4.0.1), i.e. inside the context.
            dockerfile: path.join(args.context, 'Dockerfile'),
            platform: spec.platform,
            args: { ...args.buildArgs, APP: spec.app },
          },
          registry: { server: args.registry.server, username: args.registry.username, password: args.registry.password },
          // Previews (pull requests) do not build or push.
          buildOnPreview: false,
        },
        { parent: this },
      );
      return pulumi.all([args.registry.server, image.repoDigest]).apply(([server, repoDigest]) => digestReference(server, spec.repository, repoDigest));
    };
    this.scoringImage = build('scoring');
    this.edgeImage = build('edge');
    this.registerOutputs({ scoringImage: this.scoringImage, edgeImage: this.edgeImage });
  }
}

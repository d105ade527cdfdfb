// Prod as the deploy workflow runs it: with the digests dev tested (promote* config), the stack imports
// those images into prod's registry by digest and builds nothing, so prod runs exactly what dev ran.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PROJECT, runStack, type StackRun } from './harness';

const DEV_REGISTRY = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-mdeploy-dev-a1b2c3/providers/Microsoft.ContainerRegistry/registries/crmdeploydeva1b2c3';
const SCORING = `sha256:${'1'.repeat(64)}`;
const EDGE = `sha256:${'2'.repeat(64)}`;

describe('stack prod promoting the images dev tested', () => {
  let run: StackRun;
  before(async () => {
    run = await runStack('prod', {
      [`${PROJECT}:promoteFromRegistryId`]: DEV_REGISTRY,
      [`${PROJECT}:promoteScoringImageDigest`]: SCORING,
      [`${PROJECT}:promoteEdgeImageDigest`]: EDGE,
    });
  });

  test('nothing is built', () => {
    assert.deepEqual(run.byType('docker:index/image:Image'), []);
  });

  test('both images are imported by digest from the dev registry into the prod registry', () => {
    const imports = run.byType('pulumi-nodejs:dynamic/containerregistry:ImageImport').map((r) => r.inputs);
    assert.deepEqual(imports.map((i) => [i.repository, i.digest, i.sourceRegistryId]).sort(), [
      ['edge-module', EDGE, DEV_REGISTRY],
      ['scoring-service', SCORING, DEV_REGISTRY],
    ]);
    const prodServer = String(run.outputs.registryLoginServer);
    assert.match(prodServer, /^crmdeployprod/);
    for (const i of imports) assert.equal(i.loginServer, prodServer);
  });

  test('the workloads run those digests from the prod registry', () => {
    const server = String(run.outputs.registryLoginServer);
    assert.equal(run.outputs.scoringImage, `${server}/scoring-service@${SCORING}`);
    assert.equal(run.outputs.edgeImage, `${server}/edge-module@${EDGE}`);
    const deployment = run.resources.find((r) => r.type === 'kubernetes:apps/v1:Deployment')!;
    assert.equal(deployment.inputs.spec.template.spec.containers[0].image, `${server}/scoring-service@${SCORING}`);
    assert.match(String(run.outputs.edgeDeploymentManifest), new RegExp(`edge-module@${EDGE}`));
  });
});

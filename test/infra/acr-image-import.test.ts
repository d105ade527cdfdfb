// The image-promotion provider against a loopback HTTPS server playing ARM's registries/importImage
// action (202 + Location, polled to 200), with an Entra token whose audience ARM checks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { imageImportProvider, type ImageImportInputs, type ImageImportOutputs } from '../../infra/acr-image-import';
import { FakeEntra } from './fake-entra';
import { FakeArm, REGISTRY_ID } from './fake-arm';
import { inTrustingProcess } from './tls';

const cert = inTrustingProcess(__filename);
if (cert) {
  describe('ACR image import (promotion by digest)', () => {
    const entra = new FakeEntra(cert);
    const arm = new FakeArm(cert, entra);
    const digest = `sha256:${'ab'.repeat(32)}`;
    const inputs = (over: Partial<ImageImportInputs> = {}): ImageImportInputs => ({
      armEndpoint: arm.base,
      registryId: REGISTRY_ID,
      loginServer: 'crmdeployprod.azurecr.io',
      sourceRegistryId: '/subscriptions/s/resourceGroups/rg-dev/providers/Microsoft.ContainerRegistry/registries/crmdeploydev',
      repository: 'scoring-service',
      digest,
      tag: '1.0.0',
      ...over,
    });
    before(async () => {
      await entra.start();
      entra.useInProcess();
      await arm.start();
    });
    after(async () => {
      await arm.stop();
      await entra.stop();
    });

    test('create imports repository@digest from the source registry and answers the digest reference', async () => {
      const r = await imageImportProvider.create!(inputs());
      assert.equal((r.outs as ImageImportOutputs).image, `crmdeployprod.azurecr.io/scoring-service@${digest}`);
      assert.deepEqual(arm.imports, [{ source: { resourceId: inputs().sourceRegistryId, sourceImage: `scoring-service@${digest}` }, targetTags: ['scoring-service:1.0.0'], mode: 'Force' }]);
      assert.ok(arm.requests.every((q) => q.authProblem === undefined), 'every request carried a valid ARM token');
    });

    test('check refuses a tag or a short digest; diff replaces when the digest changes', async () => {
      const c = await imageImportProvider.check!({}, inputs({ digest: 'latest' }));
      assert.equal(c.failures?.[0]?.property, 'digest');
      const olds = { ...inputs(), image: 'x' };
      assert.deepEqual(await imageImportProvider.diff!('id', olds, inputs({ digest: `sha256:${'cd'.repeat(32)}` })), { changes: true, replaces: ['digest'] });
      assert.deepEqual(await imageImportProvider.diff!('id', olds, inputs()), { changes: false, replaces: [] });
    });
  });
}

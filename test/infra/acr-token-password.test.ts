// The ACR token-password provider against a loopback HTTPS server playing Azure Resource Manager's
// generateCredentials action, in each of the shapes ARM answers a long-running operation with
// (200 at once; 202 + Azure-AsyncOperation + Location; 202 + Location only; a failed operation),
// as imported and after Pulumi's closure serialisation. The provider authenticates with an Entra token
// from DefaultAzureCredential (issued by a loopback token endpoint); ARM checks its audience.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as pulumi from '@pulumi/pulumi';
import { tokenPasswordProvider, type TokenPasswordInputs, type TokenPasswordOutputs } from '../../infra/acr-token-password';
import { FakeEntra } from './fake-entra';
import { ARM_AUDIENCE, FakeArm, REGISTRY_ID, TOKEN_ID } from './fake-arm';
import { inTrustingProcess } from './tls';

type Provider = pulumi.dynamic.ResourceProvider;
async function roundTrip(provider: Provider): Promise<Provider> {
  const serialized = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
  const requireFromString = createRequire(require.resolve('@pulumi/pulumi/package.json'))('require-from-string') as (code: string) => { handler(): Provider };
  return requireFromString(serialized.text).handler();
}

const cert = inTrustingProcess(__filename);
if (cert) {
const entra = new FakeEntra(cert);
before(async () => {
  await entra.start();
  entra.useInProcess();
});
after(() => entra.stop());
for (const variant of ['as imported', 'after Pulumi serialisation'] as const) {
  describe(`ACR token password provider ${variant}`, () => {
    const arm = new FakeArm(cert, entra);
    let provider: Provider;
    const inputs = (over: Partial<TokenPasswordInputs> = {}): TokenPasswordInputs => ({
      armEndpoint: arm.base,
      registryId: REGISTRY_ID,
      tokenId: TOKEN_ID,
      tokenCreated: '2026-01-01T00:00:00Z',
      passwordName: 'password1',
      expiry: '',
      ...over,
    });

    before(async () => {
      await arm.start();
      provider = variant === 'as imported' ? tokenPasswordProvider : await roundTrip(tokenPasswordProvider);
    });
    after(() => arm.stop());

    for (const mode of ['sync', 'async-operation', 'location'] as const) {
      test(`create generates the password (ARM answers ${mode})`, async () => {
        arm.mode = mode;
        const r = await provider.create!(inputs());
        const outs = r.outs as TokenPasswordOutputs;
        assert.equal(r.id, `${TOKEN_ID}/password1`);
        assert.equal(outs.username, 'edge-pull-token');
        assert.equal(outs.password, 'generated-password-1');
        const post = arm.requests.filter((q) => q.method === 'POST').at(-1)!;
        assert.deepEqual(post.body, { tokenId: TOKEN_ID, name: 'password1' });
        assert.ok(arm.requests.every((q) => q.authProblem === undefined), 'every request carried a valid ARM token');
      });
    }

    test('create picks the password it asked for and sends the expiry', async () => {
      arm.mode = 'sync';
      const r = await provider.create!(inputs({ passwordName: 'password2', expiry: '2027-01-01T00:00:00Z' }));
      assert.equal((r.outs as TokenPasswordOutputs).password, 'generated-password-2');
      assert.deepEqual(arm.requests.at(-1)!.body, { tokenId: TOKEN_ID, name: 'password2', expiry: '2027-01-01T00:00:00Z' });
    });

    test('a failed operation fails with ARM’s reason', async () => {
      arm.mode = 'failed';
      await assert.rejects(provider.create!(inputs()), /generateCredentials ended Failed: TokenNotFound token was deleted/);
      arm.mode = 'sync';
    });

    test('the tokens were asked for ARM’s audience only, and ARM refuses a token for another audience', async () => {
      assert.ok(entra.requests.length >= 1);
      assert.ok(entra.requests.every((r) => r.resource === ARM_AUDIENCE && r.headerOk), JSON.stringify(entra.requests));
      const res = await fetch(`${arm.base}${REGISTRY_ID}/generateCredentials?api-version=2023-07-01`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${entra.issue('https://iothubs.azure.net')}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ tokenId: TOKEN_ID, name: 'password1' }),
      });
      assert.equal(res.status, 401);
      assert.match(arm.requests.at(-1)!.authProblem!, /audience https:\/\/iothubs.azure.net is not/);
    });

    test('diff replaces on anything that names another password, including a token created again under the same id', async () => {
      const olds = { ...inputs(), username: 'edge-pull-token', password: 'x', creationTime: '' } as TokenPasswordOutputs;
      assert.deepEqual(await provider.diff!('id', olds, inputs()), { changes: false, replaces: [] });
      assert.deepEqual(await provider.diff!('id', olds, inputs({ tokenId: `${REGISTRY_ID}/tokens/other` })), { changes: true, replaces: ['tokenId'] });
      assert.deepEqual(await provider.diff!('id', olds, inputs({ expiry: '2027-01-01T00:00:00Z' })), { changes: true, replaces: ['expiry'] });
      assert.deepEqual(await provider.diff!('id', olds, inputs({ tokenCreated: '2026-02-01T00:00:00Z' })), { changes: true, replaces: ['tokenCreated'] });
      assert.deepEqual(await provider.diff!('id', olds, inputs({ passwordName: 'password2', expiry: '2027-01-01T00:00:00Z' })), { changes: true, replaces: ['passwordName', 'expiry'] });
    });

    test('there is no read (ARM never returns a password again) and delete calls nothing', async () => {
      assert.equal(provider.read, undefined);
      const before = arm.requests.length;
      await provider.delete!('id', {});
      assert.equal(arm.requests.length, before);
    });
  });
}
}

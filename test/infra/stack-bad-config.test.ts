// A wrong config value stops the real program before it declares anything, with a sentence naming
// the key, the value and what is expected (the program runs under mocks with the dev stack file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../infra/config';
import { runStack } from './harness';

test('bad values in the dev stack fail the program with the key, the value and what is expected', async () => {
  const error = await runStack('dev', {
    'model-deploy:aksNodeMinCount': 0,
    'model-deploy:iotHubSku': 'B1',
    'model-deploy:aksAvailabilityZones': ['1', '4'],
    'model-deploy:tlsMode': 'keyvault',
  }).then(
    () => assert.fail('the program accepted a bad config'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ConfigError, String(error));
  assert.match(error.message, /^Invalid stack configuration:/);
  assert.ok(error.message.includes('model-deploy:aksNodeMinCount is "0"; expected an integer from 1 to 100.'), error.message);
  assert.ok(error.message.includes('model-deploy:iotHubSku is "B1"; expected one of S1, S2, S3, F1.'), error.message);
  assert.ok(error.message.includes('model-deploy:aksAvailabilityZones is "[\\"1\\",\\"4\\"]"; expected a list of zones "1", "2" or "3".'), error.message);
  assert.ok(error.message.includes('model-deploy:tlsKeyVaultId is ""; expected a Key Vault resource id when tlsMode is keyvault.'), error.message);
});

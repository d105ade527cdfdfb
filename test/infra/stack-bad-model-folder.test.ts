// A modelDir that is clearly not a model folder stops the real program (as `pulumi preview` runs it)
// before it declares anything, with the folder, what it holds and what is expected. model/samples is
// a real folder of the repository: sample images and a labels.json, but no model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelFolderError } from '../../infra/model-folder';
import { runStack } from './harness';

test('a preview refuses a modelDir that holds no model, naming the folder, its files and what is expected', async () => {
  const error = await runStack('dev', { 'model-deploy:modelDir': 'model/samples' }, true).then(
    () => assert.fail('the program accepted model/samples as a model folder'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ModelFolderError, String(error));
  assert.match(error.message, /^modelDir model\/samples holds neither card\.json nor config\.json \(found: ankle-boot\.png, .*labels\.json.*\); expected a model-deploy card folder/);
});

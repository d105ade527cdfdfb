// The dev stack deploying a Hugging Face-style export folder (model/fashion-rgb-keras: model.onnx,
// config.json, preprocessor_config.json, no card of ours) with the model keys set: every file of the
// folder goes to the model store under <name>/<content hash>, both images are built with MODEL_DIR and
// tagged with that hash, and both apps get the same MODEL_NAME / EXACT_PREPROCESSING / PREPROCESS_THREADS.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readModelFolder } from '../../infra/model-folder';
import { REPO_ROOT, runStack, type StackRun } from './harness';

const MODEL_DIR = 'model/fashion-rgb-keras';
const expectedEnv = { MODEL_NAME: 'fashion-rgb', EXACT_PREPROCESSING: 'true', PREPROCESS_THREADS: '3' };

describe(`stack dev with modelDir ${MODEL_DIR} and the model keys set`, () => {
  let run: StackRun;
  const folder = readModelFolder(join(REPO_ROOT, MODEL_DIR), 'fashion-rgb');

  before(async () => {
    run = await runStack('dev', {
      'model-deploy:modelDir': MODEL_DIR,
      'model-deploy:modelName': 'fashion-rgb',
      'model-deploy:exactPreprocessing': true,
      'model-deploy:preprocessThreads': '3',
    });
  });

  test('the folder is an export named by modelName, versioned by its content hash', () => {
    assert.equal(folder.format, 'export');
    assert.equal(folder.name, 'fashion-rgb');
    assert.match(folder.version, /^[0-9a-f]{12}$/);
    assert.equal(folder.revision, folder.version);
    assert.equal(folder.contentSha256.slice(0, 12), folder.version);
  });

  test('uploads every model file of the folder (not its README or samples) under <name>/<revision>', async () => {
    const blobs = run.byType('azure-native:storage:Blob');
    assert.deepEqual(
      blobs.map((b) => b.inputs.blobName).sort(),
      ['config.json', 'model.onnx', 'preprocessor_config.json', 'training.json'].map((f) => `fashion-rgb/${folder.revision}/${f}`),
    );
    for (const b of blobs) {
      const path = String(await b.inputs.source.path);
      assert.equal(path, join(MODEL_DIR, String(b.inputs.blobName).split('/').pop()!), 'relative to the project directory');
      assert.equal(b.inputs.metadata.modelContentSha256, folder.contentSha256);
    }
    assert.equal(run.byType('azure-native:storage:Blob').find((b) => String(b.inputs.blobName).endsWith('/model.onnx'))!.inputs.contentType, 'application/octet-stream');
  });

  test('builds both images with MODEL_DIR and tags them with the content hash', () => {
    const images = run.byType('docker:index/image:Image');
    assert.equal(images.length, 2);
    for (const i of images) {
      assert.equal(i.inputs.build.args.MODEL_DIR, MODEL_DIR);
      assert.ok(String(i.inputs.imageName).endsWith(`:${folder.revision}`), String(i.inputs.imageName));
    }
  });

  test('the scoring pods and the edge module get the same model environment', () => {
    const deployment = run.resources.find((r) => r.type.startsWith('kubernetes:') && r.inputs.kind === 'Deployment')!;
    const env = Object.fromEntries(deployment.inputs.spec.template.spec.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]));
    for (const [name, value] of Object.entries(expectedEnv)) assert.equal(env[name], value, name);
    assert.equal(deployment.inputs.spec.template.metadata.annotations['model-deploy/model-sha256'], folder.contentSha256);

    const edge = run.byType('pulumi-nodejs:dynamic/iothub:EdgeDeployment');
    assert.equal(edge.length, 1);
    const content = edge[0]!.inputs.content as { modulesContent: Record<string, { 'properties.desired': { modules: Record<string, { env: Record<string, { value: string }> }> } }> };
    const moduleEnv = content.modulesContent.$edgeAgent!['properties.desired'].modules.classifier!.env;
    for (const [name, value] of Object.entries(expectedEnv)) assert.deepEqual(moduleEnv[name], { value }, name);
    assert.deepEqual(edge[0]!.inputs.labels, { modelName: 'fashion-rgb', modelVersion: folder.version, modelRevision: folder.revision, stack: 'dev' });
  });
});

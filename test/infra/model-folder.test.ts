// infra/model-folder.ts: the model folder as a content-addressed set of files, and the preview's
// refusals of folders that are clearly not model folders (the core's deep check runs in the image build).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contentHash, imageTagFor, ModelFolderError, readModelFolder } from '../../infra/model-folder';
import { REPO_ROOT } from './harness';

const sha256 = (bytes: string | Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A temporary folder named `name` holding `files`; removed after `fn`. */
function withFolder(files: Record<string, string>, fn: (dir: string) => void, name = 'my-export'): void {
  const root = mkdtempSync(join(tmpdir(), 'model-folder-'));
  const dir = join(root, name);
  mkdirSync(dir);
  try {
    for (const [f, c] of Object.entries(files)) {
      mkdirSync(join(dir, f, '..'), { recursive: true });
      writeFileSync(join(dir, f), c);
    }
    fn(dir);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function refusal(dir: string, modelName?: string): string {
  try {
    readModelFolder(dir, modelName);
  } catch (e) {
    assert.ok(e instanceof ModelFolderError, `expected a ModelFolderError, got ${String(e)}`);
    return e.message;
  }
  assert.fail(`${dir} was accepted`);
}

const hf = { 'model.onnx': 'onnx bytes', 'config.json': '{"id2label":{"0":"a","1":"b"}}', 'preprocessor_config.json': '{"size":32}' };
const card = { name: 'fashion-mnist-cnn', version: '1.0.0', file: 'model.onnx' };

describe('readModelFolder: what the stack deploys', () => {
  test("the repository's card folder: the card's name and version, its top-level model files only", () => {
    const m = readModelFolder(join(REPO_ROOT, 'model'));
    const c = JSON.parse(readFileSync(join(REPO_ROOT, 'model', 'card.json'), 'utf8')) as { name: string; version: string; sha256: string };
    assert.equal(m.format, 'card');
    assert.equal(m.name, c.name);
    assert.equal(m.version, c.version);
    // Not README.md, train.py, samples/ or the second model's folder.
    assert.deepEqual(m.files.map((f) => f.path), ['card.json', 'model.onnx']);
    assert.equal(m.files.find((f) => f.path === 'model.onnx')!.sha256, c.sha256);
    assert.equal(m.revision, `${c.version}-${m.contentSha256.slice(0, 12)}`);
  });

  test("the repository's Hugging Face-style folder: named by the folder, versioned by the content hash", () => {
    const m = readModelFolder(join(REPO_ROOT, 'model', 'fashion-rgb-keras'));
    assert.equal(m.format, 'export');
    assert.equal(m.name, 'fashion-rgb-keras');
    assert.deepEqual(m.files.map((f) => f.path), ['config.json', 'model.onnx', 'preprocessor_config.json', 'training.json']);
    assert.equal(m.version, m.contentSha256.slice(0, 12));
    assert.equal(m.modelFile, 'model.onnx');
  });

  test('the content hash covers names and bytes, not the order or where the folder lives', () => {
    withFolder(hf, (dir) => {
      const m = readModelFolder(dir);
      const expected = sha256(Object.entries(hf).map(([f, c]) => `${f} ${sha256(c)}\n`).sort().join(''));
      assert.equal(m.contentSha256, expected);
      assert.equal(contentHash([...m.files].reverse()), expected);
      withFolder(hf, (elsewhere) => assert.equal(readModelFolder(elsewhere).contentSha256, expected), 'my-export');
      withFolder({ ...hf, 'model.onnx': 'other bytes' }, (changed) => assert.notEqual(readModelFolder(changed).contentSha256, expected));
      withFolder({ ...hf, 'labels.txt': 'a\nb\n' }, (more) => assert.notEqual(readModelFolder(more).contentSha256, expected));
      withFolder({ ...hf, 'README.md': '# x', 'samples/cat.json': '{}', '.hidden.json': '{}' }, (extra) =>
        assert.equal(readModelFolder(extra).contentSha256, expected, 'READMEs, subfolders and hidden files are not part of the model'),
      );
    });
  });

  test('modelName overrides the name (and a folder name that cannot name a model needs it)', () => {
    withFolder(hf, (dir) => assert.equal(readModelFolder(dir, 'vit-base').name, 'vit-base'));
    withFolder(hf, (dir) => {
      assert.equal(refusal(dir), `modelDir ${dir}: the folder name "my export" cannot name the model; expected letters, digits, '.', '_', '-' (or set modelName).`);
      assert.equal(readModelFolder(dir, 'my-export').name, 'my-export');
    }, 'my export');
    withFolder({ 'card.json': JSON.stringify(card), 'model.onnx': 'x' }, (dir) => assert.equal(readModelFolder(dir, 'renamed').name, 'renamed'));
  });

  test('image tags from revisions', () => {
    assert.equal(imageTagFor('1.2.0+build.5-0123456789ab'), '1.2.0-build.5-0123456789ab');
    assert.equal(imageTagFor('0123456789ab'), '0123456789ab');
  });
});

describe('readModelFolder: refusals name the file, the key, the value found and the value expected', () => {
  test('a folder that does not exist', () => {
    const dir = join(tmpdir(), 'no-such-model-folder-x');
    assert.match(refusal(dir), new RegExp(`^modelDir ${dir} cannot be read \\(ENOENT.*\\); expected a model folder \\(card.json and the model file it names, or a Hugging Face or timm export: model.onnx, config.json\\)\\.$`));
  });

  test('neither card.json nor config.json', () => {
    withFolder({ 'model.onnx': 'x', 'README.md': '' }, (dir) =>
      assert.equal(
        refusal(dir),
        `modelDir ${dir} holds neither card.json nor config.json (found: README.md, model.onnx); expected a model-deploy card folder (card.json + the model file), a Hugging Face export (model.onnx, config.json, preprocessor_config.json) or a timm export (model.onnx, config.json with pretrained_cfg).`,
      ),
    );
  });

  test('an export without model.onnx', () => {
    withFolder({ 'config.json': '{}', 'model.safetensors': 'x' }, (dir) =>
      assert.equal(refusal(dir), `modelDir ${dir} has config.json but no model.onnx (found: config.json, model.safetensors); expected the ONNX export of the model as model.onnx.`),
    );
  });

  test('unreadable or non-object JSON', () => {
    withFolder({ ...hf, 'config.json': '{"id2label": ' }, (dir) =>
      assert.match(refusal(dir), new RegExp(`^${dir}/config.json is not readable JSON \\(.+\\); expected a JSON object\\.$`)),
    );
    withFolder({ ...hf, 'preprocessor_config.json': '[1, 2]' }, (dir) =>
      assert.equal(refusal(dir), `${dir}/preprocessor_config.json holds an array; expected a JSON object.`),
    );
    withFolder({ 'card.json': '"card"', 'model.onnx': 'x' }, (dir) => assert.equal(refusal(dir), `${dir}/card.json holds "card"; expected a JSON object.`));
  });

  test("a card's bad fields, missing model file, missing labels file and wrong sha256", () => {
    const files = (c: object) => ({ 'card.json': JSON.stringify(c), 'model.onnx': 'onnx' });
    withFolder(files({ ...card, version: 'one two', file: 'model.bin' }), (dir) =>
      assert.equal(
        refusal(dir),
        `${dir}/card.json is invalid: "version" is "one two"; expected a version string; "file" is "model.bin"; expected the name of a .onnx file at the top of the model folder.`,
      ),
    );
    withFolder(files({ ...card, file: 'other.onnx' }), (dir) =>
      assert.equal(refusal(dir), `${dir}/card.json: "file" is "other.onnx", which is not in the folder; expected the model file beside card.json.`),
    );
    withFolder(files({ ...card, labelsFile: 'labels.txt' }), (dir) =>
      assert.equal(refusal(dir), `${dir}/card.json: "labelsFile" is "labels.txt", which is not in the folder; expected a labels file beside card.json.`),
    );
    withFolder(files({ ...card, labelsFile: 'labels/names.txt' }), (dir) =>
      assert.match(refusal(dir), /"labelsFile" is "labels\/names.txt"; expected a .txt or .json file at the top of the model folder/),
    );
    withFolder(files({ ...card, sha256: 'a'.repeat(64) }), (dir) =>
      assert.equal(
        refusal(dir),
        `${dir}/card.json: "sha256" is ${'a'.repeat(64)}; expected ${sha256('onnx')}, the sha256 of model.onnx (retrain, or write the card again with npm run model -- card).`,
      ),
    );
    withFolder(files({ ...card, sha256: sha256('onnx') }), (dir) => assert.equal(readModelFolder(dir).version, '1.0.0'));
  });
});

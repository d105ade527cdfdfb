// Export folders as their authors leave them (model/make_folder_fixtures.py: real tiny ONNX models),
// read with no card of ours: what each folder says, completed from the model, checked against it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { Classifier, describeModel, InvalidModelCardError, ModelIntegrityError } from '../src/index.js';
import { fixturesDir } from './helpers.js';

const dir = join(fixturesDir, 'folders');
const expected = JSON.parse(await readFile(join(dir, 'expected.json'), 'utf8')) as Record<string, number[]> & { colour: number[] };
const [r, g, b] = expected.colour as [number, number, number];
// Solid colour, so every resize mode keeps the values and the model's answer is known exactly.
const kerasSha = createHash('sha256').update(await readFile(join(dir, 'hf-keras-nhwc', 'model.onnx'))).digest('hex');
const solid = await sharp({ create: { width: 21, height: 14, channels: 3, background: { r, g, b } } }).png().toBuffer();

describe('export folders served as they come', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['hf-vit', { layout: 'NCHW', activation: 'softmax', mode: 'stretch', interpolation: 'bilinear', input: 'pixel_values', format: 'hugging-face' }],
    ['hf-convnext', { layout: 'NCHW', activation: 'softmax', mode: 'shortest-edge', interpolation: 'bicubic', shortestEdge: 18, crop: 'floor' }],
    ['hf-mobilenet', { layout: 'NCHW', activation: 'softmax', mode: 'shortest-edge', interpolation: 'lanczos', shortestEdge: 18, crop: 'floor' }],
    ['hf-multilabel', { layout: 'NCHW', activation: 'sigmoid', task: 'multi-label', mode: 'shortest-edge' }],
    ['hf-keras-nhwc', { layout: 'NHWC', activation: 'none', graphEndsIn: 'Softmax', input: 'input_1', output: 'dense' }],
    ['timm', { layout: 'NCHW', activation: 'softmax', mode: 'shortest-edge', interpolation: 'bicubic', shortestEdge: 18, crop: 'round', format: 'timm' }],
    ['card-v2-uint8', { layout: 'NHWC', dtype: 'uint8', colour: 'bgr', mode: 'letterbox', name: 'tiny-uint8', format: 'card-v2' }],
    ['card-v2-float16', { layout: 'NCHW', dtype: 'float16', colour: 'grayscale', mode: 'stretch', interpolation: 'nearest' }],
  ];
  for (const [folder, want] of cases) {
    it(`${folder}: derives the description and answers the reference scores`, async () => {
      const classifier = await Classifier.load({ modelDir: join(dir, folder), intraOpThreads: 1 });
      try {
        const d = classifier.card;
        const got: Record<string, unknown> = {
          layout: d.input.layout,
          dtype: d.input.dtype,
          activation: d.output.activation,
          task: d.output.task,
          graphEndsIn: d.output.graphEndsIn,
          mode: d.preprocessing.resize.mode,
          interpolation: d.preprocessing.resize.interpolation,
          shortestEdge: d.preprocessing.resize.shortestEdge,
          crop: d.preprocessing.resize.crop,
          colour: d.preprocessing.colour,
          input: d.input.name,
          output: d.output.name,
          name: d.name,
          format: d.source.format,
        };
        for (const [k, v] of Object.entries(want)) assert.equal(got[k], v, k);
        if (d.source.format !== 'card-v2') assert.equal(d.name, folder, 'the name defaults to the folder name');
        const [result] = await classifier.classifyAll([solid]);
        assert.ok(result!.ok, result!.ok ? '' : result!.error.message);
        const tolerance = d.input.dtype === 'float16' ? 5e-3 : 1e-5;
        const scores = Array.from(result!.prediction.probabilities);
        const reference = expected[folder]!;
        scores.forEach((s, i) => assert.ok(Math.abs(s - reference[i]!) <= tolerance, `score ${i}: ${s} vs ${reference[i]}`));
        if (d.output.task === 'multi-label') {
          const labels = d.labels.filter((_, i) => reference[i]! >= 0.5);
          assert.ok(labels.length >= 1 && labels.length < d.labels.length, 'the fixture has labels on both sides of the threshold');
          assert.deepEqual([...result!.prediction.labels!].sort(), [...labels].sort());
        } else {
          assert.equal(result!.prediction.labels, undefined);
        }
      } finally {
        await classifier.close();
      }
    });
  }

  it('MODEL_NAME overrides the folder name', async () => {
    assert.equal((await describeModel(join(dir, 'hf-vit'), 'my-vit')).name, 'my-vit');
  });
});

describe('broken folders refuse to load, naming file, field, found and expected', () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'model-deploy-folders-'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  let n = 0;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests edit arbitrary JSON
  async function broken(folder: string, edit: (files: Record<string, any>) => void): Promise<string> {
    const target = join(work, `${folder}-${n++}`);
    await cp(join(dir, folder), target, { recursive: true });
    const names = ['config.json', 'preprocessor_config.json', 'card.json'];
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests edit arbitrary JSON
    const files: Record<string, any> = {};
    for (const f of names) {
      try {
        files[f] = JSON.parse(await readFile(join(target, f), 'utf8'));
      } catch {
        // not in this flavour
      }
    }
    edit(files);
    for (const [f, v] of Object.entries(files)) {
      if (v === undefined) await rm(join(target, f), { force: true });
      else await writeFile(join(target, f), JSON.stringify(v));
    }
    return target;
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests edit arbitrary JSON
  const refusal = async (folder: string, edit: (files: Record<string, any>) => void, message: string) => {
    const target = await broken(folder, edit);
    await assert.rejects(describeModel(target), (e: unknown) => {
      assert.ok(e instanceof InvalidModelCardError, `got ${String(e)}`);
      assert.equal((e as Error).message, message);
      return true;
    });
  };

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests edit arbitrary JSON
  const table: Array<[string, string, (f: Record<string, any>) => void, string]> = [
    ['image_mean of the wrong length', 'hf-vit', (f) => (f['preprocessor_config.json'].image_mean = [0.5, 0.5]), 'preprocessor_config.json: image_mean has 2 values; the model takes 3 channels'],
    ['image_std of the wrong length', 'hf-convnext', (f) => (f['preprocessor_config.json'].image_std = [0.2]), 'preprocessor_config.json: image_std has 1 value; the model takes 3 channels'],
    ['an unknown processor type', 'hf-vit', (f) => (f['preprocessor_config.json'].image_processor_type = 'DetrImageProcessor'),
      'preprocessor_config.json: image_processor_type is "DetrImageProcessor"; expected one of ViTImageProcessor, ViTFeatureExtractor, DeiTImageProcessor, DeiTFeatureExtractor, ConvNextImageProcessor, ConvNextFeatureExtractor, MobileNetV1ImageProcessor, MobileNetV1FeatureExtractor, MobileNetV2ImageProcessor, MobileNetV2FeatureExtractor, BitImageProcessor, CLIPImageProcessor, CLIPFeatureExtractor'],
    ['an unknown processor option', 'hf-mobilenet', (f) => (f['preprocessor_config.json'].do_pad = true),
      'preprocessor_config.json: do_pad is not an option model-deploy knows (known: image_processor_type, feature_extractor_type, processor_class, do_resize, size, resample, do_center_crop, crop_size, crop_pct, do_rescale, rescale_factor, do_normalize, image_mean, image_std, do_convert_rgb); refusing rather than ignoring it'],
    ['a resample code Pillow does not have', 'hf-vit', (f) => (f['preprocessor_config.json'].resample = 7),
      "preprocessor_config.json: resample is 7; expected Pillow's resampling enum: 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming"],
    ['a crop size that is not the model\'s', 'hf-mobilenet', (f) => (f['preprocessor_config.json'].crop_size = { height: 20, width: 16 }),
      'preprocessor_config.json: crop_size height is 20; expected 16, the height of the model\'s input "pixel_values" [N, 3, 16, 16]'],
    ['a label count that is not the model\'s', 'hf-vit', (f) => (f['config.json'].id2label = { 0: 'cat', 1: 'dog' }),
      'config.json: id2label has 2 labels; the model\'s output "logits" has 3 classes'],
    ['id2label with a gap', 'hf-vit', (f) => (f['config.json'].id2label = { 0: 'cat', 1: 'dog', 3: 'fox' }),
      'config.json: id2label["2"] is missing; expected a label name (id2label must number its 3 labels 0 to 2)'],
    ['multi-label on a graph that ends in Softmax', 'hf-keras-nhwc', (f) => (f['config.json'].problem_type = 'multi_label_classification'),
      'config.json: problem_type is "multi_label_classification"; expected a model whose scores are independent, but the graph ends in Softmax'],
    ['a shortest edge without a centre crop', 'hf-mobilenet', (f) => (f['preprocessor_config.json'].do_center_crop = false),
      'preprocessor_config.json: size is {"shortest_edge":18}; expected {"height": H, "width": W} when do_center_crop is false (a shortest edge alone gives every image a different size)'],
    ['an image processor in front of a one-channel model', 'card-v2-float16', (f) => {
      f['card.json'] = undefined;
      f['config.json'] = { id2label: { 0: 'cat', 1: 'dog', 2: 'fox' } };
      f['preprocessor_config.json'] = { image_processor_type: 'ViTImageProcessor', size: { height: 16, width: 16 }, resample: 2, do_normalize: false };
    }, 'model.onnx: input "x" channels is 1; expected 3: preprocessor_config.json describes an image processor, which gives RGB images'],
    ['a processor option left to transformers\' defaults', 'hf-convnext', (f) => delete f['preprocessor_config.json'].image_mean,
      "preprocessor_config.json: image_mean is missing; expected a value: ConvNextImageProcessor's default is not assumed (transformers writes every option when it saves a processor)"],
    ['timm\'s border crop mode', 'timm', (f) => (f['config.json'].pretrained_cfg.crop_mode = 'border'),
      'config.json: pretrained_cfg.crop_mode is "border"; expected "center" or "squash" ("border" is not supported)'],
    ['an unknown timm option', 'timm', (f) => (f['config.json'].pretrained_cfg.interpolation_mode = 'x'),
      'config.json: pretrained_cfg.interpolation_mode is not an option model-deploy knows (known: input_size, interpolation, mean, std, crop_pct, crop_mode, num_classes, tag, custom_load, fixed_input_size, pool_size, first_conv, classifier, license, description, origin_url, paper_ids, paper_name, notes, architecture, hf_hub_id, source, test_input_size, test_crop_pct, min_input_size); refusing rather than ignoring it'],
    ['timm input size that is not the model\'s', 'timm', (f) => (f['config.json'].pretrained_cfg.input_size = [3, 24, 24]),
      'config.json: pretrained_cfg.input_size height is 24; expected 16, the height of the model\'s input "input0" [N, 3, 16, 16]'],
    ['timm label_names and num_classes apart', 'timm', (f) => (f['config.json'].label_names = ['cat', 'dog']),
      'config.json: label_names has 2 labels; num_classes is 3'],
    ['a card applying softmax to a graph that ends in it', 'hf-keras-nhwc', (f) => {
      f['card.json'] = { schemaVersion: 2, name: 'k', version: '1', file: 'model.onnx', sha256: kerasSha, labels: ['cat', 'dog', 'fox'], input: {}, output: { activation: 'softmax' }, preprocessing: { resize: { mode: 'fit', interpolation: 'bilinear' } } };
    }, 'card.json: output.activation is "softmax"; expected "none": the graph already ends in Softmax'],
    ['a card with the wrong dtype', 'card-v2-uint8', (f) => (f['card.json'].input.dtype = 'float32'),
      'card.json: input.dtype is "float32"; expected "uint8", the type of the model\'s input "uint8_input"'],
    ['a card with the wrong layout', 'card-v2-uint8', (f) => (f['card.json'].input.layout = 'NCHW'),
      'card.json: input.layout is "NCHW"; expected "NHWC": the model\'s input "uint8_input" has shape [N, 16, 16, 3]'],
    ['a card rescaling a uint8 input', 'card-v2-uint8', (f) => (f['card.json'].preprocessing.rescale = 0.5),
      'card.json: preprocessing.rescale is 0.5; expected 1: the model\'s input "uint8_input" is uint8 and takes raw pixel values'],
    ['a card naming an input the model does not have', 'card-v2-uint8', (f) => (f['card.json'].input.name = 'pixels'),
      'card.json: input.name is "pixels"; expected one of the model\'s inputs ["uint8_input"]'],
    ['a card with a colour the model cannot take', 'card-v2-float16', (f) => (f['card.json'].preprocessing.colour = 'rgb'),
      'card.json: preprocessing.colour is "rgb"; expected "grayscale": the model takes 1 channel'],
    ['a card with letterbox fill for the wrong channels', 'card-v2-uint8', (f) => (f['card.json'].preprocessing.resize.fill = [0]),
      'card.json: preprocessing.resize.fill is [0]; expected 3 integers from 0 to 255, one per channel'],
    ['a card with a shortest edge too small to crop from', 'card-v2-float16', (f) => (f['card.json'].preprocessing.resize = { mode: 'shortest-edge', interpolation: 'bicubic', shortestEdge: 12 }),
      'card.json: preprocessing.resize.shortestEdge is 12; expected at least 16, so the centre crop to 16x16 fits inside every resized image'],
    ['a card with an unknown interpolation', 'card-v2-float16', (f) => (f['card.json'].preprocessing.resize.interpolation = 'area'),
      'card.json: preprocessing.resize.interpolation is "area"; expected one of "nearest", "box", "bilinear", "hamming", "bicubic", "lanczos"'],
    ['a card with an unknown key', 'card-v2-float16', (f) => (f['card.json'].preprocessing.normalise = true),
      'card.json: preprocessing.normalise is not an option model-deploy knows (known: colour, resize, rescale, mean, std, invert); refusing rather than ignoring it'],
  ];
  for (const [what, folder, edit, message] of table) {
    it(what, () => refusal(folder, edit, message));
  }

  it('a folder with neither a card nor config.json', async () => {
    const target = await broken('hf-vit', (f) => {
      f['config.json'] = undefined;
      f['preprocessor_config.json'] = undefined;
    });
    await assert.rejects(describeModel(target), (e: unknown) => {
      assert.ok(e instanceof InvalidModelCardError);
      assert.equal(
        e.message,
        `${target}: holds neither card.json nor config.json; expected a model-deploy card, a Hugging Face export (model.onnx, config.json, preprocessor_config.json) or a timm export (model.onnx, config.json with pretrained_cfg)`,
      );
      return true;
    });
  });

  it('a card whose sha256 is not the model file\'s', async () => {
    const target = await broken('card-v2-uint8', (f) => (f['card.json'].sha256 = 'a'.repeat(64)));
    await assert.rejects(describeModel(target), (e: unknown) => e instanceof ModelIntegrityError && e.message.includes(`its card declares ${'a'.repeat(64)}`));
  });

  it('a labels file with fewer labels than the model has classes', async () => {
    const target = await broken('card-v2-uint8', () => {});
    await writeFile(join(target, 'labels.txt'), 'cat\ndog\n');
    await assert.rejects(describeModel(target), (e: unknown) => {
      assert.ok(e instanceof InvalidModelCardError);
      assert.equal(e.message, 'labels.txt: has 2 labels; the model\'s output "scores" has 3 classes');
      return true;
    });
  });
});

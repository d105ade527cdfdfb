/**
 * Reads a model folder as its author left it — our card (v1 or v2), a Hugging Face export
 * (model.onnx + config.json + preprocessor_config.json) or a timm hub export (model.onnx +
 * config.json with pretrained_cfg) — and completes it from the ONNX model: input and output names,
 * dtype, layout and size from onnxruntime's session metadata, the graph's last operator from the
 * protobuf. Every disagreement refuses with the file, the field, the value found and the one expected.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { InvalidModelCardError } from './errors.js';
import { PILLOW_RESAMPLE, type Interpolation } from './filters.js';
import {
  checkNumbers,
  isObject,
  isPositiveInt,
  parseCardV2,
  parseLabels,
  refuse,
  refuseUnknownKeys,
  show,
  type Activation,
  type CardDraft,
  type Dtype,
  type Layout,
  type ModelDescription,
} from './model-description.js';
import { cardV1ToDraft } from './model-card.js';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function readJson(dir: string, file: string): Promise<unknown> {
  const path = join(dir, file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new InvalidModelCardError(`${file}: cannot be read (${(cause as Error).message})`, { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new InvalidModelCardError(`${file}: is not valid JSON (${(cause as Error).message})`, { cause });
  }
}

/** Reads what the folder says, before the model is consulted. */
export async function readDraft(modelDir: string): Promise<CardDraft> {
  if (await exists(join(modelDir, 'card.json'))) {
    const raw = await readJson(modelDir, 'card.json');
    if (!isObject(raw)) refuse('card.json', 'the document', raw, 'a JSON object');
    if (raw.schemaVersion === 1) return cardV1ToDraft(raw);
    if (raw.schemaVersion !== 2) refuse('card.json', 'schemaVersion', raw.schemaVersion, '1 or 2');
    let labelsFromFile: string[] | undefined;
    if (typeof raw.labelsFile === 'string') {
      const path = join(modelDir, raw.labelsFile);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (cause) {
        throw new InvalidModelCardError(`card.json: labelsFile names ${show(raw.labelsFile)}, which cannot be read (${(cause as Error).message})`, { cause });
      }
      labelsFromFile = parseLabels(raw.labelsFile, 'its lines', text.split(/\r?\n/).filter((l) => l.trim() !== ''));
    }
    const draft = parseCardV2(raw, 'card.json', labelsFromFile);
    if (typeof raw.labelsFile === 'string') draft.files.push(raw.labelsFile);
    return draft;
  }
  if (!(await exists(join(modelDir, 'config.json')))) {
    throw new InvalidModelCardError(
      `${modelDir}: holds neither card.json nor config.json; expected a model-deploy card, a Hugging Face export (model.onnx, config.json, preprocessor_config.json) or a timm export (model.onnx, config.json with pretrained_cfg)`,
    );
  }
  const config = await readJson(modelDir, 'config.json');
  if (!isObject(config)) refuse('config.json', 'the document', config, 'a JSON object');
  const name = basename(modelDir);
  if (isObject(config.pretrained_cfg)) return timmDraft(config, name);
  if (!(await exists(join(modelDir, 'preprocessor_config.json')))) {
    throw new InvalidModelCardError(
      'config.json: has no pretrained_cfg (timm) and the folder has no preprocessor_config.json (Hugging Face); expected one of them to say how images are preprocessed',
    );
  }
  return huggingFaceDraft(config, await readJson(modelDir, 'preprocessor_config.json'), name);
}

function hfLabels(config: Record<string, unknown>): string[] {
  const map = config.id2label;
  if (!isObject(map) || Object.keys(map).length === 0) refuse('config.json', 'id2label', map, 'an object mapping "0", "1", … to label names');
  const n = Object.keys(map).length;
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const l = map[String(i)];
    if (typeof l !== 'string' || l === '') refuse('config.json', `id2label["${i}"]`, l, `a label name (id2label must number its ${n} labels 0 to ${n - 1})`);
    labels.push(l);
  }
  return parseLabels('config.json', 'id2label', labels);
}

/** Image processors whose behaviour is implemented here, by their class names in transformers. */
const HF_PROCESSORS = [
  'ViTImageProcessor',
  'ViTFeatureExtractor',
  'DeiTImageProcessor',
  'DeiTFeatureExtractor',
  'ConvNextImageProcessor',
  'ConvNextFeatureExtractor',
  'MobileNetV1ImageProcessor',
  'MobileNetV1FeatureExtractor',
  'MobileNetV2ImageProcessor',
  'MobileNetV2FeatureExtractor',
  'BitImageProcessor',
  'CLIPImageProcessor',
  'CLIPFeatureExtractor',
] as const;

const HF_KEYS = [
  'image_processor_type',
  'feature_extractor_type',
  'processor_class',
  'do_resize',
  'size',
  'resample',
  'do_center_crop',
  'crop_size',
  'crop_pct',
  'do_rescale',
  'rescale_factor',
  'do_normalize',
  'image_mean',
  'image_std',
  'do_convert_rgb',
];

function hfSize(file: string, key: string, v: unknown): { height: number; width: number } | { shortestEdge: number } {
  if (isPositiveInt(v)) return { height: v, width: v };
  if (isObject(v)) {
    if (isPositiveInt(v.height) && isPositiveInt(v.width) && Object.keys(v).length === 2) return { height: v.height, width: v.width };
    if (isPositiveInt(v.shortest_edge) && Object.keys(v).length === 1) return { shortestEdge: v.shortest_edge };
  }
  return refuse(file, key, v, '{"height": H, "width": W} or {"shortest_edge": S}');
}

function huggingFaceDraft(config: Record<string, unknown>, raw: unknown, name: string): CardDraft {
  const file = 'preprocessor_config.json';
  if (!isObject(raw)) refuse(file, 'the document', raw, 'a JSON object');
  const type = raw.image_processor_type ?? raw.feature_extractor_type;
  if (typeof type !== 'string' || !(HF_PROCESSORS as readonly string[]).includes(type)) {
    refuse(file, 'image_processor_type', type, `one of ${HF_PROCESSORS.join(', ')}`);
  }
  refuseUnknownKeys(file, '', raw, HF_KEYS);
  const labels = hfLabels(config);
  const problem = config.problem_type;
  if (problem !== undefined && problem !== null && problem !== 'single_label_classification' && problem !== 'multi_label_classification') {
    refuse('config.json', 'problem_type', problem, '"single_label_classification" or "multi_label_classification" (an image classifier)');
  }
  const multi = problem === 'multi_label_classification';
  const bool = (key: string, fallback: boolean): boolean => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'boolean') refuse(file, key, v, 'true or false');
    return v;
  };
  if (!bool('do_resize', true)) refuse(file, 'do_resize', false, 'true (the model takes a fixed size, so images must be resized)');
  // Each processor class has its own defaults in transformers (bilinear or bicubic, ImageNet or CLIP
  // statistics); saved files spell them out, so a missing one is refused rather than guessed.
  const required = (key: string): unknown => {
    if (raw[key] === undefined) refuse(file, key, undefined, `a value: ${type}'s default is not assumed (transformers writes every option when it saves a processor)`);
    return raw[key];
  };
  const resampleCode = required('resample');
  const interpolation: Interpolation | undefined = PILLOW_RESAMPLE[resampleCode as number];
  if (interpolation === undefined || !Number.isInteger(resampleCode)) refuse(file, 'resample', resampleCode, "Pillow's resampling enum: 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming");
  const isConvNext = type.startsWith('ConvNext');
  if (raw.crop_pct !== undefined && !isConvNext) refuse(file, 'crop_pct', raw.crop_pct, `absent: ${type} has no crop_pct (only ConvNextImageProcessor uses it)`);
  const size = hfSize(file, 'size', required('size'));
  const centreCrop = bool('do_center_crop', !type.startsWith('ViT') && !isConvNext);
  const draft: CardDraft = {
    file,
    name,
    version: '1',
    modelFile: 'model.onnx',
    labels,
    labelsField: 'id2label',
    input: { channels: 3 },
    output: { task: multi ? 'multi-label' : 'single-label', threshold: 0.5 },
    preprocessing: {
      colour: 'rgb',
      resize: { mode: 'stretch', interpolation: interpolation! },
      rescale: bool('do_rescale', true) ? numberOr(file, raw, 'rescale_factor', 1 / 255) : 1,
      invert: false,
    },
    fields: { mean: 'image_mean', std: 'image_std', rescale: 'rescale_factor', size: 'crop_size', labels: 'id2label', activation: 'problem_type', resize: 'size' },
    preprocessingFile: file,
    format: 'hugging-face',
    files: ['config.json', file],
  };
  if (bool('do_normalize', true)) {
    required('image_mean');
    required('image_std');
    draft.preprocessing.mean = numbers(file, raw, 'image_mean', []);
    draft.preprocessing.std = numbers(file, raw, 'image_std', []);
  }
  const resize = draft.preprocessing.resize;
  if (isConvNext) {
    // ConvNextImageProcessor: below 384 px, resize the short side to shortest_edge / crop_pct and
    // centre crop shortest_edge; from 384 px, warp to a square with no crop.
    if (!('shortestEdge' in size)) return refuse(file, 'size', raw.size, '{"shortest_edge": S} (ConvNextImageProcessor)');
    required('crop_pct');
    const cropPct = numberOr(file, raw, 'crop_pct', 0);
    if (!(cropPct > 0 && cropPct <= 1)) refuse(file, 'crop_pct', cropPct, 'a number in (0, 1]');
    draft.input.height = draft.input.width = size.shortestEdge;
    draft.fields.size = 'size.shortest_edge';
    if (size.shortestEdge < 384) {
      Object.assign(resize, { mode: 'shortest-edge', shortestEdge: Math.trunc(size.shortestEdge / cropPct), cropPct, crop: 'floor' });
    }
    return draft;
  }
  if (centreCrop) {
    const crop = hfSize(file, 'crop_size', required('crop_size'));
    if (!('height' in crop)) return refuse(file, 'crop_size', raw.crop_size, '{"height": H, "width": W}');
    draft.input.height = crop.height;
    draft.input.width = crop.width;
    resize.crop = 'floor';
    if ('shortestEdge' in size) Object.assign(resize, { mode: 'shortest-edge', shortestEdge: size.shortestEdge });
    else Object.assign(resize, { width: size.width, height: size.height });
  } else {
    if ('shortestEdge' in size) {
      refuse(file, 'size', raw.size, '{"height": H, "width": W} when do_center_crop is false (a shortest edge alone gives every image a different size)');
    }
    draft.input.height = size.height;
    draft.input.width = size.width;
    draft.fields.size = 'size';
  }
  return draft;
}

function numberOr(file: string, obj: Record<string, unknown>, key: string, fallback: number): number {
  const v = obj[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) refuse(file, key, v, 'a number');
  return v;
}

function numbers(file: string, obj: Record<string, unknown>, key: string, fallback: number[]): number[] {
  const v = obj[key] ?? fallback;
  const arr = typeof v === 'number' ? [v, v, v] : v;
  if (!Array.isArray(arr) || !arr.every((x) => typeof x === 'number' && Number.isFinite(x))) refuse(file, key, v, 'a number or an array of numbers, one per channel');
  return arr as number[];
}

const TIMM_CFG_KEYS = [
  'input_size',
  'interpolation',
  'mean',
  'std',
  'crop_pct',
  'crop_mode',
  'num_classes',
  // Descriptive keys timm writes that do not change preprocessing.
  'tag',
  'custom_load',
  'fixed_input_size',
  'pool_size',
  'first_conv',
  'classifier',
  'license',
  'description',
  'origin_url',
  'paper_ids',
  'paper_name',
  'notes',
  'architecture',
  'hf_hub_id',
  'source',
  'test_input_size',
  'test_crop_pct',
  'min_input_size',
];

function timmDraft(config: Record<string, unknown>, name: string): CardDraft {
  const file = 'config.json';
  const cfg = config.pretrained_cfg as Record<string, unknown>;
  refuseUnknownKeys(file, 'pretrained_cfg.', cfg, TIMM_CFG_KEYS);
  const labels = parseLabels(file, 'label_names', config.label_names);
  const numClasses = config.num_classes ?? cfg.num_classes;
  if (numClasses !== undefined && numClasses !== labels.length) {
    throw new InvalidModelCardError(`${file}: label_names has ${labels.length} labels; num_classes is ${show(numClasses)}`);
  }
  const size = cfg.input_size;
  if (!Array.isArray(size) || size.length !== 3 || !size.every(isPositiveInt) || (size[0] !== 1 && size[0] !== 3)) {
    refuse(file, 'pretrained_cfg.input_size', size, '[channels, height, width] with 1 or 3 channels');
  }
  const [channels, height, width] = size as [1 | 3, number, number];
  const interp = cfg.interpolation ?? 'bilinear';
  const interpolations: Record<string, Interpolation> = { nearest: 'nearest', bilinear: 'bilinear', bicubic: 'bicubic', lanczos: 'lanczos', box: 'box', hamming: 'hamming' };
  if (typeof interp !== 'string' || !(interp in interpolations)) refuse(file, 'pretrained_cfg.interpolation', interp, `one of ${Object.keys(interpolations).join(', ')}`);
  const cropPct = numberOr(file, cfg, 'crop_pct', 0.875);
  if (!(cropPct > 0 && cropPct <= 1)) refuse(file, 'pretrained_cfg.crop_pct', cropPct, 'a number in (0, 1]');
  const cropMode = cfg.crop_mode ?? 'center';
  if (cropMode !== 'center' && cropMode !== 'squash') refuse(file, 'pretrained_cfg.crop_mode', cropMode, '"center" or "squash" ("border" is not supported)');
  const scaled = { height: Math.floor(height / cropPct), width: Math.floor(width / cropPct) };
  if (cropMode === 'center' && scaled.height !== scaled.width) {
    refuse(file, 'pretrained_cfg.input_size', size, 'a square size with crop_mode "center" (timm resizes non-square inputs with ResizeKeepRatio, which is not supported)');
  }
  const pfx = (k: string) => `pretrained_cfg.${k}`;
  return {
    file,
    name,
    version: '1',
    modelFile: 'model.onnx',
    labels,
    labelsField: 'label_names',
    input: { channels, height, width },
    output: { task: 'single-label', threshold: 0.5 },
    preprocessing: {
      colour: channels === 1 ? 'grayscale' : 'rgb',
      resize:
        cropMode === 'center'
          ? { mode: 'shortest-edge', interpolation: interpolations[interp]!, shortestEdge: scaled.height, cropPct, crop: 'round' }
          : { mode: 'stretch', interpolation: interpolations[interp]!, width: scaled.width, height: scaled.height, cropPct, crop: 'round' },
      rescale: 1 / 255,
      mean: numbers(file, cfg, 'mean', [0.485, 0.456, 0.406]),
      std: numbers(file, cfg, 'std', [0.229, 0.224, 0.225]),
      invert: false,
    },
    fields: { mean: pfx('mean'), std: pfx('std'), rescale: 'rescale', size: pfx('input_size'), labels: 'label_names', activation: 'pretrained_cfg', resize: pfx('crop_pct') },
    preprocessingFile: file,
    format: 'timm',
    files: [file],
  };
}

/** The model's side of the agreement: onnxruntime's metadata and the graph's last operators. */
export interface ModelFacts {
  file: string;
  sha256: string;
  inputs: Array<{ name: string; type: string; shape: Array<number | string> }>;
  outputs: Array<{ name: string; type: string; shape: Array<number | string> }>;
  lastOperators: Map<string, string>;
}

const DTYPES: Dtype[] = ['float32', 'float16', 'uint8'];
const dims = (shape: Array<number | string>) => `[${shape.map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' ? d : '?')).join(', ')}]`;
const staticDim = (d: number | string | undefined): number | undefined => (typeof d === 'number' && d > 0 ? d : undefined);

/** Completes the draft from the model and checks that both agree. */
export function resolveDescription(draft: CardDraft, model: ModelFacts): ModelDescription {
  const f = draft.file;
  const pf = draft.preprocessingFile ?? f;
  const mf = model.file;
  if (draft.sha256 !== undefined && draft.sha256 !== model.sha256) {
    refuse(f, 'sha256', draft.sha256, `${show(model.sha256)}, the sha256 of ${mf}: refusing to serve a model that is not the one described`);
  }

  // Input.
  let input = model.inputs[0]!;
  if (draft.input.name !== undefined) {
    const found = model.inputs.find((i) => i.name === draft.input.name);
    if (!found) refuse(f, 'input.name', draft.input.name, `one of the model's inputs ${show(model.inputs.map((i) => i.name))}`);
    input = found;
  } else if (model.inputs.length !== 1) {
    throw new InvalidModelCardError(`${mf}: has ${model.inputs.length} inputs ${show(model.inputs.map((i) => i.name))}; expected one image input (name it in a card's input.name)`);
  }
  if (!DTYPES.includes(input.type as Dtype)) refuse(mf, `input "${input.name}" type`, input.type, 'float32, float16 or uint8');
  const dtype = input.type as Dtype;
  if (draft.input.dtype !== undefined && draft.input.dtype !== dtype) refuse(f, 'input.dtype', draft.input.dtype, `${show(dtype)}, the type of the model's input "${input.name}"`);
  if (input.shape.length !== 4) refuse(mf, `input "${input.name}" shape`, dims(input.shape), 'rank 4: [N, C, H, W] or [N, H, W, C]');
  const [d0, d1, d2, d3] = input.shape as [number | string, number | string, number | string, number | string];
  const isChannel = (d: number | string) => d === 1 || d === 3;
  let layout: Layout;
  if (draft.input.layout !== undefined) {
    layout = draft.input.layout;
    const c = layout === 'NCHW' ? d1 : d3;
    if (staticDim(c) !== undefined && !isChannel(c)) refuse(f, 'input.layout', layout, `${layout === 'NCHW' ? '"NHWC"' : '"NCHW"'}: the model's input "${input.name}" has shape ${dims(input.shape)}`);
  } else if (isChannel(d1) && !isChannel(d3)) layout = 'NCHW';
  else if (isChannel(d3) && !isChannel(d1)) layout = 'NHWC';
  else if (isChannel(d1)) layout = 'NCHW';
  else if (staticDim(d1) === undefined && staticDim(d3) === undefined) layout = 'NCHW';
  else refuse(mf, `input "${input.name}" shape`, dims(input.shape), 'a channel dimension of 1 or 3 ([N, C, H, W] or [N, H, W, C])');
  const [cDim, hDim, wDim] = layout === 'NCHW' ? [d1, d2, d3] : [d3, d1, d2];
  const modelChannels = staticDim(cDim);
  const colour = draft.preprocessing.colour;
  const colourChannels = colour === undefined ? undefined : colour === 'grayscale' ? 1 : 3;
  const channels = (modelChannels ?? draft.input.channels ?? colourChannels ?? 3) as 1 | 3;
  if (draft.input.channels !== undefined && draft.input.channels !== channels) {
    if (draft.format === 'hugging-face') {
      refuse(mf, `input "${input.name}" channels`, channels, `3: ${pf} describes an image processor, which gives RGB images`);
    }
    refuse(f, draft.format === 'timm' ? 'pretrained_cfg.input_size channels' : 'input.channels', draft.input.channels, `${channels}, the channels of the model's input "${input.name}" ${dims(input.shape)}`);
  }
  if (colourChannels !== undefined && colourChannels !== channels && draft.format !== 'hugging-face' && draft.format !== 'timm') {
    refuse(pf, 'preprocessing.colour', colour, channels === 1 ? '"grayscale": the model takes 1 channel' : '"rgb" or "bgr": the model takes 3 channels');
  }
  const size = (label: 'height' | 'width', dim: number | string | undefined): number => {
    const fromModel = staticDim(dim);
    const fromDraft = draft.input[label];
    if (fromModel !== undefined && fromDraft !== undefined && fromModel !== fromDraft) {
      refuse(pf, `${draft.fields.size} ${label}`, fromDraft, `${fromModel}, the ${label} of the model's input "${input.name}" ${dims(input.shape)}`);
    }
    const v = fromModel ?? fromDraft;
    if (v === undefined) throw new InvalidModelCardError(`${mf}: input "${input.name}" has a dynamic ${label} ${dims(input.shape)} and ${f} gives none; expected a fixed ${label} in one of them`);
    return v;
  };
  const height = size('height', hDim);
  const width = size('width', wDim);
  const batch = staticDim(d0);
  if (batch !== undefined && batch !== 1) refuse(mf, `input "${input.name}" batch dimension`, batch, 'a dynamic batch dimension, or 1');
  const shape = layout === 'NCHW' ? [batch ?? -1, channels, height, width] : [batch ?? -1, height, width, channels];
  if (draft.input.shape !== undefined && show(draft.input.shape) !== show(shape)) refuse(f, 'input.shape', draft.input.shape, show(shape));

  // Output.
  let output = model.outputs[0]!;
  if (draft.output.name !== undefined) {
    const found = model.outputs.find((o) => o.name === draft.output.name);
    if (!found) refuse(f, 'output.name', draft.output.name, `one of the model's outputs ${show(model.outputs.map((o) => o.name))}`);
    output = found;
  } else if (model.outputs.length !== 1) {
    const preferred = model.outputs.find((o) => ['logits', 'probabilities', 'output', 'predictions'].includes(o.name));
    if (!preferred) throw new InvalidModelCardError(`${mf}: has ${model.outputs.length} outputs ${show(model.outputs.map((o) => o.name))}; expected one (name it in a card's output.name)`);
    output = preferred;
  }
  if (output.type !== 'float32' && output.type !== 'float16') refuse(mf, `output "${output.name}" type`, output.type, 'float32 or float16');
  if (output.shape.length !== 2) refuse(mf, `output "${output.name}" shape`, dims(output.shape), 'rank 2: [N, classes]');
  const classes = staticDim(output.shape[1]);
  const labelsFile = draft.labelsField === 'labelsFile' ? draft.files[draft.files.length - 1]! : draft.format === 'hugging-face' ? 'config.json' : f;
  if (classes !== undefined && classes !== draft.labels.length) {
    throw new InvalidModelCardError(`${labelsFile}: ${draft.labelsField === 'labelsFile' ? 'has' : `${draft.labelsField} has`} ${draft.labels.length} labels; the model's output "${output.name}" has ${classes} classes`);
  }
  const last = model.lastOperators.get(output.name) ?? '';
  const graphActivation = last === 'Softmax' || last === 'Sigmoid' ? last : undefined;
  const task = draft.output.task;
  let activation: Activation;
  if (draft.output.activation !== undefined) {
    activation = draft.output.activation;
    if (graphActivation && activation !== 'none') refuse(f, draft.fields.activation, activation, `"none": the graph already ends in ${graphActivation}`);
  } else {
    if (task === 'multi-label' && graphActivation === 'Softmax') {
      refuse(draft.format === 'hugging-face' ? 'config.json' : f, draft.format === 'hugging-face' ? 'problem_type' : 'output.task', draft.format === 'hugging-face' ? 'multi_label_classification' : task, 'a model whose scores are independent, but the graph ends in Softmax');
    }
    activation = graphActivation ? 'none' : task === 'multi-label' ? 'sigmoid' : 'softmax';
  }
  if (task === 'multi-label' && (activation === 'softmax' || graphActivation === 'Softmax')) {
    refuse(f, 'output.activation', activation, '"sigmoid" or "none" for a multi-label model (softmax makes the labels compete)');
  }

  // Preprocessing.
  const pre = draft.preprocessing;
  const mean = pre.mean ?? new Array<number>(channels).fill(0);
  const std = pre.std ?? new Array<number>(channels).fill(1);
  const preprocessing: ModelDescription['preprocessing'] = {
    colour: colour ?? (channels === 1 ? 'grayscale' : 'rgb'),
    resize: { ...pre.resize },
    rescale: pre.rescale,
    mean,
    std,
    invert: pre.invert,
  };
  checkNumbers(pf, draft.fields, preprocessing, channels);
  if (dtype === 'uint8') {
    if (preprocessing.rescale !== 1) refuse(pf, draft.fields.rescale, preprocessing.rescale, `1: the model's input "${input.name}" is uint8 and takes raw pixel values`);
    if (mean.some((m) => m !== 0) || std.some((s) => s !== 1)) refuse(pf, draft.fields.mean, mean, `absent (zeros, and std ones): the model's input "${input.name}" is uint8 and takes raw pixel values`);
  }
  checkResize(pf, draft, preprocessing.resize, height, width, channels);

  return {
    schemaVersion: 2,
    name: draft.name,
    version: draft.version,
    ...(draft.description !== undefined ? { description: draft.description } : {}),
    file: draft.modelFile,
    sha256: model.sha256,
    labels: draft.labels,
    input: { name: input.name, dtype, layout, channels, height, width, shape },
    output: {
      name: output.name,
      shape: [-1, draft.labels.length],
      activation,
      task,
      threshold: draft.output.threshold,
      ...(graphActivation ? { graphEndsIn: graphActivation } : {}),
    },
    preprocessing,
    source: { format: draft.format, files: [...draft.files, draft.modelFile] },
    ...(draft.metrics !== undefined ? { metrics: draft.metrics } : {}),
  };
}

function checkResize(file: string, draft: CardDraft, r: ModelDescription['preprocessing']['resize'], height: number, width: number, channels: number): void {
  const key = draft.format === 'card-v2' ? (k: string) => `preprocessing.resize.${k}` : (k: string) => (k === 'shortestEdge' ? draft.fields.resize : k);
  const allowed: Record<string, string[]> = {
    fit: [],
    stretch: ['width', 'height', 'crop', 'cropPct'],
    'shortest-edge': ['shortestEdge', 'crop', 'cropPct'],
    letterbox: ['fill'],
  };
  for (const k of ['width', 'height', 'shortestEdge', 'crop', 'cropPct', 'fill'] as const) {
    if (r[k] !== undefined && !allowed[r.mode]!.includes(k)) refuse(file, key(k), r[k], `absent with resize mode "${r.mode}"`);
  }
  if (r.mode === 'shortest-edge') {
    if (r.shortestEdge === undefined && r.cropPct !== undefined) r.shortestEdge = Math.floor(Math.max(height, width) / r.cropPct);
    if (r.shortestEdge === undefined) refuse(file, key('shortestEdge'), undefined, 'the short side\'s length after resizing (or cropPct)');
    if (r.shortestEdge < Math.max(height, width)) {
      refuse(file, key('shortestEdge'), r.shortestEdge, `at least ${Math.max(height, width)}, so the centre crop to ${width}x${height} fits inside every resized image`);
    }
    r.crop ??= 'floor';
  }
  if (r.mode === 'stretch') {
    r.width ??= width;
    r.height ??= height;
    if (r.width < width || r.height < height) refuse(file, key('width/height'), `${r.width}x${r.height}`, `at least the model's ${width}x${height}, so the centre crop fits`);
    if (r.width !== width || r.height !== height) r.crop ??= 'floor';
  }
  if (r.mode === 'letterbox') {
    r.fill ??= new Array<number>(channels).fill(0);
    if (r.fill.length !== channels || !r.fill.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) {
      refuse(file, key('fill'), r.fill, `${channels} integer${channels === 1 ? '' : 's'} from 0 to 255, one per channel`);
    }
  }
}

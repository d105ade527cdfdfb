/**
 * The field's own export folders, read as their authors left them: a Hugging Face export
 * (config.json + preprocessor_config.json, for the image processors listed in HF_PROCESSORS) and a timm
 * hub export (config.json with pretrained_cfg). Each becomes a CardDraft that model-folder.ts completes
 * from the ONNX model; every key either changes preprocessing as transformers/timm would, is known to be
 * descriptive, or is refused by name.
 */
import { InvalidModelCardError } from './errors.js';
import { PILLOW_RESAMPLE, type Interpolation } from './filters.js';
import {
  isObject,
  isPositiveInt,
  parseLabels,
  refuse,
  refuseUnknownKeys,
  show,
  type CardDraft,
} from './model-description.js';

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

export function huggingFaceDraft(config: Record<string, unknown>, raw: unknown, name: string): CardDraft {
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

export function timmDraft(config: Record<string, unknown>, name: string): CardDraft {
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

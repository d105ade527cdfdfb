/**
 * Model description v2: everything the core needs to feed a model and read its answer. It is made
 * from a card (v1 or v2) or from a Hugging Face / timm export folder plus the ONNX model itself
 * (model-folder.ts), checked against the model, and written back as a v2 card for review.
 *
 * It is plain JSON data on purpose: a worker thread can rebuild the preprocessor from it.
 *
 * A little over 300 lines: the description's types and the v2 card parser that checks each field of them
 * stay together, so a new field is added in one place.
 */
import type { Interpolation } from './filters.js';
import { INTERPOLATIONS } from './filters.js';
import { InvalidModelCardError } from './errors.js';

export type Dtype = 'float32' | 'float16' | 'uint8';
export type Layout = 'NCHW' | 'NHWC';
export type Colour = 'rgb' | 'bgr' | 'grayscale';
export type ResizeMode = 'fit' | 'stretch' | 'shortest-edge' | 'letterbox';
/**
 * How a centre crop's offset is rounded, since both exist in the wild and differ by a pixel:
 * 'floor' is Hugging Face's `(h - crop) // 2`; 'round' is torchvision's (and timm's)
 * `int(round((h - crop) / 2))`, with Python's halves-to-even.
 */
export type CropRounding = 'floor' | 'round';
/** Applied by the core to the model's output. 'none' when the graph already ends in it. */
export type Activation = 'softmax' | 'sigmoid' | 'none';
export type Task = 'single-label' | 'multi-label';

export interface ResizeSpec {
  /**
   * fit: Pillow's ImageOps.fit (centre crop to the input's aspect, then resize);
   * stretch: resize to width x height ignoring the aspect, then centre crop to the input size;
   * shortest-edge: resize the short side to `shortestEdge` (long side truncated), then centre crop;
   * letterbox: Pillow's ImageOps.pad (resize to fit inside, pad to the input size with `fill`).
   */
  mode: ResizeMode;
  interpolation: Interpolation;
  /** stretch: the size before the centre crop; the input size when absent. */
  width?: number;
  height?: number;
  /** shortest-edge: the short side's length after resizing. */
  shortestEdge?: number;
  /** timm's / ConvNext's rule, recorded for the reader: shortestEdge = floor(input size / cropPct). */
  cropPct?: number;
  /** Rounding of the centre crop's offset; 'floor' when absent. */
  crop?: CropRounding;
  /** letterbox: the padding's 8-bit value per channel (one value per model channel). */
  fill?: number[];
}

/** What every card version says of the model itself, whatever it says of inputs and preprocessing. */
export interface ModelIdentity {
  name: string;
  version: string;
  description?: string;
  /** Model file, relative to the card or folder. */
  file: string;
  /** Lower-case hex sha256 of the model file; checked before the model is loaded. */
  sha256: string;
  /** Class labels in output order. */
  labels: string[];
}

export interface ModelDescription extends ModelIdentity {
  schemaVersion: 2;
  input: {
    name: string;
    dtype: Dtype;
    layout: Layout;
    channels: 1 | 3;
    height: number;
    width: number;
    /** In the model's layout; -1 for a dynamic batch. */
    shape: number[];
  };
  output: {
    name: string;
    /** [-1, classes]. */
    shape: number[];
    activation: Activation;
    task: Task;
    /** multi-label: a label is answered when its score is at least this. */
    threshold: number;
    /** The graph's last operator when it is an activation (read from the ONNX protobuf). */
    graphEndsIn?: string;
  };
  preprocessing: {
    colour: Colour;
    resize: ResizeSpec;
    /** Multiplier from 8-bit pixel values to the model's range (1/255 maps to [0, 1]). */
    rescale: number;
    /** Per channel, subtracted after rescaling. */
    mean: number[];
    /** Per channel, divides after subtracting the mean. */
    std: number[];
    /** 255 - v before rescaling. */
    invert: boolean;
  };
  /** Where the description came from: the format and the files read. */
  source: { format: 'card-v1' | 'card-v2' | 'hugging-face' | 'timm'; files: string[] };
  /** A card's measured quality, carried as written. */
  metrics?: { testAccuracy?: number; [key: string]: unknown };
}

/** Floats per image. */
export const imageSize = (d: ModelDescription): number => d.input.channels * d.input.height * d.input.width;

/** A refusal that names the file, the field, what was found and what was expected. */
export function refuse(file: string, field: string, found: unknown, expected: string): never {
  throw new InvalidModelCardError(`${file}: ${field} is ${show(found)}; expected ${expected}`);
}

export function show(v: unknown): string {
  if (v === undefined) return 'missing';
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isPositiveInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
const isNumberArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));

const oneOf = <T extends string>(values: readonly T[]) => values.map((v) => `"${v}"`).join(', ');

/** Refuses keys a reader does not know, so a misspelt or unsupported option is never silently ignored. */
export function refuseUnknownKeys(file: string, prefix: string, obj: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      throw new InvalidModelCardError(`${file}: ${prefix}${key} is not an option model-deploy knows (known: ${known.join(', ')}); refusing rather than ignoring it`);
    }
  }
}

function str(file: string, obj: Record<string, unknown>, key: string, prefix = ''): string {
  const v = obj[key];
  if (typeof v !== 'string' || v === '') refuse(file, prefix + key, v, 'a non-empty string');
  return v;
}

function pick<T extends string>(file: string, field: string, v: unknown, values: readonly T[], fallback?: T): T {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'string' || !values.includes(v as T)) refuse(file, field, v, `one of ${oneOf(values)}`);
  return v as T;
}

export function parseLabels(file: string, field: string, v: unknown): string[] {
  if (!Array.isArray(v) || v.length < 1 || !v.every((l) => typeof l === 'string' && l !== '')) {
    refuse(file, field, v, 'an array of non-empty strings');
  }
  const seen = new Set<string>();
  for (const l of v as string[]) {
    if (seen.has(l)) refuse(file, field, l, 'each label once (this one repeats)');
    seen.add(l);
  }
  return v as string[];
}

/** Checks the per-channel and numeric parts of a description, whatever it was read from. */
export function checkNumbers(file: string, names: { mean: string; std: string; rescale: string }, d: ModelDescription['preprocessing'], channels: number): void {
  if (!(d.rescale > 0) || !Number.isFinite(d.rescale)) refuse(file, names.rescale, d.rescale, 'a positive number');
  if (d.mean.length !== channels) {
    throw new InvalidModelCardError(`${file}: ${names.mean} has ${d.mean.length} value${d.mean.length === 1 ? '' : 's'}; the model takes ${channels} channel${channels === 1 ? '' : 's'}`);
  }
  if (d.std.length !== channels) {
    throw new InvalidModelCardError(`${file}: ${names.std} has ${d.std.length} value${d.std.length === 1 ? '' : 's'}; the model takes ${channels} channel${channels === 1 ? '' : 's'}`);
  }
  d.std.forEach((s, i) => {
    if (!(s > 0)) refuse(file, `${names.std}[${i}]`, s, 'a positive number');
  });
}

const CARD_V2_KEYS = ['schemaVersion', 'name', 'version', 'description', 'file', 'sha256', 'labels', 'labelsFile', 'input', 'output', 'preprocessing', 'source', 'metrics', 'training', 'onnx', 'samples', 'createdAt'];

/**
 * Parses a v2 card as written (the folder may fill what it leaves out: input name, dtype, layout and
 * shape come from the model when absent). Labels may come from `labelsFile` (one per line), which
 * the caller reads and passes in.
 */
export function parseCardV2(raw: Record<string, unknown>, file: string, labelsFromFile?: string[]): CardDraft {
  refuseUnknownKeys(file, '', raw, CARD_V2_KEYS);
  const name = str(file, raw, 'name');
  const version = str(file, raw, 'version');
  const modelFile = str(file, raw, 'file');
  const sha256 = raw.sha256;
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) refuse(file, 'sha256', sha256, '64 lower-case hex digits');
  let labels: string[];
  if (raw.labels !== undefined && raw.labelsFile !== undefined) refuse(file, 'labelsFile', raw.labelsFile, 'absent when labels are given inline');
  if (raw.labels !== undefined) labels = parseLabels(file, 'labels', raw.labels);
  else if (labelsFromFile) labels = labelsFromFile;
  else refuse(file, 'labels', undefined, 'an array of labels, or labelsFile naming a file with one label per line');

  // Input and output may be left to the model (names, dtype, layout and size are read from it).
  const input = raw.input ?? {};
  if (!isObject(input)) refuse(file, 'input', input, 'an object');
  refuseUnknownKeys(file, 'input.', input, ['name', 'dtype', 'layout', 'channels', 'height', 'width', 'shape']);
  const output = raw.output ?? {};
  if (!isObject(output)) refuse(file, 'output', output, 'an object');
  refuseUnknownKeys(file, 'output.', output, ['name', 'shape', 'activation', 'task', 'threshold', 'graphEndsIn']);
  const pre = raw.preprocessing;
  if (!isObject(pre)) refuse(file, 'preprocessing', pre, 'an object');
  refuseUnknownKeys(file, 'preprocessing.', pre, ['colour', 'resize', 'rescale', 'mean', 'std', 'invert']);
  const resize = pre.resize;
  if (!isObject(resize)) refuse(file, 'preprocessing.resize', resize, 'an object');
  refuseUnknownKeys(file, 'preprocessing.resize.', resize, ['mode', 'interpolation', 'width', 'height', 'shortestEdge', 'cropPct', 'crop', 'fill']);

  const optionalInt = (obj: Record<string, unknown>, key: string, prefix: string): number | undefined => {
    if (obj[key] === undefined) return undefined;
    if (!isPositiveInt(obj[key])) refuse(file, prefix + key, obj[key], 'a positive integer');
    return obj[key] as number;
  };
  const optionalNumbers = (obj: Record<string, unknown>, key: string, prefix: string): number[] | undefined => {
    if (obj[key] === undefined) return undefined;
    if (!isNumberArray(obj[key])) refuse(file, prefix + key, obj[key], 'an array of numbers');
    return obj[key] as number[];
  };

  const channels = input.channels;
  if (channels !== undefined && channels !== 1 && channels !== 3) refuse(file, 'input.channels', channels, '1 or 3');
  const mode = pick(file, 'preprocessing.resize.mode', resize.mode, ['fit', 'stretch', 'shortest-edge', 'letterbox'] as const);
  const spec: ResizeSpec = {
    mode,
    interpolation: pick(file, 'preprocessing.resize.interpolation', resize.interpolation, INTERPOLATIONS),
  };
  const w = optionalInt(resize, 'width', 'preprocessing.resize.');
  const h = optionalInt(resize, 'height', 'preprocessing.resize.');
  if (w !== undefined) spec.width = w;
  if (h !== undefined) spec.height = h;
  const se = optionalInt(resize, 'shortestEdge', 'preprocessing.resize.');
  if (se !== undefined) spec.shortestEdge = se;
  if (resize.cropPct !== undefined) {
    if (typeof resize.cropPct !== 'number' || !(resize.cropPct > 0 && resize.cropPct <= 1)) refuse(file, 'preprocessing.resize.cropPct', resize.cropPct, 'a number in (0, 1]');
    spec.cropPct = resize.cropPct;
  }
  if (resize.crop !== undefined) spec.crop = pick(file, 'preprocessing.resize.crop', resize.crop, ['floor', 'round'] as const);
  const fill = optionalNumbers(resize, 'fill', 'preprocessing.resize.');
  if (fill !== undefined) spec.fill = fill;
  if (typeof (pre.invert ?? false) !== 'boolean') refuse(file, 'preprocessing.invert', pre.invert, 'true or false');
  if (pre.rescale !== undefined && typeof pre.rescale !== 'number') refuse(file, 'preprocessing.rescale', pre.rescale, 'a positive number');
  const threshold = output.threshold ?? 0.5;
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold < 1)) refuse(file, 'output.threshold', output.threshold, 'a number between 0 and 1');
  if (input.shape !== undefined && !(Array.isArray(input.shape) && input.shape.every((x) => Number.isInteger(x)))) {
    refuse(file, 'input.shape', input.shape, 'an array of integers (-1 for a dynamic size)');
  }

  const draft: CardDraft = {
    file,
    name,
    version,
    ...(typeof raw.description === 'string' ? { description: raw.description } : {}),
    modelFile,
    sha256,
    labels,
    labelsField: raw.labels !== undefined ? 'labels' : 'labelsFile',
    input: {
      name: input.name === undefined ? undefined : str(file, input, 'name', 'input.'),
      dtype: input.dtype === undefined ? undefined : pick(file, 'input.dtype', input.dtype, ['float32', 'float16', 'uint8'] as const),
      layout: input.layout === undefined ? undefined : pick(file, 'input.layout', input.layout, ['NCHW', 'NHWC'] as const),
      channels: channels as 1 | 3 | undefined,
      height: optionalInt(input, 'height', 'input.'),
      width: optionalInt(input, 'width', 'input.'),
      shape: input.shape as number[] | undefined,
    },
    output: {
      name: output.name === undefined ? undefined : str(file, output, 'name', 'output.'),
      activation: output.activation === undefined ? undefined : pick(file, 'output.activation', output.activation, ['softmax', 'sigmoid', 'none'] as const),
      task: pick(file, 'output.task', output.task, ['single-label', 'multi-label'] as const, 'single-label'),
      threshold,
    },
    preprocessing: {
      colour: pre.colour === undefined ? undefined : pick(file, 'preprocessing.colour', pre.colour, ['rgb', 'bgr', 'grayscale'] as const),
      resize: spec,
      rescale: (pre.rescale as number | undefined) ?? 1 / 255,
      mean: optionalNumbers(pre, 'mean', 'preprocessing.'),
      std: optionalNumbers(pre, 'std', 'preprocessing.'),
      invert: (pre.invert as boolean | undefined) ?? false,
    },
    fields: {
      mean: 'preprocessing.mean',
      std: 'preprocessing.std',
      rescale: 'preprocessing.rescale',
      size: 'input.height/width',
      labels: raw.labels !== undefined ? 'labels' : 'labelsFile',
      activation: 'output.activation',
      resize: 'preprocessing.resize',
    },
    format: 'card-v2',
    files: [file],
  };
  if (isObject(raw.metrics)) draft.metrics = raw.metrics;
  return draft;
}

/**
 * What a card or an export folder says, before the model fills in the rest. `fields` names, in the
 * source's own vocabulary, the key each part came from, so a refusal can point at it.
 */
export interface CardDraft {
  file: string;
  name: string;
  version: string;
  description?: string;
  modelFile: string;
  /** Declared by a card (checked against the file); absent for export folders (computed). */
  sha256?: string;
  labels: string[];
  labelsField: string;
  input: { name?: string; dtype?: Dtype; layout?: Layout; channels?: 1 | 3; height?: number; width?: number; shape?: number[] };
  output: { name?: string; activation?: Activation; task: Task; threshold: number };
  preprocessing: {
    colour?: Colour;
    resize: ResizeSpec;
    rescale: number;
    mean?: number[];
    std?: number[];
    invert: boolean;
  };
  fields: { mean: string; std: string; rescale: string; size: string; labels: string; activation: string; resize: string };
  /** Which file the preprocessing keys came from (differs from `file` for Hugging Face folders). */
  preprocessingFile?: string;
  format: ModelDescription['source']['format'];
  files: string[];
  metrics?: ModelDescription['metrics'];
}

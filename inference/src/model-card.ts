import { InvalidModelCardError } from './errors.js';
import type { CardDraft, ModelDescription, ModelIdentity } from './model-description.js';

/**
 * The v1 model card (`card.json`): float32 NCHW input, ImageOps.fit + Lanczos, one scale factor. Still
 * read as it was; the core works on its v2 translation (model-description.ts).
 */
export interface ModelCardV1 extends ModelIdentity {
  schemaVersion: 1;
  input: { name: string; dtype: 'float32'; shape: [number, number, number, number]; layout: 'NCHW' };
  output: { name: string; dtype: 'float32'; shape: [number, number]; activation: 'softmax' | 'none' };
  preprocessing: {
    colorMode: 'grayscale' | 'rgb';
    resize: { width: number; height: number; fit: 'cover'; position: 'centre'; filter: 'lanczos' };
    /** Multiplier from 8-bit pixel values to model input (1/255 maps to [0, 1]). */
    scale: number;
    /** Invert pixel values (255 - v) before scaling. */
    invert: boolean;
  };
  metrics?: {
    testAccuracy?: number;
    perClassAccuracy?: Record<string, number>;
    evaluationSet?: { images: string; labels: string; count: number; accuracy: number };
  };
  [extra: string]: unknown;
}

export interface InputGeometry {
  channels: 1 | 3;
  height: number;
  width: number;
  /** channels * height * width: floats per image. */
  size: number;
}

function fail(problem: string): never {
  throw new InvalidModelCardError(`Invalid model card: ${problem}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPositiveInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;

/** Validates a parsed card and returns it typed; throws InvalidModelCardError naming the field. */
export function parseModelCard(raw: unknown): ModelCardV1 {
  if (!isObject(raw)) fail('expected a JSON object');
  if (raw.schemaVersion !== 1) fail(`schemaVersion must be 1 (got ${JSON.stringify(raw.schemaVersion)})`);
  for (const key of ['name', 'version', 'file'] as const) {
    if (typeof raw[key] !== 'string' || raw[key] === '') fail(`${key} must be a non-empty string`);
  }
  if (typeof raw.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(raw.sha256)) fail('sha256 must be 64 lower-case hex digits');
  const labels = raw.labels;
  if (!Array.isArray(labels) || labels.length < 2 || !labels.every((l) => typeof l === 'string' && l !== '')) {
    fail('labels must be an array of at least two non-empty strings');
  }
  const input = raw.input;
  if (!isObject(input) || typeof input.name !== 'string') fail('input.name must be a string');
  if (input.dtype !== 'float32') fail(`input.dtype must be "float32" (got ${JSON.stringify(input.dtype)})`);
  if (input.layout !== 'NCHW') fail(`input.layout must be "NCHW" (got ${JSON.stringify(input.layout)})`);
  const shape = input.shape;
  if (!Array.isArray(shape) || shape.length !== 4 || shape[0] !== -1 || !shape.slice(1).every(isPositiveInt)) {
    fail('input.shape must be [-1, channels, height, width] with a dynamic batch dimension');
  }
  if (shape[1] !== 1 && shape[1] !== 3) fail('input.shape channels must be 1 or 3');
  const output = raw.output;
  if (!isObject(output) || typeof output.name !== 'string') fail('output.name must be a string');
  if (!Array.isArray(output.shape) || output.shape.length !== 2 || output.shape[1] !== labels.length) {
    fail(`output.shape must be [-1, ${labels.length}] (one score per label)`);
  }
  if (output.activation !== 'softmax' && output.activation !== 'none') fail('output.activation must be "softmax" or "none"');
  const pre = raw.preprocessing;
  if (!isObject(pre)) fail('preprocessing must be an object');
  const expectedMode = shape[1] === 1 ? 'grayscale' : 'rgb';
  if (pre.colorMode !== expectedMode) fail(`preprocessing.colorMode must be "${expectedMode}" for ${shape[1]} input channel(s)`);
  const resize = pre.resize;
  if (!isObject(resize) || resize.width !== shape[3] || resize.height !== shape[2]) {
    fail(`preprocessing.resize must be ${shape[3]}x${shape[2]} to match input.shape`);
  }
  if (resize.fit !== 'cover' || resize.position !== 'centre' || resize.filter !== 'lanczos') {
    fail('preprocessing.resize supports only fit "cover", position "centre", filter "lanczos" (the seed\'s ImageOps.fit)');
  }
  if (typeof pre.scale !== 'number' || !(pre.scale > 0)) fail('preprocessing.scale must be a positive number');
  if (typeof pre.invert !== 'boolean') fail('preprocessing.invert must be a boolean');
  return raw as unknown as ModelCardV1;
}

/** Geometry of one image in the model's input, used by preprocessing and batching. */
export function inputGeometry(d: ModelDescription): InputGeometry {
  const { channels, height, width } = d.input;
  return { channels, height, width, size: channels * height * width };
}

/**
 * A v1 card in the v2 vocabulary. v1's `output.activation` said what the graph already applies
 * ("softmax": the model answers probabilities); v2's says what the core applies, so they swap.
 */
export function cardV1ToDraft(raw: unknown): CardDraft {
  const card = parseModelCard(raw);
  const [, channels, height, width] = card.input.shape;
  return {
    file: 'card.json',
    name: card.name,
    version: card.version,
    ...(card.description !== undefined ? { description: card.description } : {}),
    modelFile: card.file,
    sha256: card.sha256,
    labels: card.labels,
    labelsField: 'labels',
    input: { name: card.input.name, dtype: 'float32', layout: 'NCHW', channels: channels as 1 | 3, height, width },
    output: { name: card.output.name, activation: card.output.activation === 'softmax' ? 'none' : 'softmax', task: 'single-label', threshold: 0.5 },
    preprocessing: {
      colour: card.preprocessing.colorMode,
      resize: { mode: 'fit', interpolation: 'lanczos' },
      rescale: card.preprocessing.scale,
      invert: card.preprocessing.invert,
    },
    fields: { mean: 'preprocessing.mean', std: 'preprocessing.std', rescale: 'preprocessing.scale', size: 'input.shape', labels: 'labels', activation: 'output.activation', resize: 'preprocessing.resize' },
    format: 'card-v1',
    files: ['card.json'],
    ...(card.metrics !== undefined ? { metrics: card.metrics } : {}),
  };
}

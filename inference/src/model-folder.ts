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
import {
  checkNumbers,
  isObject,
  parseCardV2,
  parseLabels,
  refuse,
  show,
  type Activation,
  type CardDraft,
  type Dtype,
  type Layout,
  type ModelDescription,
} from './model-description.js';
import { cardV1ToDraft } from './model-card.js';
import { huggingFaceDraft, timmDraft } from './export-folders.js';

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

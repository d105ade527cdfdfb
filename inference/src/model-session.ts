/**
 * Opening a model folder as an onnxruntime session: the folder's draft, a card's sha256, the graph's
 * last operators, the session's metadata, and the description they resolve to (model-folder.ts checks
 * that they agree). Also the float16 tensor helpers the classifier feeds and reads the session with.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { InvalidModelCardError, ModelIntegrityError } from './errors.js';
import { fromFloat16Bits } from './float16.js';
import type { ModelDescription } from './model-description.js';
import { readDraft, resolveDescription, type ModelFacts } from './model-folder.js';
import { lastOperators } from './onnx-graph.js';

/**
 * Opens the model in a folder: reads what the folder says, checks a card's sha256, creates the
 * session and completes the description from it. The session is released if the description and the
 * model disagree.
 */
export async function openModel(
  dir: string,
  sessionOptions: ort.InferenceSession.SessionOptions,
  modelName?: string,
): Promise<{ description: ModelDescription; session: ort.InferenceSession }> {
  const modelDir = resolve(dir);
  const draft = await readDraft(modelDir);
  if (modelName !== undefined) draft.name = modelName;
  const modelPath = join(modelDir, draft.modelFile);
  let bytes: Buffer;
  try {
    bytes = await readFile(modelPath);
  } catch (cause) {
    throw new InvalidModelCardError(`${draft.file}: names the model file ${draft.modelFile}, which cannot be read (${(cause as Error).message})`, { cause });
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (draft.sha256 !== undefined && sha256 !== draft.sha256) {
    throw new ModelIntegrityError(
      `Model file ${modelPath} has sha256 ${sha256}, but its card declares ${draft.sha256}; refusing to serve a model that is not the one described`,
    );
  }
  let operators: Map<string, string>;
  try {
    operators = lastOperators(bytes);
  } catch (cause) {
    throw new InvalidModelCardError(`${draft.modelFile}: is not an ONNX model (${(cause as Error).message})`, { cause });
  }
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, sessionOptions);
  } catch (cause) {
    throw new InvalidModelCardError(`${draft.modelFile}: onnxruntime cannot load it (${(cause as Error).message.split('\n')[0]})`, { cause });
  }
  const facts: ModelFacts = {
    file: draft.modelFile,
    sha256,
    inputs: session.inputMetadata.map((m) => ({ name: m.name, type: m.isTensor ? m.type : 'non-tensor', shape: m.isTensor ? [...m.shape] : [] })),
    outputs: session.outputMetadata.map((m) => ({ name: m.name, type: m.isTensor ? m.type : 'non-tensor', shape: m.isTensor ? [...m.shape] : [] })),
    lastOperators: operators,
  };
  try {
    return { description: resolveDescription(draft, facts), session };
  } catch (error) {
    await session.release();
    throw error;
  }
}

/**
 * The description a folder resolves to, as the service would serve it (for `model describe` and
 * `model card`, and for tests); opens a one-thread session to read the model's metadata.
 */
export async function describeModel(modelDir: string, modelName?: string): Promise<ModelDescription> {
  const { description, session } = await openModel(modelDir, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'disabled' }, modelName);
  await session.release();
  return description;
}

/**
 * Where the runtime has Float16Array (Node 24), onnxruntime-common turns a float16 tensor's Uint16Array
 * into a Float16Array view, which onnxruntime-node 1.30's native binding cannot read (it sees 0 bytes:
 * "not enough space"). Keep the raw bits, which the binding reads as before.
 */
export function float16Tensor(bits: Uint16Array, dims: number[]): ort.Tensor {
  const tensor = new ort.Tensor('float16', bits, dims);
  (tensor as unknown as { cpuData: Uint16Array }).cpuData = bits;
  return tensor;
}

/** A float16 output arrives as raw bits (Uint16Array) or, where Float16Array exists, as decoded numbers. */
export function float16Scores(data: unknown): Float32Array {
  return data instanceof Uint16Array ? fromFloat16Bits(data) : Float32Array.from(data as ArrayLike<number>);
}

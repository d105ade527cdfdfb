// The model folder as the stack sees it: a set of files, content-addressed. infra/ never interprets a
// model (it imports no app code): it refuses a folder that is clearly not a model folder, hashes the
// model's files to name the blobs, the image tag and the edge deployment, and leaves the deep check
// (every refusal the service would make at start-up) to the core itself, which the image build runs on
// the copied folder (the Dockerfile's `model` stage), so nothing is pushed from a folder the core refuses.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

/**
 * The model's files: the top level of the folder, by kind. The Dockerfile's model stage copies exactly
 * these (`COPY ${MODEL_DIR}/*.onnx ${MODEL_DIR}/*.json ${MODEL_DIR}/*.txt`), and .dockerignore sends them;
 * everything else in the folder (READMEs, training scripts, samples, subfolders) is not part of the model.
 */
export const MODEL_FILE_EXTENSIONS = ['.onnx', '.json', '.txt'] as const;

/** Model names and versions end up in blob paths, image tags, Kubernetes annotations and V2 URLs. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
const VERSION = /^[0-9A-Za-z.+_-]{1,64}$/;

export interface ModelFile {
  /** Relative to the model folder (top level only). */
  path: string;
  sha256: string;
  bytes: number;
}

export interface ModelFolder {
  /** The folder as given (relative to the project directory Pulumi runs in). */
  dir: string;
  /** `modelName` config, else card.json's name, else the folder's name: the V2 model name the apps serve. */
  name: string;
  /** card.json's version, else the first 12 hex digits of the content hash. */
  version: string;
  /** sha256 over the sorted "<path> <sha256>" lines of the model's files, lowercase hex. */
  contentSha256: string;
  /** Names what was deployed: "<version>-<12 hex of the content hash>", or the 12 hex digits alone without a card. */
  revision: string;
  /** What the folder is, by its files (the core decides the details). */
  format: 'card' | 'export';
  /** The ONNX model among the files (card.json's "file", else model.onnx). */
  modelFile: string;
  files: ModelFile[];
}

/** Thrown for a folder that is clearly not a model folder; the message names the file, key, value found and value expected. */
export class ModelFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFolderError';
  }
}

/** sha256 of a file, read in chunks (exports of a few hundred MB are common). */
function sha256File(path: string): string {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** The content hash of a set of files: independent of the order they were listed in and of where the folder lives. */
export function contentHash(files: Pick<ModelFile, 'path' | 'sha256'>[]): string {
  const lines = files.map((f) => `${f.path} ${f.sha256}\n`).sort();
  return createHash('sha256').update(lines.join('')).digest('hex');
}

const show = (v: unknown): string => (v === undefined ? 'missing' : JSON.stringify(v));

function readJsonObject(dir: string, file: string): Record<string, unknown> {
  const path = join(dir, file);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ModelFolderError(`${path} is not readable JSON (${(e as Error).message}); expected a JSON object.`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ModelFolderError(`${path} holds ${Array.isArray(value) ? 'an array' : show(value)}; expected a JSON object.`);
  }
  return value as Record<string, unknown>;
}

const isModelFile = (name: string): boolean => MODEL_FILE_EXTENSIONS.some((ext) => name.endsWith(ext)) && !name.startsWith('.');

/**
 * Reads `dir` as a model folder: a model-deploy card folder (card.json + the model file it names) or a
 * Hugging Face / timm export (model.onnx + config.json [+ preprocessor_config.json]). `modelName`
 * (the stack's modelName config) overrides the name.
 */
export function readModelFolder(dir: string, modelName?: string): ModelFolder {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a folder');
    entries = readdirSync(dir).sort();
  } catch (e) {
    throw new ModelFolderError(
      `modelDir ${dir} cannot be read (${(e as Error).message}); expected a model folder (card.json and the model file it names, or a Hugging Face or timm export: model.onnx, config.json).`,
    );
  }
  const files = entries.filter((f) => isModelFile(f) && statSync(join(dir, f)).isFile());
  const has = (f: string) => files.includes(f);

  let card: Record<string, unknown> | undefined;
  let modelFile = 'model.onnx';
  if (has('card.json')) {
    card = readJsonObject(dir, 'card.json');
    const problems: string[] = [];
    const field = (key: string, re: RegExp, expected: string): string | undefined => {
      const v = card![key];
      if (v === undefined && key === 'sha256') return undefined;
      if (typeof v !== 'string' || !re.test(v)) {
        problems.push(`"${key}" is ${show(v)}; expected ${expected}`);
        return undefined;
      }
      return v;
    };
    field('name', NAME, "a model name (letters, digits, '.', '_', '-')");
    field('version', VERSION, 'a version string');
    const file = field('file', /^[A-Za-z0-9._-]+\.onnx$/, 'the name of a .onnx file at the top of the model folder');
    const sha256 = field('sha256', /^[0-9a-f]{64}$/, '64 lowercase hex digits');
    if (card.labelsFile !== undefined) {
      field('labelsFile', /^[A-Za-z0-9][A-Za-z0-9._-]*\.(txt|json)$/, 'a .txt or .json file at the top of the model folder (the images copy only those)');
    }
    if (problems.length > 0) throw new ModelFolderError(`${join(dir, 'card.json')} is invalid: ${problems.join('; ')}.`);
    modelFile = file!;
    if (!has(modelFile)) throw new ModelFolderError(`${join(dir, 'card.json')}: "file" is ${show(modelFile)}, which is not in the folder; expected the model file beside card.json.`);
    if (typeof card.labelsFile === 'string' && !has(card.labelsFile)) {
      throw new ModelFolderError(`${join(dir, 'card.json')}: "labelsFile" is ${show(card.labelsFile)}, which is not in the folder; expected a labels file beside card.json.`);
    }
    if (sha256 !== undefined) {
      const actual = sha256File(join(dir, modelFile));
      if (actual !== sha256) {
        throw new ModelFolderError(`${join(dir, 'card.json')}: "sha256" is ${sha256}; expected ${actual}, the sha256 of ${modelFile} (retrain, or write the card again with npm run model -- card).`);
      }
    }
  } else {
    if (!has('config.json')) {
      throw new ModelFolderError(
        `modelDir ${dir} holds neither card.json nor config.json (found: ${entries.join(', ') || 'nothing'}); expected a model-deploy card folder (card.json + the model file), a Hugging Face export (model.onnx, config.json, preprocessor_config.json) or a timm export (model.onnx, config.json with pretrained_cfg).`,
      );
    }
    if (!has('model.onnx')) {
      throw new ModelFolderError(`modelDir ${dir} has config.json but no model.onnx (found: ${entries.join(', ')}); expected the ONNX export of the model as model.onnx.`);
    }
    readJsonObject(dir, 'config.json');
    if (has('preprocessor_config.json')) readJsonObject(dir, 'preprocessor_config.json');
  }

  const hashed = files.map((path) => {
    const full = join(dir, path);
    return { path, sha256: sha256File(full), bytes: statSync(full).size };
  });
  const digest = contentHash(hashed);
  const short = digest.slice(0, 12);
  const folderName = basename(dir === '.' ? process.cwd() : dir);
  const name = modelName || (card ? String(card.name) : folderName);
  if (!NAME.test(name)) {
    throw new ModelFolderError(`modelDir ${dir}: the folder name ${show(name)} cannot name the model; expected letters, digits, '.', '_', '-' (or set modelName).`);
  }
  const version = card ? String(card.version) : short;
  return {
    dir,
    name,
    version,
    contentSha256: digest,
    revision: card ? `${version}-${short}` : short,
    format: card ? 'card' : 'export',
    modelFile,
    files: hashed,
  };
}

/** A Docker tag / label value derived from a model revision ("0.1.0+abc-0123456789ab" -> "0.1.0-abc-0123456789ab"). */
export function imageTagFor(revision: string): string {
  const tag = revision.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[.-]+/, '');
  return (tag || 'latest').slice(0, 128);
}

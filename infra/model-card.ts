// The model card beside the artifact: the only thing the program reads from the checkout at run time
// (name, version and sha256 label the blobs, the images and the edge deployment).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ModelCardSummary {
  name: string;
  version: string;
  /** sha256 of the model file, lowercase hex. */
  sha256: string;
  /** The model file's name inside the model folder. */
  file: string;
}

/** Reads and checks `<dir>/card.json`; fails with a sentence saying what is missing or wrong. */
export function readModelCard(dir: string): ModelCardSummary {
  const path = join(dir, 'card.json');
  if (!existsSync(path)) {
    throw new Error(`The model card ${path} does not exist: train or copy the model first (model/README.md), or set modelDir.`);
  }
  let card: Record<string, unknown>;
  try {
    card = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`The model card ${path} is not valid JSON: ${(e as Error).message}`);
  }
  const problems: string[] = [];
  const text = (k: string, re: RegExp, expected: string) => {
    const v = card[k];
    if (typeof v !== 'string' || !re.test(v)) problems.push(`"${k}" is ${JSON.stringify(v)}; expected ${expected}`);
    return String(v);
  };
  const summary: ModelCardSummary = {
    name: text('name', /^[a-z0-9][a-z0-9._-]{0,62}$/, 'a lowercase name'),
    version: text('version', /^[0-9A-Za-z.+_-]{1,64}$/, 'a version string'),
    sha256: text('sha256', /^[0-9a-f]{64}$/, '64 lowercase hex digits'),
    file: text('file', /^[A-Za-z0-9._-]+$/, 'a file name in the model folder'),
  };
  if (problems.length > 0) throw new Error(`The model card ${path} is invalid: ${problems.join('; ')}.`);
  if (!existsSync(join(dir, summary.file))) {
    throw new Error(`The model file ${join(dir, summary.file)} named by ${path} does not exist.`);
  }
  return summary;
}

/** A Docker tag / label value derived from the model version ("0.1.0+abc" -> "0.1.0-abc"). */
export function imageTagFor(version: string): string {
  const tag = version.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[.-]+/, '');
  return (tag || 'latest').slice(0, 128);
}

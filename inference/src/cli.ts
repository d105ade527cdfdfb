#!/usr/bin/env node
/**
 * `npm run predict -- <image files or folders>`: classifies images with the bundled model, one line
 * per file: `<file>\t<label>\t<confidence>`. Options: --model-dir <dir>, --top <k>, --json.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Classifier } from './classifier.js';
import { InferenceError } from './errors.js';

// HEIC files are listed too, so that a folder of iPhone photos gets their refusal rather than silence.
const IMAGE_FILE = /\.(png|jpe?g|gif|webp|avif|tiff?|hei[cf])$/i;
const defaultModelDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../model');

async function expand(path: string): Promise<string[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [path];
  const entries = (await readdir(path)).filter((f) => IMAGE_FILE.test(f)).sort();
  return entries.map((f) => join(path, f));
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'model-dir': { type: 'string', default: defaultModelDir },
      top: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || positionals.length === 0) {
    console.error('usage: npm run predict -- [--top K] [--json] [--model-dir DIR] <image files or folders>');
    return positionals.length === 0 && !values.help ? 2 : 0;
  }
  const topK = Number(values.top);
  let files: string[] = [];
  for (const p of positionals) {
    try {
      files = files.concat(await expand(p));
    } catch (error) {
      console.error(`predict: cannot read ${p}: ${(error as Error).message}`);
      return 2;
    }
  }
  const classifier = await Classifier.load({ modelDir: values['model-dir'] });
  let failures = 0;
  try {
    const images = await Promise.all(files.map((f) => readFile(f)));
    const results = await classifier.classifyAll(images, { topK });
    results.forEach((r, i) => {
      const file = files[i]!;
      if (!r.ok) {
        failures++;
        console.error(`${file}\terror\t${r.error.message}`);
      } else if (values.json) {
        console.log(JSON.stringify({ file, label: r.prediction.label, confidence: r.prediction.confidence, top: r.prediction.top }));
      } else {
        const extra = topK > 1 ? '\t' + r.prediction.top.map((t) => `${t.label}:${t.probability.toFixed(3)}`).join(' ') : '';
        console.log(`${file}\t${r.prediction.label}\t${r.prediction.confidence.toFixed(3)}${extra}`);
      }
    });
  } finally {
    await classifier.close();
  }
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`predict: ${error instanceof InferenceError || error instanceof RangeError ? (error as Error).message : String(error)}`);
    process.exit(1);
  },
);

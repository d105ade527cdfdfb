#!/usr/bin/env node
/**
 * `npm run model -- describe <dir>`: prints the description a model folder resolves to (card or
 * Hugging Face / timm export, completed from the ONNX model and checked against it), exactly what the
 * service would serve. `npm run model -- card <dir> [--out FILE]`: the same as a v2 card, with the
 * model's sha256, for review in a pull request; stdout by default, since the folder may be read-only.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { REDUCE_TO_MULTIPLE } from './decode.js';
import { ImagePreprocessor } from './image.js';
import { describeModel } from './model-session.js';
import { InferenceError } from './errors.js';
import type { ModelDescription } from './model-description.js';

const USAGE = 'usage: npm run model -- describe <model dir> [--name NAME] [--json]\n       npm run model -- card <model dir> [--name NAME] [--out FILE]';

/** The description in a few lines, for a person. */
export function summary(d: ModelDescription): string {
  const r = d.preprocessing.resize;
  const resize =
    r.mode === 'fit'
      ? `fit (ImageOps.fit) to ${d.input.width}x${d.input.height}`
      : r.mode === 'stretch'
        ? `stretch to ${r.width}x${r.height}${r.crop ? `, centre crop ${d.input.width}x${d.input.height} (${r.crop})` : ''}`
        : r.mode === 'shortest-edge'
          ? `shortest edge ${r.shortestEdge}${r.cropPct ? ` (crop_pct ${r.cropPct})` : ''}, centre crop ${d.input.width}x${d.input.height} (${r.crop === 'round' ? 'torchvision rounding' : 'Hugging Face floor'})`
          : `letterbox (ImageOps.pad) to ${d.input.width}x${d.input.height}, fill ${JSON.stringify(r.fill)}`;
  const p = d.preprocessing;
  const o = d.output;
  const rows: Array<[string, string]> = [
    ['model', `${d.name} ${d.version} (${d.source.format}: ${d.source.files.join(', ')})`],
    ['sha256', d.sha256],
    ['input', `"${d.input.name}" ${d.input.dtype} ${d.input.layout} ${JSON.stringify(d.input.shape)}`],
    ['colour', p.colour],
    ['resize', `${resize}, ${r.interpolation}`],
    ['values', `(${p.invert ? '255 - v' : 'v'}) * ${p.rescale}, - mean ${JSON.stringify(p.mean)}, / std ${JSON.stringify(p.std)}`],
    [
      'output',
      `"${o.name}" ${JSON.stringify(o.shape)}, ${o.activation === 'none' ? `no activation added (the graph ends in ${o.graphEndsIn ?? 'none'})` : `${o.activation} applied by model-deploy`}, ${o.task}${o.task === 'multi-label' ? ` (threshold ${o.threshold})` : ''}`,
    ],
    ['decode', decodePlan(d)],
    ['labels', d.labels.join(', ')],
  ];
  return rows.map(([k, v]) => `${k.padEnd(8)}${v}`).join('\n');
}

/** How camera-sized JPEGs are decoded for this model, at the default REDUCING_GAP and at 2. */
function decodePlan(d: ModelDescription): string {
  const frames = [{ width: 1920, height: 1080 }, { width: 4032, height: 3024 }];
  const scales = (gap: number): string[] => {
    const pre = new ImagePreprocessor(d, { maxImageBytes: 1, maxImagePixels: 1 }, { reducingGap: gap });
    return frames.map((f) => pre.jpegScale(f)).map((denom) => (denom === 1 ? 'whole' : `at 1/${denom}`));
  };
  const byDefault = scales(REDUCE_TO_MULTIPLE);
  const two = scales(2);
  const plan = `JPEG 1920x1080 ${byDefault[0]}, 4032x3024 ${byDefault[1]} (REDUCING_GAP ${REDUCE_TO_MULTIPLE})`;
  return two.join() === byDefault.join() ? plan : `${plan}; REDUCING_GAP=2: ${two[0]}, ${two[1]} (docs/models.md)`;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { out: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  });
  const [command, dir, ...extra] = positionals;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if ((command !== 'describe' && command !== 'card') || dir === undefined || extra.length > 0) {
    console.error(USAGE);
    return 2;
  }
  if (command === 'describe' && values.out !== undefined) {
    console.error('model: --out goes with "card"; "describe" prints to stdout');
    return 2;
  }
  const description = await describeModel(dir, values.name);
  // A card is the description itself: a v2 card that reads back to the same description.
  const text = command === 'describe' && !values.json ? `${summary(description)}\n` : `${JSON.stringify(description, null, 2)}\n`;
  if (values.out !== undefined) {
    await writeFile(values.out, text);
    console.error(`model: wrote ${values.out}`);
  } else {
    process.stdout.write(text);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`model: ${error instanceof InferenceError ? error.message : String(error)}`);
    process.exit(1);
  },
);

/**
 * `npm run bench -- exports`: other people's preprocessing on real photographs, beside its Python
 * reference in one run. Two descriptions: a Hugging Face ViTImageProcessor at 224x224 (stretch,
 * bilinear, mean/std 0.5) and the timm export folder of the tests (shortest edge + crop_pct, bicubic,
 * ImageNet mean/std); the references are transformers' own steps in Pillow and timm's eval transform in
 * torchvision (bench/pillow/exports.py, Debian's python3-pil and python3-torchvision, which
 * bench/pillow/install.sh installs the first time). Prints, per photo
 * size (6 photographs each), the largest and mean difference in grey levels of our exact and default
 * paths from the reference, and the median ms per image of each, one core.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ImagePreprocessor, readModelCard, type ModelDescription } from '@model-deploy/inference';
import { loadPhotoSet, type Photo } from '../inference/test/support/photo-set.ts';

const root = resolve(import.meta.dirname, '..');
const limits = { maxImageBytes: 32 << 20, maxImagePixels: 40e6 };
const SIZES = ['640x480', '1920x1080', '12mp'];
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function run(): Promise<void> {
  const set = loadPhotoSet();
  if ('unavailable' in set) return console.log(`skipped: ${set.unavailable}`);
  const timm = await readModelCard(join(root, 'inference/test/fixtures/folders/timm'));
  const vit: ModelDescription = {
    ...timm,
    name: 'vit-224',
    input: { ...timm.input, height: 224, width: 224, shape: [-1, 3, 224, 224] },
    preprocessing: { colour: 'rgb', resize: { mode: 'stretch', interpolation: 'bilinear' }, rescale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], invert: false },
  };
  // One frame of each of 6 photographs per size.
  const photos: Photo[] = SIZES.flatMap((size) => [...new Map(set.photos.filter((p) => p.size === size).map((p) => [p.source, p])).values()].slice(0, 6));
  const dir = mkdtempSync(join(tmpdir(), 'bench-exports-'));
  try {
    // The references' Python packages, installed by the bench's own script the first time.
    const install = spawnSync('sh', [join(root, 'bench/pillow/install.sh'), 'exports'], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (install.status !== 0) return console.log('skipped: the Python reference is not installed (bench/pillow/install.sh said why)');
    const py = spawnSync('/usr/bin/python3', [join(root, 'bench/pillow/exports.py'), dir, ...photos.map((p) => join(root, '.cache/photos', p.file))], { encoding: 'utf8' });
    if (py.status !== 0) return console.log(`skipped: the Python reference failed (needs Debian's python3-pil, python3-numpy and python3-torchvision): ${py.stderr.trim().split('\n').at(-1)}`);
    const reference = Object.values(JSON.parse(py.stdout) as Record<string, { vit: number; timm: number }>);
    console.log('| model | photos | exact: max / mean levels | default: max / mean levels | exact ms | default ms | reference ms |');
    console.log('|---|---|---:|---:|---:|---:|---:|');
    for (const [name, card] of [['vit', vit], ['timm', timm]] as const) {
      // One grey level of the source is rescale / std in the tensor.
      const levels = card.preprocessing.std.reduce((a, b) => a + b, 0) / 3 / card.preprocessing.rescale;
      const paths = { exact: new ImagePreprocessor(card, limits, { exact: true }), default: new ImagePreprocessor(card, limits) };
      for (const size of SIZES) {
        const r = { exact: { max: 0, means: [] as number[], ms: [] as number[] }, default: { max: 0, means: [] as number[], ms: [] as number[] }, reference: [] as number[] };
        for (const [index, photo] of photos.entries()) {
          if (photo.size !== size) continue;
          const raw = readFileSync(join(dir, `${index}.${name}.f32`));
          const expected = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
          for (const kind of ['exact', 'default'] as const) {
            await paths[kind].preprocess(photo.bytes);
            const times: number[] = [];
            let tensor: Float32Array = new Float32Array();
            for (let i = 0; i < 3; i++) {
              const t = performance.now();
              tensor = await paths[kind].preprocess(photo.bytes);
              times.push(performance.now() - t);
            }
            let max = 0;
            let sum = 0;
            for (let i = 0; i < expected.length; i++) {
              const d = Math.abs(tensor[i]! - expected[i]!) * levels;
              max = Math.max(max, d);
              sum += d;
            }
            r[kind].max = Math.max(r[kind].max, max);
            r[kind].means.push(sum / expected.length);
            r[kind].ms.push(median(times));
          }
          r.reference.push(reference[index]![name]);
        }
        console.log(
          `| ${name === 'vit' ? 'HF ViT 224, bilinear' : 'timm folder, bicubic + crop_pct'} | ${size} | ${r.exact.max.toFixed(2)} / ${mean(r.exact.means).toFixed(3)} | ` +
            `${r.default.max.toFixed(2)} / ${mean(r.default.means).toFixed(3)} | ${median(r.exact.ms).toFixed(2)} | ${median(r.default.ms).toFixed(2)} | ${median(r.reference).toFixed(2)} |`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The inference core against raw onnxruntime-node on the same model, in the same run:
 * images/s at batch 1 and batch 32, the core's decode + preprocess cost per image, and where the
 * model's time goes per operator at batch 1 and 32 (onnxruntime's own profiler) — which says how
 * much batching can gain at all on this machine.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import pngjs from 'pngjs';
import sharp from 'sharp';
import { Classifier, ImagePreprocessor, inputGeometry, readModelCard, spng, type ModelCard } from '@model-deploy/inference';
import { rate } from './support.js';

const modelDir = resolve(import.meta.dirname, '../model');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

export async function run(): Promise<void> {
  const threads = Number(process.env.INTRA_OP_THREADS ?? availableParallelism());
  const samples = JSON.parse(await readFile(join(modelDir, 'samples/labels.json'), 'utf8')) as Record<string, string>;
  const pngs = await Promise.all(Object.keys(samples).filter((f) => f.endsWith('.png')).map((f) => readFile(join(modelDir, 'samples', f))));
  const card = await readModelCard(modelDir);
  const geometry = inputGeometry(card);
  const preprocessor = new ImagePreprocessor(card, { maxImageBytes: 8 << 20, maxImagePixels: 40e6 });
  const tensors = await Promise.all(pngs.map((p) => preprocessor.preprocess(p)));
  const batchOf = (n: number) => {
    const data = new Float32Array(n * geometry.size);
    for (let i = 0; i < n; i++) data.set(tensors[i % tensors.length]!, i * geometry.size);
    return new ort.Tensor('float32', data, [n, geometry.channels, geometry.height, geometry.width]);
  };
  const feeds1 = { [card.input.name]: batchOf(1) };
  const feeds32 = { [card.input.name]: batchOf(32) };
  const batch32 = Array.from({ length: 32 }, (_, i) => pngs[i % pngs.length]!);
  // Rounds of (raw, core), each side alone in the process while it runs (two live sessions' spinning
  // thread pools would slow each other on two cores); the median round is reported, so a burst of
  // load from elsewhere skews one round, not the ratio.
  const rounds: Array<{ raw1: number; core1: number; raw32: number; core32: number }> = [];
  for (let r = 0; r < ROUNDS; r++) {
    const session = await ort.InferenceSession.create(join(modelDir, card.file), {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    const raw1 = await rate(() => session.run(feeds1), SECONDS);
    const raw32 = 32 * (await rate(() => session.run(feeds32), SECONDS));
    await session.release();
    const classifier = await Classifier.load({ modelDir, intraOpThreads: threads, maxBatchWaitMs: 0 });
    const core1 = await rate(() => classifier.classify(pngs[0]!), SECONDS);
    const core32 = 32 * (await rate(() => classifier.classifyAll(batch32), SECONDS));
    await classifier.close();
    rounds.push({ raw1, core1, raw32, core32 });
  }
  const median = (f: (r: (typeof rounds)[number]) => number) => rounds.map(f).sort((a, b) => a - b)[Math.floor(rounds.length / 2)]!;
  const raw1 = median((r) => r.raw1);
  const raw32 = median((r) => r.raw32);
  const core1 = median((r) => r.core1);
  const core32 = median((r) => r.core32);
  const ratio1 = median((r) => r.core1 / r.raw1);
  const ratio32 = median((r) => r.core32 / r.raw32);

  console.log(`intra-op threads: ${threads}; model ${card.name} ${card.version}; median of ${ROUNDS} rounds of ${SECONDS}s per figure`);
  console.log('| path | batch | images/s | core / raw |');
  console.log('|---|---:|---:|---:|');
  console.log(`| raw onnxruntime-node (preprocessed tensors) | 1 | ${raw1.toFixed(0)} | |`);
  console.log(`| core: classify(PNG) incl. decode + preprocess | 1 | ${core1.toFixed(0)} | ${ratio1.toFixed(2)} |`);
  console.log(`| raw onnxruntime-node (preprocessed tensors) | 32 | ${raw32.toFixed(0)} | |`);
  console.log(`| core: classifyAll(32 PNGs) incl. decode + preprocess | 32 | ${core32.toFixed(0)} | ${ratio32.toFixed(2)} |`);

  // Decode + preprocess alone, per image, by input kind.
  const jpeg28 = await sharp(pngs[0]!).jpeg({ quality: 95 }).toBuffer();
  const photo = await readFile(join(modelDir, 'samples/sneaker-photo.jpg'));
  const big = await sharp(photo).resize(1280, 960, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
  const fixtures = join(modelDir, '../inference/test/fixtures/preprocess');
  const rgba56 = await readFile(join(fixtures, 'rgba-56.png'));
  const rgb112 = await readFile(join(fixtures, 'rgb-112.jpg'));
  console.log('\n| input | decode + preprocess µs/image (one at a time) |');
  console.log('|---|---:|');
  for (const [name, bytes] of [
    ['28x28 grey PNG (libspng)', pngs[0]!],
    ['56x56 RGBA PNG (libspng)', rgba56],
    ['28x28 JPEG (libjpeg-turbo)', jpeg28],
    ['112x112 RGB JPEG (libjpeg-turbo)', rgb112],
    ['224x160 RGB JPEG (sneaker-photo.jpg)', photo],
    ['1280x960 RGB JPEG', big],
  ] as const) {
    const perSecond = await rate(() => preprocessor.preprocess(bytes), Math.min(SECONDS, 2));
    console.log(`| ${name} | ${(1e6 / perSecond).toFixed(0)} |`);
  }

  // The PNG decoders side by side on the same files (decode alone): libspng, as the core uses it, and
  // pngjs, where small PNGs went before and still go when libspng is missing or declines a file.
  const png = spng();
  console.log(`\n| PNG, decode alone | libspng µs | pngjs µs | pngjs / libspng |`);
  console.log('|---|---:|---:|---:|');
  for (const [name, bytes] of [['28x28 grey', pngs[0]!], ['56x56 RGBA', rgba56]] as const) {
    const viaPngjs = 1e6 / (await rate(() => Promise.resolve(pngjs.PNG.sync.read(bytes)), 1));
    const viaSpng = png ? 1e6 / (await rate(() => Promise.resolve(png.decode(bytes)), 1)) : Number.NaN;
    console.log(`| ${name} | ${png ? viaSpng.toFixed(0) : 'not loaded'} | ${viaPngjs.toFixed(0)} | ${(viaPngjs / viaSpng).toFixed(1)}x |`);
  }

  await operatorProfile(card, batchOf);
}

/**
 * onnxruntime's profiler on one intra-op thread: kernel time per image for each node of the
 * optimised graph, at batch 1 and batch 32. Convolutions cost the same per image at any batch size
 * (onnxruntime runs them image by image); only the dense layer's weights are shared by a batch.
 */
async function operatorProfile(card: ModelCard, batchOf: (n: number) => ort.Tensor): Promise<void> {
  const warmUp = 50;
  const runs = 300;
  const perImage = new Map<string, number[]>();
  const dir = await mkdtemp(join(tmpdir(), 'ort-profile-'));
  try {
    for (const [column, n] of [[0, 1], [1, 32]] as const) {
      const session = await ort.InferenceSession.create(join(modelDir, card.file), {
        intraOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        enableProfiling: true,
        profileFilePrefix: join(dir, `b${n}`),
      });
      const feeds = { [card.input.name]: batchOf(n) };
      for (let i = 0; i < warmUp + runs; i++) await session.run(feeds);
      session.endProfiling();
      await session.release();
      const file = (await readdir(dir)).find((f) => f.startsWith(`b${n}`));
      if (!file) throw new Error('onnxruntime wrote no profile');
      const events = JSON.parse(await readFile(join(dir, file), 'utf8')) as Array<{ cat: string; name: string; ts: number; dur: number; args?: { op_name?: string } }>;
      // Only the runs after the warm-up (the first ones pay for first touches of the weights).
      const starts = events.filter((e) => e.name === 'model_run').map((e) => e.ts).sort((a, b) => a - b);
      const from = starts[warmUp] ?? 0;
      for (const e of events) {
        if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < from) continue;
        const key = `${e.args?.op_name ?? '?'} ${e.name.slice(0, -'_kernel_time'.length)}`;
        const row = perImage.get(key) ?? [0, 0];
        row[column]! += e.dur / (runs * n);
        perImage.set(key, row);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const rows = [...perImage].sort((a, b) => b[1][0]! - a[1][0]!);
  const total = rows.reduce((t, [, v]) => [t[0]! + v[0]!, t[1]! + v[1]!], [0, 0]);
  console.log('\n| operator (optimised graph, 1 intra-op thread) | µs/image at batch 1 | µs/image at batch 32 |');
  console.log('|---|---:|---:|');
  for (const [name, [b1, b32]] of rows.filter(([, v]) => v[0]! >= 5)) console.log(`| ${name} | ${b1!.toFixed(0)} | ${b32!.toFixed(0)} |`);
  console.log(`| all operators | ${total[0]!.toFixed(0)} | ${total[1]!.toFixed(0)} (batch 32 saves ${(100 * (1 - total[1]! / total[0]!)).toFixed(0)}%) |`);
}

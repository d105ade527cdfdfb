/**
 * `npm run bench -- photos`: camera-sized real photographs (scripts/photo-set, built on first use)
 * through the inference core, the scoring service and the edge module, beside the 2018 tutorial's
 * Pillow preprocessing on the same files, in one run. Prints:
 *
 *   1. per image, one core, median: our core exact (EXACT_PREPROCESSING) and default (reduced decode)
 *      beside Pillow exact and Pillow with draft(), per size class;
 *   2. fidelity of the reduced decode against the exact path for reduction multiples 2, 4 (the
 *      default) and 8, with the 1920-px cost of each: how the default was chosen;
 *   3. the scoring service (16 connections, one photo per request) on 1920-px and 12 MP photos, with
 *      the default pool, with each photo sent as the file itself (image body) instead of base64 JSON,
 *      and with PREPROCESS_THREADS=0 (everything on the event loop, as before), beside two processes
 *      of Pillow's exact preprocessing;
 *   4. the edge module through the MQTT broker, journal on: the mix (28-px PNGs, 112-px RGB
 *      JPEGs, 56-px RGBA PNGs) and 1920-px JPEGs;
 *   5. one request at a time (an app sending one photo and waiting for its answer): the service's
 *      latency per size beside the inference core's own, in this process, on the same photos;
 *   6. REDUCING_GAP on a 224-px model's preprocessing (shortest edge 256, crop 224; bilinear and
 *      bicubic): the difference from the exact path at gaps 2 and 4 on the large photos and on the
 *      tiled frames (native detail), and the per-frame cost at each gap.
 *
 * The Pillow reference (Debian's python3-pil) is installed by bench/pillow/install.sh the first time.
 * Every figure carries the 1-minute load average when it was taken: the machine is shared, compare
 * ratios within a run. BENCH_PHOTO_SECONDS (default 8) sets each HTTP load's length;
 * BENCH_PHOTO_PARTS (default "percall,fidelity,gap,service,edge,lone") picks sections.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Classifier, ImagePreprocessor, inputGeometry, readModelCard } from '@model-deploy/inference';
import { imagenetLike } from '../inference/test/support/descriptions.ts';
import { loadPhotoSet, measureFidelity, PHOTO_DIR, type Photo } from '../inference/test/support/photo-set.ts';
import { coreAlone, edge, loadSamples } from './edge.ts';
import { batchTotals, Latencies, median, processCpuMs, steadyLoad, type AutocannonClient } from './support.js';

const root = resolve(import.meta.dirname, '..');
const modelDir = join(root, 'model');
const SECONDS = Number(process.env.BENCH_PHOTO_SECONDS ?? 8);
const CONNECTIONS = 16;
const PYTHON = '/usr/bin/python3';
const REFERENCE = join(root, 'bench/pillow/reference.py');
const SIZES = ['224', '640x480', '1280x960', '1920x1080', '12mp'] as const;
const limits = { maxImageBytes: 32 << 20, maxImagePixels: 40e6 };
const PARTS = new Set((process.env.BENCH_PHOTO_PARTS ?? 'percall,fidelity,gap,service,edge,lone').split(','));
/** While tuning one figure: BENCH_PHOTO_SERVICE_SIZES=1920x1080, BENCH_PHOTO_SERVICE_CONFIGS=default,EXACT. */
const SERVICE_SIZES = (process.env.BENCH_PHOTO_SERVICE_SIZES ?? '1920x1080,12mp').split(',');
const SERVICE_CONFIGS = process.env.BENCH_PHOTO_SERVICE_CONFIGS?.split(',');
/**
 * Loads of each measure with a target (the service's default configuration per photo size, the edge
 * module's mix and its 1920-px photos at 16 in flight), each beside its own reference; the target is
 * read off their median. One load moved by 25% from one minute to the next on these shared hosts.
 */
const ROUNDS = Math.max(1, Number(process.env.BENCH_PHOTO_ROUNDS ?? 3));
/**
 * Seconds of each service load before its measured window. A fresh server under full load with 1920-px
 * photos ran at 180-250 img/s for its first ~3-4 s, against 380-440 after, while its memory grew to its
 * working size (RSS 170 -> 430 MB, the main thread's heap 56 -> 168 MB, ~10,000 page faults per 0.5 s,
 * its event loop ~97% busy; scratch probes, bench/README.md 2026-12-04). With a 2-s warm-up the window
 * began inside that ramp, and its first seconds held most of the load's slowest responses.
 */
const SERVICE_WARM_UP_SECONDS = Number(process.env.BENCH_PHOTO_WARM_UP_SECONDS ?? 6);

interface Histogram { average: number; p50: number; p99: number }
interface AutocannonResult { requests: { total: number }; latency: Histogram; duration: number; errors: number; non2xx: number }
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const load1 = (): string => loadavg()[0]!.toFixed(2);

function pillowPerCall(files: string[], iterations: number): { exact: number; draft: number } {
  const r = spawnSync(PYTHON, [REFERENCE, 'percall', String(iterations), ...files], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`Pillow reference failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { exact: number; draft: number };
}

/** Two Pillow processes at once for `seconds`: the tutorial's preprocessing alone, images/s summed. */
async function pillowTwoProcesses(files: string[], seconds: number): Promise<number> {
  const run = (): Promise<number> =>
    new Promise((done, fail) => {
      const child = spawn(PYTHON, [REFERENCE, 'throughput', String(seconds), ...files]);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('exit', (code) => {
        if (code !== 0) return fail(new Error(`Pillow throughput exited with ${code}`));
        const r = JSON.parse(out) as { images: number; seconds: number };
        done(r.images / r.seconds);
      });
    });
  const [a, b] = await Promise.all([run(), run()]);
  return a! + b!;
}

/**
 * Warm-up before timing: V8 optimises the decode glue and the resample (JavaScript and WebAssembly)
 * only after some hundreds of calls, and a service runs warm. Measured on 640x480 photos in exact mode:
 * a median of 5.1 ms over the first 100 calls, 1.5 ms after (2 photos of warm-up had left most of the
 * table's figures cold). Every path is warmed on its own photos for WARM_MS and at least one pass.
 */
const WARM_MS = 1000;

async function perCall(preprocess: (b: Uint8Array) => Promise<Float32Array>, photos: Photo[], iterations: number): Promise<number> {
  const warmUntil = performance.now() + WARM_MS;
  for (let k = 0; k < photos.length || performance.now() < warmUntil; k++) await preprocess(photos[k % photos.length]!.bytes);
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    for (const p of photos) {
      const t = performance.now();
      await preprocess(p.bytes);
      times.push(performance.now() - t);
    }
  }
  return median(times);
}

async function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(root, 'scoring-service/dist/server.js')], {
    env: {
      ...process.env, PORT: '0', HOST: '127.0.0.1', SCORING_AUTH: 'disabled', SCORING_API_KEYS: '', SCORING_API_KEYS_FILE: '',
      APPLICATIONINSIGHTS_CONNECTION_STRING: '', INTRA_OP_THREADS: '2', SHUTDOWN_DELAY_MS: '0',
      MAX_IMAGE_BYTES: String(32 << 20), BODY_LIMIT_BYTES: String(64 << 20), LOG_LEVEL: 'info', ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${output}`);
    const url = /listening at (http:\/\/127\.0\.0\.1:\d+)/i.exec(output)?.[1] ?? /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output)?.[1];
    if (url && (await fetch(`${url}/v2/health/ready`).then((r) => r.status === 200, () => false))) return { child, url };
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`server not ready within 60 s:\n${output}`);
}

interface ServiceLoad {
  rps: number;
  mean: number;
  p99: number;
  errors: number;
  /** CPU ms per answered photo: the server (every thread) and this process (the load generator). */
  serverCpu: number;
  generatorCpu: number;
  /** Images per model run over the measured load (the service's inference_batch_size histogram). */
  meanBatch: number;
}

/** A photo's request body: the seed's JSON with the base64 image, or (`imageBody`) the file itself (image-body.ts). */
function photoBody(p: Photo, imageBody: boolean): Buffer {
  return imageBody ? p.bytes : Buffer.from(JSON.stringify({ [p.file.split('/').pop()!]: p.bytes.toString('base64') }));
}

async function service(photos: Photo[], env: Record<string, string>, imageBody = false): Promise<ServiceLoad> {
  const bodies = photos.map((p) => photoBody(p, imageBody));
  const server = await startServer(env);
  // Each connection sends the whole set in turn, from a photo of its own, so the service decodes the same
  // photos as the Pillow reference, as often each. (One photo per connection measured 16 of the 20 photos
  // of a size, and which 16 moved the CPU per photo by up to a quarter: bench/README.md.) autocannon builds
  // each request once (headers from the options, body, one buffer) into the shared request objects, so a
  // set is kept once (~100 MB at 12 MP). Setting the next body on every response instead made it build a
  // new ~320-KB buffer each time in the load generator, which shares the two cores: 0.4-0.8 CPU-ms a photo
  // against 0.2-0.4, and its collector's pauses left responses unread in its sockets for tens of ms,
  // counted as the service's latency (bench/README.md, 2026-12-04 17:40 UTC).
  const requests = bodies.map((body) => ({ body }));
  let offset = 0;
  const options = {
    url: `${server.url}/score`, method: 'POST', connections: CONNECTIONS, headers: { 'content-type': imageBody ? 'image/jpeg' : 'application/json' },
    setupClient: (client: AutocannonClient) => {
      const first = offset++;
      client.setRequests(requests.map((_, i) => requests[(first + i) % requests.length]!));
    },
  };
  try {
    let batches0 = { sum: 0, count: 0, max: 0 };
    let batches1 = batches0;
    let server0 = 0;
    let server1 = 0;
    let generator0 = process.cpuUsage();
    let generator = generator0;
    const r = await steadyLoad(autocannon, options, SERVICE_WARM_UP_SECONDS, SECONDS, {
      start: async () => {
        batches0 = await batchTotals(`${server.url}/metrics`);
        server0 = processCpuMs(server.child.pid!);
        generator0 = process.cpuUsage();
      },
      end: async () => {
        server1 = processCpuMs(server.child.pid!);
        generator = process.cpuUsage(generator0);
        batches1 = await batchTotals(`${server.url}/metrics`);
      },
    });
    const answered = Math.max(1, r.answered);
    return {
      rps: r.answered / r.seconds, mean: r.latency.average, p99: r.latency.p99, errors: r.errors,
      serverCpu: (server1 - server0) / answered,
      generatorCpu: (generator.user + generator.system) / 1000 / answered,
      meanBatch: (batches1.sum - batches0.sum) / (batches1.count - batches0.count),
    };
  } finally {
    server.child.kill('SIGTERM');
    await once(server.child, 'exit');
  }
}

export async function run(): Promise<void> {
  const set = loadPhotoSet();
  if ('unavailable' in set) {
    console.log(`skipped: ${set.unavailable}`);
    return;
  }
  const { photos, tiled } = set;
  // The Python reference (Debian's python3-pil), installed by the bench's own script the first time.
  const install = spawnSync('sh', [join(root, 'bench/pillow/install.sh'), 'photos'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (install.status !== 0) {
    console.log('skipped: the Pillow reference is not installed (bench/pillow/install.sh said why)');
    return;
  }
  const card = await readModelCard(modelDir);
  const geometry = inputGeometry(card);
  const exact = new ImagePreprocessor(card, limits, { exact: true });
  const fast = new ImagePreprocessor(card, limits);
  console.log(`${photos.length} photos from ${new Set(photos.map((p) => p.source)).size} photographs (scripts/photo-set), model ${geometry.width}x${geometry.height}`);

  if (PARTS.has('percall')) await perCallTable(photos, exact, fast);
  if (PARTS.has('fidelity')) await fidelityTable(photos, exact);
  if (PARTS.has('gap')) await gapTable(photos, tiled);
  if (PARTS.has('service')) await serviceTable(photos);
  if (PARTS.has('edge')) await edgeTable(photos);
  if (PARTS.has('lone')) await loneTable(photos);
}

async function perCallTable(photos: Photo[], exact: ImagePreprocessor, fast: ImagePreprocessor): Promise<void> {
  const bySize = (size: string): Photo[] => photos.filter((p) => p.size === size);
  const files = (size: string): string[] => bySize(size).map((p) => join(PHOTO_DIR, p.file));
  console.log('\n### Per image, one core, median ms (our core on the calling thread; Pillow 9.4 in /usr/bin/python3)');
  console.log('| size | core exact | core default | Pillow exact | Pillow draft | default / Pillow exact | default / Pillow draft | exact / Pillow exact | load |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  const iterations: Record<string, number> = { '224': 10, '640x480': 5, '1280x960': 3, '1920x1080': 1, '12mp': 1 };
  for (const size of SIZES) {
    const n = iterations[size]!;
    const ours = { exact: await perCall((b) => exact.preprocess(b), bySize(size), n), fast: await perCall((b) => fast.preprocess(b), bySize(size), n) };
    const pil = pillowPerCall(files(size), n);
    console.log(
      `| ${size} | ${ours.exact.toFixed(2)} | ${ours.fast.toFixed(2)} | ${pil.exact.toFixed(2)} | ${pil.draft.toFixed(2)} | ` +
        `${(ours.fast / pil.exact).toFixed(2)}x | ${(ours.fast / pil.draft).toFixed(2)}x | ${(ours.exact / pil.exact).toFixed(2)}x | ${load1()} |`,
    );
  }

}

async function fidelityTable(photos: Photo[], exact: ImagePreprocessor): Promise<void> {
  const bySize = (size: string): Photo[] => photos.filter((p) => p.size === size);
  const card = await readModelCard(modelDir);
  const geometry = inputGeometry(card);
  console.log('\n### Fidelity of the reduced decode against the exact path (224 px to 12 MP photos), and its 1920-px cost');
  console.log('| keeps x model size | photos | max levels | mean levels | worst photo mean | same top-1 | same top-1 where decided | 1920-px median ms | load |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const classifier = await Classifier.load({ modelDir, preprocessThreads: 0 });
  try {
    const reduced = photos;
    const exactTensors = new Map<Uint8Array, Float32Array>();
    const exactCached = async (b: Uint8Array): Promise<Float32Array> => exactTensors.get(b) ?? exactTensors.set(b, await exact.preprocess(b)).get(b)!;
    const top1 = async (tensors: Float32Array[]): Promise<Array<{ index: number; margin: number }>> => {
      const data = new Float32Array(tensors.length * geometry.size);
      tensors.forEach((t, i) => data.set(t, i * geometry.size));
      return (await classifier.classifyTensor(data, tensors.length)).map((p) => {
        const [a, b] = [...p.probabilities].sort((x, y) => y - x);
        return { index: p.index, margin: a! - b! };
      });
    };
    for (const multiple of [2, 4, 8]) {
      const pre = new ImagePreprocessor(card, limits, { reducingGap: multiple });
      const f = await measureFidelity(reduced, exactCached, (b) => pre.preprocess(b), card.preprocessing.rescale, top1);
      const cost = await perCall((b) => pre.preprocess(b), bySize('1920x1080'), 1);
      console.log(
        `| ${multiple}${multiple === 4 ? ' (default)' : ''} | ${f.photos} | ${f.maxLevels} | ${f.meanLevels.toFixed(3)} | ${f.worstPhotoMeanLevels.toFixed(3)} | ` +
          `${f.sameTop1}/${f.photos} | ${f.sameTop1Decided}/${f.decided} | ${cost.toFixed(2)} | ${load1()} |`,
      );
    }
  } finally {
    await classifier.close();
  }

}

async function gapTable(photos: Photo[], tiled: Photo[]): Promise<void> {
  console.log('\n### REDUCING_GAP on a 224-px model (shortest edge 256, crop 224): difference from the exact path, and median ms per tiled frame, one core');
  console.log('| filter | gap | photos 1920x1080 and 12 MP (upscaled): max / mean / worst photo, levels | tiled frames (native detail): max / mean / worst frame | 1920x1080 ms | 12 MP ms | load |');
  console.log('|---|---:|---|---|---:|---:|---:|');
  const timm = await readModelCard(join(root, 'inference/test/fixtures/folders/timm'));
  const large = photos.filter((p) => p.size === '1920x1080' || p.size === '12mp');
  const frames = (size: string): Photo[] => tiled.filter((p) => p.size === size);
  // No trained 224-px model can be had here: pixels only (measureFidelity's top-1 is not used).
  const pixelsOnly = async (tensors: Float32Array[]): Promise<Array<{ index: number; margin: number }>> => tensors.map(() => ({ index: 0, margin: 1 }));
  for (const interpolation of ['bilinear', 'bicubic'] as const) {
    const description = imagenetLike(timm, interpolation);
    const exact = new ImagePreprocessor(description, limits, { exact: true });
    const scale = description.preprocessing.rescale / description.preprocessing.std[0]!;
    const gaps = [2, 4].map((gap) => ({ gap, pre: new ImagePreprocessor(description, limits, { reducingGap: gap }), hd: [] as number[], mp: [] as number[] }));
    // The two gaps' costs alternate, three times, so a busier minute does not fall on one of them.
    for (let round = 0; round < 3; round++) {
      for (const g of gaps) {
        g.hd.push(await perCall((b) => g.pre.preprocess(b), frames('1920x1080'), 1));
        g.mp.push(await perCall((b) => g.pre.preprocess(b), frames('12mp'), 1));
      }
    }
    for (const g of gaps) {
      const cells: string[] = [];
      for (const set of [large, tiled]) {
        const f = await measureFidelity(set, (b) => exact.preprocess(b), (b) => g.pre.preprocess(b), scale, pixelsOnly);
        cells.push(`${f.maxLevels} / ${f.meanLevels.toFixed(3)} / ${f.worstPhotoMeanLevels.toFixed(3)}`);
      }
      console.log(`| ${interpolation} | ${g.gap}${g.gap === 4 ? ' (default)' : ''} | ${cells.join(' | ')} | ${median(g.hd).toFixed(2)} | ${median(g.mp).toFixed(2)} | ${load1()} |`);
    }
  }
}

async function serviceTable(photos: Photo[]): Promise<void> {
  const bySize = (size: string): Photo[] => photos.filter((p) => p.size === size);
  const files = (size: string): string[] => bySize(size).map((p) => join(PHOTO_DIR, p.file));
  console.log(`\n### Scoring service, one photo per request, ${CONNECTIONS} connections, ${SECONDS} s, beside two Pillow processes (exact, no model, no HTTP; mean of the runs right before and right after)`);
  // CPU per photo says what the ratio hides: the two cores' time per photo (the server's, the load
  // generator's in this process) against Pillow's (two single-threaded processes: 2,000 ms / their img/s).
  console.log('| photos | configuration | img/s | mean ms | p99 ms | p99 / mean | errors | server CPU ms/photo | load generator CPU ms/photo | mean batch | two Pillow processes img/s | Pillow CPU ms/photo | ratio | load |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  // BENCH_PHOTO_SERVICE_ENV adds configurations while tuning: "A=1 B=2;C=3" is two of them.
  const extra = (process.env.BENCH_PHOTO_SERVICE_ENV ?? '').split(';').filter((c) => c.trim() !== '');
  // The default configuration is the one with a target: it runs ROUNDS times and its median is printed.
  type Configuration = { name: string; env: Record<string, string>; round?: number; imageBody?: boolean };
  const standard: Configuration[] = [
    { name: 'default', env: {} },
    // The same service, each photo sent as the file itself rather than base64 in JSON.
    { name: 'default, image body (Content-Type: image/jpeg)', env: {}, imageBody: true },
    { name: 'PREPROCESS_THREADS=0 (no pool)', env: { PREPROCESS_THREADS: '0' } }, { name: 'EXACT_PREPROCESSING=true', env: { EXACT_PREPROCESSING: 'true' } },
  ];
  const chosen = standard.filter(({ name }) => SERVICE_CONFIGS === undefined || SERVICE_CONFIGS.some((c) => name.startsWith(c)));
  // The default configuration and its image-body twin run ROUNDS times, alternating (ABBA: which goes
  // first swaps each round), so that their medians are comparable on a host whose spare CPU drifts; the
  // others once.
  const repeated = chosen.filter(({ name }) => name.startsWith('default'));
  const configurations: Configuration[] = [
    ...Array.from({ length: ROUNDS }, (_, k) => (k % 2 === 0 ? repeated : [...repeated].reverse()).map((c) => ({ ...c, round: k + 1 }))).flat(),
    ...chosen.filter((c) => !repeated.includes(c)),
    ...extra.map((c) => ({ name: c.trim(), env: Object.fromEntries(c.trim().split(/\s+/).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])) })),
  ];
  for (const size of SERVICE_SIZES) {
    // The reference is measured right before and right after each load and averaged: on a shared host
    // the CPU left to this machine drifts by tens of percent within minutes, in either direction.
    let before = await pillowTwoProcesses(files(size), SECONDS);
    const rounds: { imageBody: boolean; ratio: number; tail: number; cpu: number; pillowCpu: number }[] = [];
    for (const { name: configName, env, round, imageBody } of configurations) {
      const name = round !== undefined && ROUNDS > 1 ? `${configName} (round ${round} of ${ROUNDS})` : configName;
      const r = await service(bySize(size), env, imageBody);
      const after = await pillowTwoProcesses(files(size), SECONDS);
      const pillow = (before + after) / 2;
      before = after;
      console.log(
        `| ${size} | ${name} | ${r.rps.toFixed(1)} | ${r.mean.toFixed(0)} | ${r.p99.toFixed(0)} | ${(r.p99 / r.mean).toFixed(2)} | ${r.errors} | ` +
          `${r.serverCpu.toFixed(2)} | ${r.generatorCpu.toFixed(2)} | ${r.meanBatch.toFixed(1)} | ${pillow.toFixed(1)} | ${(2000 / pillow).toFixed(2)} | ${(r.rps / pillow).toFixed(2)}x | ${load1()} |`,
      );
      if (round !== undefined) rounds.push({ imageBody: imageBody === true, ratio: r.rps / pillow, tail: r.p99 / r.mean, cpu: r.serverCpu + r.generatorCpu, pillowCpu: 2000 / pillow });
    }
    const bodyKb = (imageBody: boolean): string => (bySize(size).reduce((sum, p) => sum + photoBody(p, imageBody).length, 0) / bySize(size).length / 1024).toFixed(0);
    console.log(`| ${size} | (request body per photo: JSON ${bodyKb(false)} KB, image body ${bodyKb(true)} KB) | | | | | | | | | | | | |`);
    for (const imageBody of [false, true]) {
      const mine = rounds.filter((x) => x.imageBody === imageBody);
      if (mine.length < 2) continue;
      const med = (pick: (x: (typeof rounds)[number]) => number): string => median(mine.map(pick)).toFixed(2);
      const what = imageBody ? 'default, image body' : 'default';
      console.log(
        `| ${size} | **${what}, median of ${mine.length} rounds** | | | | **${med((x) => x.tail)}** | | ${med((x) => x.cpu)} (server + generator) | | | | ${med((x) => x.pillowCpu)} | **${med((x) => x.ratio)}x** | |`,
      );
    }
  }

}

async function edgeTable(photos: Photo[]): Promise<void> {
  const bySize = (size: string): Photo[] => photos.filter((p) => p.size === size);
  const files = (size: string): string[] => bySize(size).map((p) => join(PHOTO_DIR, p.file));
  console.log('\n### Edge module through the MQTT broker, journal on (JOURNAL_FSYNC=batch), beside the inference core alone');
  console.log('Core alone: in this process, one image per call, 128 in flight (as the module hands them to its core).');
  const fixtures = join(root, 'inference/test/fixtures/preprocess');
  const pngs28 = loadSamples();
  const jpeg112 = readFileSync(join(fixtures, 'rgb-112.jpg'));
  const png56 = readFileSync(join(fixtures, 'rgba-56.png'));
  const mix = pngs28.flatMap((png) => [png, jpeg112, png56]);
  const photos1920 = bySize('1920x1080').map((p) => p.bytes);
  const pillow1920 = (): Promise<number> => pillowTwoProcesses(files('1920x1080'), SECONDS);
  // 1920-px JPEGs with 16 and with 64 in flight (250-KB messages; 64 used to make the journal rotate at
  // every append, 21 img/s with a p99 of 25 s, until its rotation rule was fixed).
  const ratios = new Map<string, number[]>();
  for (const [name, images, count, target, window] of [
    ['28-px PNGs alone, 256 in flight', pngs28, 6000, 1000, 256],
    ...Array.from({ length: ROUNDS }, () => ['mix: 28-px PNG, 112-px JPEG, 56-px RGBA PNG, 256 in flight', mix, 6000, 1000, 256] as const),
    ...Array.from({ length: ROUNDS }, () => ['1920-px JPEGs, 16 in flight', photos1920, 1200, 0, 16] as const),
    ['1920-px JPEGs, 64 in flight', photos1920, 1200, 0, 64],
  ] as const) {
    const photo = name.startsWith('1920');
    const core = photo ? undefined : await coreAlone([...images], 4000);
    const coreLoad = load1();
    // For photos the reference is two Pillow processes, measured right before and right after the load.
    const before = photo ? await pillow1920() : 0;
    const r = await edge([...images], { fsync: 'batch', worker: false }, count, { MAX_IMAGE_BYTES: String(32 << 20) }, window);
    const reference = photo ? (before + (await pillow1920())) / 2 : target;
    // For photos, CPU per photo beside Pillow's too (its two single-threaded processes: 2,000 ms / img/s).
    const against = photo ? `two Pillow processes ${reference.toFixed(1)} img/s, ${(2000 / reference).toFixed(2)} CPU-ms/photo` : `target ${reference} img/s`;
    const beside = core
      ? `, ${((100 * r.loaded.imagesPerSecond) / core.imagesPerSecond).toFixed(0)}% of the core alone (${core.imagesPerSecond.toFixed(0)} img/s, mean batch ${core.meanBatch.toFixed(1)}, load ${coreLoad})`
      : '';
    console.log(
      `- ${name}: ${r.loaded.imagesPerSecond.toFixed(0)} img/s (${against}: ${(r.loaded.imagesPerSecond / reference).toFixed(2)}x${beside}), ` +
        `p50 ${r.loaded.p50.toFixed(0)} ms, p99 ${r.loaded.p99.toFixed(0)} ms; module CPU ${r.moduleCpuMsPerImage.toFixed(2)} + broker and driver ${r.brokerCpuMsPerImage.toFixed(2)} ms/image, mean batch ${r.meanBatch.toFixed(1)}, module peak RSS ${r.peakRssMb.toFixed(0)} MB; load ${load1()}`,
    );
    ratios.set(name, [...(ratios.get(name) ?? []), r.loaded.imagesPerSecond / reference]);
  }
  for (const [name, values] of ratios) {
    if (values.length < 2) continue;
    console.log(`- **${name}, median of ${values.length} rounds: ${median(values).toFixed(2)}x its target** (${values.map((x) => x.toFixed(2)).join(', ')})`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();

/**
 * One request at a time: what an app that sends one photo and waits for the answer sees. The reference is
 * the inference core itself in this process (classify(), one photo at a time, configured as the service:
 * 2 intra-op threads, not spinning, the preprocessing pool, batching on), so the difference is what HTTP,
 * JSON and base64 add. The service's figure is the client's (autocannon, one connection, keep-alive).
 */
async function loneTable(photos: Photo[]): Promise<void> {
  const samples = loadSamples();
  const sets: [string, Buffer[]][] = [
    ['28-px PNGs (model/samples)', samples],
    ...(['224', '1920x1080', '12mp'] as const).map((size): [string, Buffer[]] => [size, photos.filter((p) => p.size === size).map((p) => p.bytes)]),
  ];
  const seconds = Math.max(2, Math.round(SECONDS / 2));
  console.log(`\n### One request at a time: the service's latency beside the inference core's own (one connection, one image per request, ${seconds} s per size after 2 s of warm-up)`);
  console.log('| images | core in this process, mean ms | p99 ms | service, mean ms | p50 ms | p99 ms | service − core, mean ms | mean batch | errors | load |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const classifier = await Classifier.load({ modelDir, intraOpThreads: 2, intraOpSpinning: false, ...limits });
  const server = await startServer({});
  try {
    for (const [name, images] of sets) {
      // The core: each photo classified and awaited before the next, for the same number of seconds.
      const core = new Latencies();
      for (const warm of [true, false]) {
        const end = performance.now() + (warm ? 2000 : seconds * 1000);
        for (let i = 0; performance.now() < end; i++) {
          const start = performance.now();
          await classifier.classify(images[i % images.length]!);
          if (!warm) core.add(performance.now() - start);
        }
      }
      const c = core.summary();
      const bodies = images.map((bytes, i) => ({ body: Buffer.from(JSON.stringify({ [`image-${i}`]: bytes.toString('base64') })) }));
      const options = {
        url: `${server.url}/score`, method: 'POST', connections: 1, headers: { 'content-type': 'application/json' },
        setupClient: (client: AutocannonClient) => client.setRequests(bodies),
      };
      let batches0 = { sum: 0, count: 0, max: 0 };
      let batches1 = batches0;
      const r = await steadyLoad(autocannon, options, 2, seconds, {
        start: async () => void (batches0 = await batchTotals(`${server.url}/metrics`)),
        end: async () => void (batches1 = await batchTotals(`${server.url}/metrics`)),
      });
      const l = r.latency;
      console.log(
        `| ${name} | ${c.average.toFixed(2)} | ${c.p99.toFixed(2)} | ${l.average.toFixed(2)} | ${l.p50.toFixed(2)} | ${l.p99.toFixed(2)} | ${(l.average - c.average).toFixed(2)} | ` +
          `${((batches1.sum - batches0.sum) / (batches1.count - batches0.count)).toFixed(2)} | ${r.errors} | ${load1()} |`,
      );
    }
  } finally {
    server.child.kill('SIGTERM');
    await once(server.child, 'exit');
    await classifier.close();
  }
}

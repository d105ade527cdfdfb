/**
 * The edge module end to end: images published to its `images` input through the edgeHub stand-in (an
 * MQTT broker over TLS checking SAS tokens, in this process) to the real module process (real SDK,
 * journal on: the no-loss guarantee), predictions collected from its `predictions` output once the
 * broker has acknowledged them. Figures: images/s with a window of images in flight, and the latency per
 * image (publish → prediction accepted by the broker) unloaded and under that load, for
 * JOURNAL_FSYNC=batch (the default) with the model on threads of its own (MODEL_THREADS, the module's
 * default), on the main thread (MODEL_THREADS=0, onnxruntime's threads sleeping between runs, and
 * spinning, the scoring service's default) and with the whole core in a worker thread
 * (INFERENCE_WORKER=true), and for JOURNAL_FSYNC=always, beside the inference core alone in the same run.
 *
 * Needs `npm run build` (npm run bench does it). BENCH_EDGE_IMAGES (default 6000) and
 * BENCH_EDGE_WINDOW (default 256) change the load. The core alone is configured as the module's core
 * (model threads, not spinning) and driven as the module drives it: one classifyAll per message, at most 128 images in flight (the module's maxImagesInFlight), so the mean
 * batch the core forms can be compared; the module's comes from its own /metrics.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Classifier } from '@model-deploy/inference';
import { EdgeHub, type OutputMessage } from '../edge-module/test/support/edge-hub.ts';
import { freePort, ModuleProcess } from '../edge-module/test/support/module-process.ts';
import { batchTotals, peakRssMb, processCpuMs } from './support.js';

const modelDir = resolve(import.meta.dirname, '../model');
const IMAGES = Number(process.env.BENCH_EDGE_IMAGES ?? 6000);
const WINDOW = Number(process.env.BENCH_EDGE_WINDOW ?? 256);
/** The module's default maxImagesInFlight (module.ts): how many images it hands the core at once. */
const MODULE_IN_FLIGHT = 128;

export function loadSamples(): Buffer[] {
  const labels = JSON.parse(readFileSync(join(modelDir, 'samples/labels.json'), 'utf8')) as Record<string, string>;
  return Object.keys(labels).filter((f) => f.endsWith('.png')).map((f) => readFileSync(join(modelDir, 'samples', f)));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

interface Figures {
  imagesPerSecond: number;
  p50: number;
  p99: number;
}

/** Publishes `count` images keeping `window` unanswered; returns throughput and latency. */
async function drive(hub: EdgeHub, images: Buffer[], count: number, window: number, tag: string): Promise<Figures> {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let next = 0;
  let done = 0;
  const start = performance.now();
  await new Promise<void>((resolveAll, reject) => {
    const publish = (): void => {
      while (next < count && next - done < window) {
        const id = `${tag}-${next}`;
        sentAt.set(id, performance.now());
        hub.sendImage(images[next % images.length]!, { messageId: id, properties: { fileName: `${next}.png` } }).catch(reject);
        next++;
      }
    };
    const onOutput = (message: OutputMessage): void => {
      const sent = message.correlationId === undefined ? undefined : sentAt.get(message.correlationId);
      if (sent === undefined) return;
      sentAt.delete(message.correlationId!);
      latencies.push(performance.now() - sent);
      done++;
      if (done === count) {
        hub.off('output', onOutput);
        resolveAll();
      } else publish();
    };
    hub.on('output', onOutput);
    publish();
  });
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return { imagesPerSecond: count / seconds, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

/** The inference core in this process, fed as the module feeds it; images/s and the mean batch it formed. */
export async function coreAlone(images: Buffer[], count = Math.min(IMAGES, 4000)): Promise<{ imagesPerSecond: number; meanBatch: number }> {
  let batches = 0;
  let batched = 0;
  // Configured as the module configures its core by default (edge-module/src/config.ts): the model on
  // threads of its own ('auto': one per CPU here, the CPUs divided among them) that sleep between runs.
  // (The core's own defaults, the model on the calling thread over every CPU, spinning, did 719 against
  // 887 img/s on the mix in one run: not the module's reference.)
  const classifier = await Classifier.load({ modelDir, modelThreads: 'auto', intraOpSpinning: false, observer: { onBatch: (size) => ((batches += 1), (batched += size)) } });
  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        const image = images[next++ % images.length]!;
        await classifier.classifyAll([image]);
      }
    };
    await Promise.all(Array.from({ length: MODULE_IN_FLIGHT }, worker));
    [batches, batched, next] = [0, 0, 0];
    const start = performance.now();
    await Promise.all(Array.from({ length: MODULE_IN_FLIGHT }, worker));
    return { imagesPerSecond: count / ((performance.now() - start) / 1000), meanBatch: batched / batches };
  } finally {
    await classifier.close();
  }
}

interface Variant {
  fsync: 'batch' | 'always';
  worker: boolean;
}

export interface EdgeFigures {
  unloaded: Figures;
  loaded: Figures;
  moduleCpuMsPerImage: number;
  brokerCpuMsPerImage: number;
  /** Mean batch the module's core formed under load (from its /metrics). */
  meanBatch: number;
  /** The module process's peak resident memory over the whole run (warm-up included), MB. */
  peakRssMb: number;
}

export async function edge(images: Buffer[], { fsync, worker }: Variant, count = IMAGES, env: Record<string, string> = {}, window = WINDOW): Promise<EdgeFigures> {
  const hub = await EdgeHub.start();
  const journalDir = mkdtempSync(join(tmpdir(), 'bench-edge-journal-'));
  const port = await freePort();
  const proc = new ModuleProcess({
    ...hub.moduleEnv(),
    PORT: String(port),
    HOST: '127.0.0.1',
    JOURNAL_DIR: journalDir,
    JOURNAL_FSYNC: fsync,
    INFERENCE_WORKER: String(worker),
    SCORING_AUTH: 'disabled',
    LOG_LEVEL: 'info',
    ...env,
  });
  try {
    await proc.waitForLog(/^edge module started$/, 60_000);
    await hub.waitForModule(60_000);
    const tag = `${fsync}-${worker ? 'worker' : 'main'}`;
    await drive(hub, images, Math.min(500, count), window, `${tag}-warm`);
    const unloaded = await drive(hub, images, Math.min(300, count), 1, `${tag}-one`);
    const metricsUrl = `http://127.0.0.1:${port}/metrics`;
    const batchesBefore = await batchTotals(metricsUrl);
    const moduleBefore = processCpuMs(proc.child.pid!);
    const brokerBefore = process.cpuUsage();
    const loaded = await drive(hub, images, count, window, `${tag}-load`);
    const brokerUsage = process.cpuUsage(brokerBefore);
    const moduleCpuMsPerImage = (processCpuMs(proc.child.pid!) - moduleBefore) / count;
    const batches = await batchTotals(metricsUrl);
    const peak = peakRssMb(proc.child.pid!);
    return {
      unloaded,
      loaded,
      moduleCpuMsPerImage,
      brokerCpuMsPerImage: (brokerUsage.user + brokerUsage.system) / 1000 / count,
      meanBatch: (batches.sum - batchesBefore.sum) / (batches.count - batchesBefore.count),
      peakRssMb: peak,
    };
  } finally {
    await proc.stop('SIGTERM');
    await hub.close();
    rmSync(journalDir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  const images = loadSamples();
  console.log(`${IMAGES} 28x28 PNG sample images per run, ${WINDOW} in flight; latency = publish → prediction accepted by the broker`);
  const alone = await coreAlone(images);
  const core = alone.imagesPerSecond;
  console.log(`inference core alone (in-process, same images, one per call, ${MODULE_IN_FLIGHT} in flight as the module hands them): ${core.toFixed(0)} img/s, mean batch ${alone.meanBatch.toFixed(1)}`);
  // The default, then the model on the main thread (as before MODEL_THREADS) with onnxruntime's threads
  // sleeping between runs (the module's default; config.ts) and spinning (the scoring service's), then
  // the whole core in a worker and the stricter journal.
  const variants: Array<Variant & { env?: Record<string, string> }> = [
    { fsync: 'batch', worker: false },
    { fsync: 'batch', worker: false, env: { MODEL_THREADS: '0' } },
    { fsync: 'batch', worker: false, env: { MODEL_THREADS: '0', INTRA_OP_SPINNING: 'true' } },
    { fsync: 'batch', worker: true },
    { fsync: 'always', worker: false },
  ];
  for (const variant of variants) {
    const r = await edge(images, variant, IMAGES, variant.env);
    const settings = Object.entries(variant.env ?? {}).map(([k, v]) => `, ${k}=${v}`).join('');
    const name = `JOURNAL_FSYNC=${variant.fsync}${variant.worker ? ', INFERENCE_WORKER=true' : ''}${settings}`;
    console.log(
      `edge module, ${name.padEnd(62)}: ${r.loaded.imagesPerSecond.toFixed(0)} img/s ` +
        `(${((100 * r.loaded.imagesPerSecond) / core).toFixed(0)}% of the core alone), ` +
        `latency loaded p50 ${r.loaded.p50.toFixed(1)} ms p99 ${r.loaded.p99.toFixed(1)} ms, ` +
        `one at a time p50 ${r.unloaded.p50.toFixed(2)} ms p99 ${r.unloaded.p99.toFixed(2)} ms (${r.unloaded.imagesPerSecond.toFixed(0)} img/s); ` +
        `CPU per image: module ${r.moduleCpuMsPerImage.toFixed(2)} ms, broker ${r.brokerCpuMsPerImage.toFixed(2)} ms; mean batch ${r.meanBatch.toFixed(1)}; module peak RSS ${r.peakRssMb.toFixed(0)} MB`,
    );
  }
}

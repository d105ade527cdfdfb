/**
 * The scoring service under HTTP load against in-process onnxruntime-node on the same model, in one
 * run on one machine (the load generator shares the cores with the server, as the targets assume):
 *
 *   1. in-process onnxruntime-node (2 intra-op threads, real sample tensors): images/s at batch 1 and 32;
 *   2. the real server (`node scoring-service/dist/server.js`, bearer auth on) as a child process,
 *      loaded by autocannon with 16 connections: the seed body with one image, then 32 images.
 *
 * Prints req/s, images/s, latency percentiles, the batch sizes the server formed, and the ratios
 * against the targets, and how much CPU other processes took meanwhile (figures are only meaningful
 * when that is near 0). Needs `npm run build` first (npm run bench does it). BENCH_SECONDS sets the
 * length of each HTTP phase (default 10); the server's own variables pass through (e.g.
 * INFERENCE_WORKER=false to measure the core on the HTTP thread, BATCH_MAX_WAIT_MS, INTRA_OP_THREADS).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ImagePreprocessor, inputGeometry, readModelCard } from '@model-deploy/inference';
import { rate } from './support.js';

const root = resolve(import.meta.dirname, '..');
const modelDir = join(root, 'model');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 16;
const THREADS = 2;
const KEY = 'bench-primary-key';

/** The part of autocannon's result used here (the package ships no types). */
interface Histogram {
  average: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}
interface AutocannonResult {
  requests: Histogram & { total: number };
  latency: Histogram;
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
}
interface AutocannonOptions {
  url: string;
  method: 'POST';
  connections: number;
  duration: number;
  headers: Record<string, string>;
  body?: string;
  setupClient?: (client: { setBody(body: string): void }) => void;
}
type Autocannon = (options: AutocannonOptions) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/** CPU time (jiffies) of the whole machine and of given processes, to tell how busy the rest of the machine was. */
function cpuSnapshot(pids: number[]): { busy: number; total: number; ours: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  const busy = total - fields[3]! - fields[4]!;
  let ours = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ours += Number(after[11]) + Number(after[12]); // utime, stime
    } catch {
      // process gone
    }
  }
  return { busy, total, ours };
}

/** Share of the machine's CPU used by processes other than `pids` between two snapshots. */
function othersShare(a: ReturnType<typeof cpuSnapshot>, b: ReturnType<typeof cpuSnapshot>): number {
  const total = b.total - a.total;
  return total > 0 ? Math.max(0, (b.busy - a.busy - (b.ours - a.ours)) / total) : 0;
}

async function inProcess(pngs: Buffer[]): Promise<{ batch1: number; batch32: number; others: number }> {
  const card = await readModelCard(modelDir);
  const geometry = inputGeometry(card);
  const preprocessor = new ImagePreprocessor(card, geometry, { maxImageBytes: 8 << 20, maxImagePixels: 40e6 });
  const tensors = await Promise.all(pngs.map((p) => preprocessor.preprocess(p)));
  const session = await ort.InferenceSession.create(join(modelDir, card.file), {
    intraOpNumThreads: THREADS,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feeds = (n: number): Record<string, ort.Tensor> => {
    const data = new Float32Array(n * geometry.size);
    for (let i = 0; i < n; i++) data.set(tensors[i % tensors.length]!, i * geometry.size);
    return { [card.input.name]: new ort.Tensor('float32', data, [n, geometry.channels, geometry.height, geometry.width]) };
  };
  const feeds1 = feeds(1);
  const feeds32 = feeds(32);
  const seconds = Math.max(3, SECONDS / 2);
  const before = cpuSnapshot([process.pid]);
  const batch1 = await rate(() => session.run(feeds1), seconds, 500);
  const batch32 = 32 * (await rate(() => session.run(feeds32), seconds, 500));
  const others = othersShare(before, cpuSnapshot([process.pid]));
  await session.release();
  return { batch1, batch32, others };
}

/** Starts the server on an ephemeral port; resolves with its URL once /v2/health/ready answers 200. */
async function startServer(): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  const child = spawn(process.execPath, [join(root, 'scoring-service/dist/server.js')], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      SCORING_API_KEYS: `${KEY},bench-secondary-key`,
      SCORING_AUTH: '',
      SCORING_API_KEYS_FILE: '',
      APPLICATIONINSIGHTS_CONNECTION_STRING: '',
      INTRA_OP_THREADS: process.env.INTRA_OP_THREADS ?? String(THREADS),
      SHUTDOWN_DELAY_MS: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 60_000;
  let url: string | undefined;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${output}`);
    url ??= /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    if (url) {
      const ready = await fetch(`${url}/v2/health/ready`).then((r) => r.status === 200, () => false);
      if (ready) return { child, url, log: () => output };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`server not ready within 60 s:\n${output}`);
}

/** Mean formed batch size from the server's own histogram (cumulative since start). */
async function batchStats(url: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { sum: value('inference_batch_size_sum'), count: value('inference_batch_size_count') };
}

async function load(url: string, bodies: string[], seconds: number, serverPid?: number): Promise<AutocannonResult & { others: number }> {
  let next = 0;
  const pids = serverPid === undefined ? [process.pid] : [process.pid, serverPid];
  const before = cpuSnapshot(pids);
  const result = await autocannon({
    url: `${url}/score`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: bodies[0],
    // Each connection sends a different sample, so the server does not see one image only.
    setupClient: (client) => client.setBody(bodies[next++ % bodies.length]!),
  });
  return { ...result, others: othersShare(before, cpuSnapshot(pids)) };
}

export async function run(): Promise<void> {
  const labels = JSON.parse(await readFile(join(modelDir, 'samples/labels.json'), 'utf8')) as Record<string, string>;
  const names = Object.keys(labels).filter((f) => f.endsWith('.png'));
  const pngs = await Promise.all(names.map((f) => readFile(join(modelDir, 'samples', f))));
  const b64 = pngs.map((p) => p.toString('base64'));

  const raw = await inProcess(pngs);

  const single = names.map((name, i) => JSON.stringify({ [name]: b64[i] }));
  const thirtyTwo = names.map((_, offset) => {
    const body: Record<string, string> = {};
    for (let i = 0; i < 32; i++) body[`${i}-${names[(i + offset) % names.length]}`] = b64[(i + offset) % names.length]!;
    return JSON.stringify(body);
  });

  const server = await startServer();
  let r1: AutocannonResult & { others: number };
  let r32: AutocannonResult & { others: number };
  let mean1: number;
  let mean32: number;
  try {
    await load(server.url, single, 2); // warm-up: JIT, connection pools
    let before = await batchStats(server.url);
    r1 = await load(server.url, single, SECONDS, server.child.pid);
    let after = await batchStats(server.url);
    mean1 = (after.sum - before.sum) / (after.count - before.count);
    before = after;
    r32 = await load(server.url, thirtyTwo, SECONDS, server.child.pid);
    after = await batchStats(server.url);
    mean32 = (after.sum - before.sum) / (after.count - before.count);
  } finally {
    server.child.kill('SIGTERM');
    await once(server.child, 'exit');
  }

  const rps1 = r1.requests.total / r1.duration;
  const rps32 = r32.requests.total / r32.duration;
  const pct = (x: number): string => `${(100 * x).toFixed(0)}%`;
  const row = (name: string, r: AutocannonResult & { others: number }, rps: number, images: number, mean: number): string =>
    `| ${name} | ${rps.toFixed(0)} | ${(rps * images).toFixed(0)} | ${r.latency.p50} | ${r.latency.p99} | ${r.latency.max} | ${mean.toFixed(1)} | ${r.non2xx + r.errors} | ${pct(r.others)} |`;
  console.log(`in-process onnxruntime-node, ${THREADS} intra-op threads, real sample tensors (other processes used ${pct(raw.others)} of the CPU meanwhile):`);
  console.log(`  batch 1: ${raw.batch1.toFixed(0)} images/s; batch 32: ${raw.batch32.toFixed(0)} images/s`);
  console.log(`\nscoring service over HTTP (autocannon in this process, ${CONNECTIONS} connections, ${SECONDS} s each, bearer auth on):`);
  console.log('| load | req/s | images/s | p50 ms | p99 ms | max ms | mean formed batch | non-2xx + errors | CPU used by other processes |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  console.log(row('POST /score, 1 image per request', r1, rps1, 1, mean1));
  console.log(row('POST /score, 32 images per request', r32, rps32, 32, mean32));
  const check = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  const ratio1 = rps1 / raw.batch1;
  const ratio32 = (rps32 * 32) / raw.batch32;
  console.log('\n| target | measured | |');
  console.log('|---|---:|---|');
  console.log(`| 1-image req/s ≥ 1.0x in-process batch-1 images/s | ${ratio1.toFixed(2)}x | ${check(ratio1 >= 1)} |`);
  console.log(`| 32-image images/s ≥ 0.9x in-process batch-32 images/s | ${ratio32.toFixed(2)}x | ${check(ratio32 >= 0.9)} |`);
  console.log(`| p99 ≤ 25 ms at ${CONNECTIONS} connections (1 image) | ${r1.latency.p99} ms | ${check(r1.latency.p99 <= 25)} |`);
}

// Runnable on its own too: node --import tsx bench/scoring.ts
if (import.meta.url === `file://${process.argv[1]}`) await run();

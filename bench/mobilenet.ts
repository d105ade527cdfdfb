/**
 * A 224x224 RGB model of MobileNetV2 size (torchvision's architecture, random weights, exported by
 * bench/make-mobilenet.py into .cache/ as a Hugging Face folder: shortest edge 256, centre crop 224,
 * mean/std), served as it comes. In one run: the service's images/s under 16 connections (one camera-
 * sized JPEG per request), then in-process onnxruntime-node on the same model at the batch sizes the
 * server formed (batch 1, the mean formed batch, the largest), with the same 2 intra-op threads.
 * The service's figure includes decoding and preprocessing a 640x480 JPEG per image; the in-process
 * one is the model alone.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ImagePreprocessor, readModelCard } from '@model-deploy/inference';
import { batchTotals, rate } from './support.js';

const root = resolve(import.meta.dirname, '..');
const modelDir = join(root, '.cache/bench/mobilenet-v2');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const CONNECTIONS = 16;
const THREADS = 2;
const KEY = 'bench-mobilenet-key';

interface AutocannonResult {
  requests: { total: number };
  latency: { p50: number; p99: number };
  duration: number;
  errors: number;
  non2xx: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

async function startServer(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(root, 'scoring-service/dist/server.js')], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', MODEL_DIR: modelDir, SCORING_API_KEYS: KEY, SCORING_AUTH: '', SCORING_API_KEYS_FILE: '', APPLICATIONINSIGHTS_CONNECTION_STRING: '', INTRA_OP_THREADS: String(THREADS), SHUTDOWN_DELAY_MS: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${output}`);
    const url = /listening at (http:\/\/127\.0\.0\.1:\d+)/i.exec(output)?.[1] ?? /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output)?.[1];
    if (url && (await fetch(`${url}/v2/health/ready`).then((r) => r.status === 200, () => false))) return { child, url };
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`server not ready within 120 s:\n${output}`);
}

export async function run(): Promise<void> {
  if (!existsSync(join(modelDir, 'model.onnx'))) {
    const made = spawnSync('/usr/bin/python3', [join(root, 'bench/make-mobilenet.py'), modelDir], { stdio: 'inherit' });
    if (made.status !== 0) {
      console.log('skipped: could not export MobileNetV2 (needs Debian python3-torch and python3-torchvision)');
      return;
    }
  }
  const photo = await readFile(join(root, 'inference/test/fixtures/preprocess/rgb-640x480.jpg'));
  const body = JSON.stringify({ 'photo.jpg': photo.toString('base64') });
  const server = await startServer();
  let served: AutocannonResult;
  let formed: { mean: number; max: number };
  try {
    const opts = { url: `${server.url}/score`, method: 'POST', connections: CONNECTIONS, headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body };
    await autocannon({ ...opts, duration: 2 });
    const before = await batchTotals(`${server.url}/metrics`);
    served = await autocannon({ ...opts, duration: SECONDS });
    const after = await batchTotals(`${server.url}/metrics`);
    formed = { mean: (after.sum - before.sum) / (after.count - before.count), max: after.max };
  } finally {
    server.child.kill('SIGTERM');
    await once(server.child, 'exit');
  }

  const card = await readModelCard(modelDir);
  const tensor = await new ImagePreprocessor(card, { maxImageBytes: 8 << 20, maxImagePixels: 40e6 }).preprocess(photo);
  const session = await ort.InferenceSession.create(join(modelDir, 'model.onnx'), { intraOpNumThreads: THREADS, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  const sizes = [...new Set([1, Math.max(1, Math.round(formed.mean)), Number.isFinite(formed.max) ? Math.min(32, formed.max) : 16])].sort((a, b) => a - b);
  const inProcess: Array<[number, number]> = [];
  try {
    for (const n of sizes) {
      const data = new Float32Array(n * tensor.length);
      for (let i = 0; i < n; i++) data.set(tensor, i * tensor.length);
      const feeds = { [card.input.name]: new ort.Tensor('float32', data, [n, 3, 224, 224]) };
      inProcess.push([n, n * (await rate(() => session.run(feeds), 3, 500))]);
    }
  } finally {
    await session.release();
  }
  const imgs = served.requests.total / served.duration;
  console.log(`MobileNetV2 (torchvision, random weights), Hugging Face folder, 640x480 JPEG per request, ${THREADS} intra-op threads.`);
  console.log('| | images/s | note |');
  console.log('|---|---:|---|');
  console.log(`| service, ${CONNECTIONS} connections, ${SECONDS} s | ${imgs.toFixed(1)} | p50 ${served.latency.p50} ms, p99 ${served.latency.p99} ms, mean batch formed ${formed.mean.toFixed(1)}, largest ≤ ${formed.max}, errors ${served.errors + served.non2xx} |`);
  for (const [n, r] of inProcess) console.log(`| in-process onnxruntime, batch ${n} | ${r.toFixed(1)} | model only; service/this = ${(imgs / r).toFixed(2)}x |`);
}

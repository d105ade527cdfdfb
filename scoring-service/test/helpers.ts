/**
 * Shared fixtures for the scoring-service tests: the bundled samples, a fake classifier for failure
 * modes, a PNG that declares a huge size, and a child-process runner for the real server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { deflateSync } from 'node:zlib';
import { readModelCard, type ClassifyResult, type ModelCard, type Prediction } from '@model-deploy/inference';
import type { ScoringClassifier } from '../src/index.js';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const modelDir = join(repoRoot, 'model');
export const serverEntry = join(repoRoot, 'scoring-service/dist/server.js');

export interface Sample {
  name: string;
  bytes: Buffer;
  base64: string;
  expected: string;
}

/** model/samples with their expected labels from labels.json (never hard-coded here). */
export async function loadSamples(): Promise<Sample[]> {
  const labels = JSON.parse(await readFile(join(modelDir, 'samples/labels.json'), 'utf8')) as Record<string, string>;
  return Promise.all(
    Object.entries(labels).map(async ([name, expected]) => {
      const bytes = await readFile(join(modelDir, 'samples', name));
      return { name, bytes, base64: bytes.toString('base64'), expected };
    }),
  );
}

/**
 * True when the bundled model is the trained one, so sample labels can be asserted exactly. The
 * placeholder model (untrained) has the final interface but predicts near-uniform probabilities.
 */
export function isTrained(card: ModelCard): boolean {
  return (card.metrics?.testAccuracy ?? 0) >= 0.8;
}

/** A classifier stand-in whose every call runs `behaviour` (throw, or return predictions). */
export async function fakeClassifier(behaviour: {
  classifyAll?: (images: Uint8Array[]) => Promise<ClassifyResult[]>;
  classifyTensor?: (data: Float32Array, count: number) => Promise<Prediction[]>;
}): Promise<ScoringClassifier> {
  const card = await readModelCard(modelDir);
  const fail = async (): Promise<never> => {
    throw new Error('not used in this test');
  };
  return {
    card,
    ready: true,
    queueDepth: 0,
    classifyAll: behaviour.classifyAll ?? fail,
    classifyTensor: behaviour.classifyTensor ?? fail,
  } as ScoringClassifier;
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  let c = 0xffffffff;
  for (const b of body) c = (crcTable[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  const sum = Buffer.alloc(4);
  sum.writeUInt32BE(~c >>> 0);
  return Buffer.concat([length, body, sum]);
}

function png(width: number, height: number, rows: Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(rows, { level: 9 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A grayscale PNG whose header declares width x height; only a few rows of data follow. */
export function pngDeclaring(width: number, height: number): Buffer {
  return png(width, height, Buffer.alloc((width + 1) * 4));
}

/** A real width x height grayscale gradient PNG: small on the wire, slow to decode when large. */
export function gradientPng(width: number, height: number): Buffer {
  const rows = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows[y * (width + 1) + 1 + x] = (x * 7 + y * 3) & 255;
  }
  return png(width, height, rows);
}

export interface RunningServer {
  child: ChildProcess;
  url: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
}

/**
 * Starts `node scoring-service/dist/server.js` on a free port with `env` (on top of a clean
 * environment: no inherited service variables) and waits until the server listens; with
 * `waitReady`, until /v2/health/ready answers 200.
 */
export async function startServer(
  env: Record<string, string>,
  options: { args?: string[]; waitReady?: boolean; nodeArgs?: string[] } = {},
): Promise<RunningServer> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), serverEntry, ...(options.args ?? [])], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const deadline = Date.now() + 60_000;
  let url: string | undefined;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    url ??= /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    if (url && !options.waitReady) break;
    if (url && (await fetch(`${url}/v2/health/ready`).then((r) => r.status === 200, () => false))) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (url === undefined && child.exitCode === null) {
    child.kill('SIGKILL');
    throw new Error(`server did not start:\n${output}`);
  }
  return { child, url: url ?? '', output: () => output, exited };
}

/** Stops a server started by startServer (SIGKILL if it has not exited after SIGTERM). */
export async function stopServer(server: RunningServer): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 15_000);
  await server.exited;
  clearTimeout(timer);
}

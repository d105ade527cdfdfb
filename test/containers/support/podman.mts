// podman with the project's configuration (scripts/containers/env.sh), for the container tests and
// bench/images.ts: build the images through the project's script, then create, start and probe containers.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
export const REPO = fileURLToPath(new URL('../../..', import.meta.url));
export const SCRIPTS = join(REPO, 'scripts', 'containers');
export const SCORING_IMAGE = 'localhost/model-deploy/scoring-service:dev';
export const EDGE_IMAGE = 'localhost/model-deploy/edge-module:dev';
/** The scoring image carrying the second bundled model (a Hugging Face-style Keras export). */
export const RGB_MODEL_DIR = 'model/fashion-rgb-keras';
export const SCORING_RGB_IMAGE = 'localhost/model-deploy/scoring-service:rgb';

/** One line of build-images.sh's report. */
export interface ImageReport {
  app: string;
  image: string;
  /** The model folder it carries, relative to the repository. */
  modelDir: string;
  imageBytes: number;
  baseImage: string;
  baseBytes: number;
  appLayerBytes: number;
  layers: number;
  /** 0 when the image was up to date. */
  buildSeconds: number;
}

export type BuildResult =
  | { status: 'built'; report: ImageReport[] }
  /** Exit status 3 of the scripts: podman is missing and cannot be installed here. */
  | { status: 'unavailable'; reason: string };

let podmanEnv: NodeJS.ProcessEnv | undefined;

export interface BuildOptions {
  echo?: boolean;
  /**
   * What to build (default both apps, tag dev, model folder model): `<app>[:<tag>[=<model folder>]]`,
   * e.g. `scoring-service:rgb=model/fashion-rgb-keras`; everything that needs building is built at once.
   */
  images?: string[];
}

/** Runs scripts/containers/build-images.sh (setup, base image, the images; cached when unchanged). */
export async function buildImages(options: BuildOptions = {}): Promise<BuildResult> {
  const dir = mkdtempSync(join(tmpdir(), 'image-report-'));
  try {
    const reportFile = join(dir, 'report.json');
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve, reject) => {
      const child = spawn('bash', [join(SCRIPTS, 'build-images.sh'), ...(options.images ?? [])], {
        cwd: REPO,
        env: { ...process.env, MD_IMAGE_REPORT: reportFile },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      const collect = (chunk: Buffer): void => {
        text += chunk.toString();
        if (options.echo) process.stderr.write(chunk);
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      child.on('error', reject);
      child.on('close', (status) => resolve({ code: status ?? 1, output: text }));
    });
    if (code === 3) return { status: 'unavailable', reason: output.trim().split('\n').pop() ?? 'setup.sh exited with 3' };
    if (code !== 0) throw new Error(`scripts/containers/build-images.sh failed (exit ${code}):\n${output.slice(-4000)}`);
    return { status: 'built', report: JSON.parse(readFileSync(reportFile, 'utf8')) as ImageReport[] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The environment env.sh sets up (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF, TMPDIR). */
async function environment(): Promise<NodeJS.ProcessEnv> {
  if (podmanEnv === undefined) {
    const { stdout } = await execFileAsync('bash', ['-c', `. ${JSON.stringify(join(SCRIPTS, 'env.sh'))} && env -0`]);
    podmanEnv = Object.fromEntries(stdout.split('\0').filter(Boolean).map((kv) => {
      const eq = kv.indexOf('=');
      return [kv.slice(0, eq), kv.slice(eq + 1)];
    }));
  }
  return podmanEnv;
}

export interface PodmanResult {
  stdout: string;
  stderr: string;
  code: number;
}

export async function podman(args: string[], options: { allowFailure?: boolean } = {}): Promise<PodmanResult> {
  try {
    const { stdout, stderr } = await execFileAsync('podman', args, { env: await environment(), maxBuffer: 64 * 1024 * 1024 });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; code?: number };
    if (!options.allowFailure) throw new Error(`podman ${args.join(' ')} failed (${e.code}): ${e.stderr ?? String(error)}`);
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
  }
}

/** Containers and volumes made through this module, removed by cleanup(). */
const created = { containers: new Set<string>(), volumes: new Set<string>() };

/** `podman create <args>`; returns the container id. */
export async function createContainer(args: string[]): Promise<string> {
  const { stdout } = await podman(['create', ...args]);
  const id = stdout.trim().split('\n').pop()!;
  created.containers.add(id);
  return id;
}

export async function createVolume(name: string): Promise<string> {
  await podman(['volume', 'create', name]);
  created.volumes.add(name);
  return name;
}

/** Force-removes every container and volume created here. */
export async function cleanup(): Promise<void> {
  for (const id of created.containers) await podman(['rm', '--force', '--time', '0', id], { allowFailure: true });
  for (const volume of created.volumes) await podman(['volume', 'rm', '--force', volume], { allowFailure: true });
  created.containers.clear();
  created.volumes.clear();
}

/** The host port published for the container's port 5001. */
export async function hostPort(id: string): Promise<number> {
  const { stdout } = await podman(['port', id, '5001/tcp']);
  const port = Number(/:(\d+)\s*$/.exec(stdout.trim())?.[1]);
  assert.ok(port > 0, `no published port for 5001 in ${JSON.stringify(stdout)}`);
  return port;
}

export async function exitCode(id: string): Promise<number> {
  const { stdout } = await podman(['inspect', '--format', '{{.State.ExitCode}}', id]);
  return Number(stdout.trim());
}

export async function logs(id: string): Promise<string> {
  const { stdout, stderr } = await podman(['logs', id]);
  return stdout + stderr;
}

/** When the container's process started (podman's State.StartedAt), in Date.now() milliseconds. */
export async function startedAt(id: string): Promise<number> {
  const { stdout } = await podman(['inspect', '--format', '{{.State.StartedAt.UnixMilli}}', id]);
  return Number(stdout.trim());
}

/** Polls `url` until it answers 200; returns Date.now() at that moment. Fails with the container's logs. */
export async function waitReady(id: string, url: string, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return Date.now();
    } catch {
      // not listening yet
    }
    const { stdout } = await podman(['inspect', '--format', '{{.State.Running}}', id]);
    if (stdout.trim() !== 'true') assert.fail(`container exited before becoming ready:\n${await logs(id)}`);
    await sleep(25);
  }
  assert.fail(`not ready within ${timeoutMs} ms:\n${await logs(id)}`);
}

/** The JSON (pino) lines of a container's log. */
export function logLines(text: string): Array<Record<string, unknown>> {
  return text.split('\n').flatMap((line) => {
    try {
      const value = JSON.parse(line) as unknown;
      return typeof value === 'object' && value !== null ? [value as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}

export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

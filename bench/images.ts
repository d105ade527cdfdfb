/**
 * The container images: sizes (whole image, the app layer over the base, what fills the app layer) and
 * the scoring container's start-up and shutdown times, measured with podman on the local
 * node:24-bookworm-slim stand-in (scripts/containers/build-images.sh builds or reuses the images).
 *
 * Start-up is reported three ways per run: `podman create` (with the vfs driver it copies the whole image,
 * a cost Docker/containerd's overlay snapshots do not have), `podman start` → /v2/health/ready 200, and the
 * container's process start → ready. BENCH_IMAGES_RUNS (default 5) sets the number of runs.
 */
import {
  buildImages, cleanup, createContainer, exitCode, hostPort, logLines, logs, mb, podman, SCORING_IMAGE, startedAt, waitReady,
} from '../test/containers/support/podman.mts';

const RUNS = Number(process.env.BENCH_IMAGES_RUNS ?? 5);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Sizes inside the image: the biggest node_modules entries (a scope counts as one), the model and the code. */
async function appLayerContents(): Promise<Array<[string, number]>> {
  const script = `
    const fs = require('node:fs'); const path = require('node:path');
    const size = (p) => { const s = fs.lstatSync(p); return s.isDirectory() ? fs.readdirSync(p).reduce((t, e) => t + size(path.join(p, e)), 0) : s.size; };
    const out = {};
    for (const e of fs.readdirSync('/app/node_modules')) {
      const p = path.join('/app/node_modules', e);
      if (!fs.lstatSync(p).isSymbolicLink()) out['node_modules/' + e] = size(p);
    }
    for (const e of ['model', 'inference', 'scoring-service']) out[e] = size(path.join('/app', e));
    console.log(JSON.stringify(out));`;
  const { stdout } = await podman(['run', '--rm', '--read-only', SCORING_IMAGE, 'node', '-e', script]);
  return Object.entries(JSON.parse(stdout) as Record<string, number>).sort((a, b) => b[1] - a[1]);
}

export async function run(): Promise<void> {
  // The build prints each step on stderr as it goes (minutes on a cold cache); the figures go to stdout.
  const built = await buildImages({ echo: true });
  if (built.status === 'unavailable') {
    console.log(`skipped: ${built.reason}`);
    return;
  }
  console.log('image             whole image   app layer   base');
  for (const r of built.report) {
    console.log(`${r.app.padEnd(16)} ${mb(r.imageBytes).padStart(12)} ${mb(r.appLayerBytes).padStart(11)}   ${mb(r.baseBytes)} (${r.baseImage})`);
  }

  const contents = await appLayerContents();
  const total = contents.reduce((t, [, bytes]) => t + bytes, 0);
  const telemetryTree = contents
    .filter(([name]) => /node_modules\/(@azure|@opentelemetry|@grpc|@protobufjs|protobufjs|@typespec|@microsoft)$/.test(name))
    .reduce((t, [, bytes]) => t + bytes, 0);
  console.log(`\nscoring image /app: ${mb(total)} of files; largest entries:`);
  for (const [name, bytes] of contents.slice(0, 12)) console.log(`  ${mb(bytes).padStart(9)}  ${name}`);
  console.log(`  ${mb(telemetryTree).padStart(9)}  of it: Application Insights (@azure/monitor-opentelemetry and its tree)`);

  const create: number[] = [];
  const startToReady: number[] = [];
  const processToReady: number[] = [];
  const stopMs: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const t0 = Date.now();
      const id = await createContainer([
        '--read-only', '--read-only-tmpfs=false', '--user', '10001',
        '-e', 'SCORING_API_KEYS=bench-key', '-e', 'SHUTDOWN_DELAY_MS=0', '-p', '127.0.0.1::5001', SCORING_IMAGE,
      ]);
      create.push(Date.now() - t0);
      const t1 = Date.now();
      await podman(['start', id]);
      const ready = await waitReady(id, `http://127.0.0.1:${await hostPort(id)}/v2/health/ready`);
      startToReady.push(ready - t1);
      processToReady.push(ready - (await startedAt(id)));
      const t2 = Date.now();
      await podman(['stop', '--time', '30', id]);
      stopMs.push(Date.now() - t2);
      const code = await exitCode(id);
      const stopped = logLines(await logs(id)).some((l) => l.msg === 'stopped');
      if (code !== 0 || !stopped) console.log(`  run ${i + 1}: exit code ${code}, "stopped" logged: ${stopped}`);
      await podman(['rm', id]);
    }
  } finally {
    await cleanup();
  }
  const fmt = (values: number[]): string => `median ${median(values)} ms (min ${Math.min(...values)}, max ${Math.max(...values)})`;
  console.log(`\nscoring container, ${RUNS} runs (read-only, uid 10001):`);
  console.log(`  podman create (vfs copies the image):   ${fmt(create)}`);
  console.log(`  podman start → /v2/health/ready 200:    ${fmt(startToReady)}`);
  console.log(`  process start → /v2/health/ready 200:   ${fmt(processToReady)}`);
  console.log(`  podman stop (SIGTERM, no delay) → exit: ${fmt(stopMs)}`);
}

// Builds both app images with podman (scripts/containers/build-images.sh: Debian's podman/buildah/runc,
// a local node:24-bookworm-slim stand-in, no registry) and runs them for real:
//   - the scoring container read-only, as uid 10001, keys from the environment: ready, seed contract and
//     V2 with the right labels on the sample images, 401 without a key, SIGTERM drains and exits 0;
//   - the scoring container with Application Insights on (the lazily loaded OpenTelemetry tree survived
//     the image's pruning);
//   - the edge container against the edgeHub stand-in on the host: images in, predictions out;
//   - a scoring image built from the same Dockerfile with the second bundled model (MODEL_DIR=
//     model/fashion-rgb-keras, a Hugging Face-style Keras export: 32x32 RGB, NHWC): its folder, read-only,
//     /score on a real photograph and the RGB samples, V2 metadata with the model's own input.
// Skips, saying why, only where podman cannot be installed (not root, no apt-get).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Classifier } from '@model-deploy/inference';
import { EdgeHub } from '../../edge-module/test/support/edge-hub.ts';
import {
  buildImages, cleanup, createContainer, createVolume, EDGE_IMAGE, exitCode, hostPort, logLines, logs, mb, podman, REPO,
  RGB_MODEL_DIR, SCORING_IMAGE, SCORING_RGB_IMAGE, startedAt, waitReady, type ImageReport,
} from './support/podman.mts';

const APP_UID = 10001;
// podman stop's grace period; the service's own shutdown delay + drain must fit well inside it.
const STOP_GRACE_S = 30;
const SHUTDOWN_DELAY_MS = 3000;

const samplesDir = join(REPO, 'model', 'samples');
const expectedLabels = JSON.parse(readFileSync(join(samplesDir, 'labels.json'), 'utf8')) as Record<string, string>;
const card = JSON.parse(readFileSync(join(REPO, 'model', 'card.json'), 'utf8')) as { name: string; labels: string[] };
const sample = (name: string): Buffer => readFileSync(join(samplesDir, name));

let skipReason: string | undefined;
let report: ImageReport[] = [];
let rgbReport: ImageReport[] = [];

function skipIfUnavailable(t: TestContext): boolean {
  if (skipReason === undefined) return false;
  t.skip(skipReason);
  return true;
}

async function postJson(url: string, body: unknown, key?: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: res.status, json };
}

describe('container images built and run with podman', { timeout: 20 * 60_000 }, () => {
  before(async () => {
    if (process.platform !== 'linux') {
      skipReason = `podman images are built on Linux only (this is ${process.platform})`;
      return;
    }
    // Both apps with the default model, and the scoring service from the same Dockerfile with the second
    // model folder, built side by side (podman here builds without layer caching: see scripts/containers).
    const result = await buildImages({ echo: true, images: ['scoring-service', 'edge-module', `scoring-service:rgb=${RGB_MODEL_DIR}`] });
    if (result.status === 'unavailable') {
      skipReason = `podman is not available and cannot be installed here: ${result.reason}`;
      return;
    }
    report = result.report.filter((r) => r.modelDir === 'model');
    rgbReport = result.report.filter((r) => r.modelDir === RGB_MODEL_DIR);
  }, { timeout: 15 * 60_000 });

  after(cleanup);

  it('reports image sizes (whole image and the app layer on top of the base)', (t) => {
    if (skipIfUnavailable(t)) return;
    assert.deepEqual(report.map((r) => r.app).sort(), ['edge-module', 'scoring-service']);
    for (const r of report) {
      t.diagnostic(`${r.app}: image ${mb(r.imageBytes)}, app layer ${mb(r.appLayerBytes)} over ${r.baseImage} ${mb(r.baseBytes)}` +
        ` (${r.layers} layers${r.buildSeconds ? `, built in ${r.buildSeconds} s` : ', cached'})`);
      // One layer over the base (podman builds with --layers=false): users, dependencies, model and code.
      assert.ok(r.appLayerBytes > 0 && r.imageBytes === r.baseBytes + r.appLayerBytes);
    }
    assert.deepEqual(rgbReport.map((r) => r.image), [SCORING_RGB_IMAGE]);
    for (const r of rgbReport) {
      t.diagnostic(`${r.app} with ${RGB_MODEL_DIR}: image ${mb(r.imageBytes)}, app layer ${mb(r.appLayerBytes)}` +
        ` (${r.layers} layers${r.buildSeconds ? `, built in ${r.buildSeconds} s` : ', cached'})`);
    }
  });

  describe('scoring service', () => {
    let id = '';
    let base = '';

    before(async () => {
      if (skipReason !== undefined) return;
      // As Kubernetes runs it: read-only root file system with no tmpfs added, uid 10001, keys from the environment.
      id = await createContainer([
        '--read-only', '--read-only-tmpfs=false', '--user', String(APP_UID),
        '-e', 'SCORING_API_KEYS=container-key-1,container-key-2',
        '-e', `SHUTDOWN_DELAY_MS=${SHUTDOWN_DELAY_MS}`,
        '-p', '127.0.0.1::5001',
        SCORING_IMAGE,
      ]);
    });

    it('becomes ready after start and reports the time it took', async (t) => {
      if (skipIfUnavailable(t)) return;
      const started = Date.now();
      await podman(['start', id]);
      base = `http://127.0.0.1:${await hostPort(id)}`;
      const ready = await waitReady(id, `${base}/v2/health/ready`);
      t.diagnostic(`scoring container: podman start → /v2/health/ready 200 in ${ready - started} ms; ` +
        `container process start → ready in ${ready - (await startedAt(id))} ms`);
      const live = await fetch(`${base}/v2/health/live`);
      assert.equal(live.status, 200);
      // The image carries libjpeg-turbo's TurboJPEG and libspng for its platform (Dockerfile), and the core loads them.
      const startLine = logLines(await logs(id)).find((l) => l.msg === 'started');
      assert.deepEqual(startLine?.jpegDecoder, { decoder: 'libjpeg-turbo', library: '/app/lib/turbojpeg/libturbojpeg.so.0' }, 'JPEG decoder in the start-up log');
      assert.deepEqual(startLine?.pngDecoder, { decoder: 'libspng', library: '/app/lib/spng/libspng.so.0' }, 'PNG decoder in the start-up log');
      assert.equal(startLine?.resampleWasm, true, 'the resample\'s WebAssembly loaded in the image');
    });

    it('runs node as PID 1, as uid 10001, read-only, with only this platform\'s onnxruntime and no build leftovers', async (t) => {
      if (skipIfUnavailable(t)) return;
      const probe = `
        const fs = require('node:fs');
        const out = { uid: process.getuid(), gid: process.getgid(), user: require('node:os').userInfo().username };
        out.pid1 = fs.readFileSync('/proc/1/cmdline', 'utf8').split('\\0').filter(Boolean);
        const bin = '/app/node_modules/onnxruntime-node/bin';
        out.ortBinaries = fs.readdirSync(bin).flatMap((napi) => fs.readdirSync(bin + '/' + napi)
          .flatMap((os) => fs.readdirSync(bin + '/' + napi + '/' + os).map((cpu) => os + '/' + cpu)));
        out.present = ['@pulumi', 'typescript', 'azure-iot-device', 'aedes', 'autocannon', '@types/pngjs', 'eslint', 'assemblyscript', 'binaryen']
          .filter((p) => fs.existsSync('/app/node_modules/' + p));
        out.leftovers = ['/build', '/out', '/app/.npmrc', '/root/.npmrc', '/root/.npm', '/app/package-lock.json',
          '/app/scoring-service/src', '/app/inference/src', '/app/edge-module'].filter((p) => fs.existsSync(p));
        out.model = fs.readdirSync('/app/model').sort();
        out.resampleWasm = fs.existsSync('/app/inference/dist/resample.wasm');
        out.appOwner = fs.statSync('/app/node_modules').uid;
        for (const p of ['/app/x', '/tmp/x']) {
          try { fs.writeFileSync(p, 'x'); out[p] = 'written'; } catch (e) { out[p] = e.code; }
        }
        console.log(JSON.stringify(out));`;
      const { stdout } = await podman(['exec', id, 'node', '-e', probe]);
      const facts = JSON.parse(stdout.trim()) as Record<string, unknown>;
      assert.equal(facts.uid, APP_UID);
      assert.equal(facts.gid, APP_UID);
      assert.equal(facts.user, 'app', 'uid 10001 has a passwd entry');
      assert.deepEqual(facts.pid1, ['node', 'scoring-service/dist/server.js']);
      assert.deepEqual(facts.ortBinaries, ['linux/x64']);
      assert.deepEqual(facts.present, [], 'dev, root-package or edge-only dependencies in the scoring image');
      assert.deepEqual(facts.leftovers, [], 'build-stage files in the runtime image');
      assert.deepEqual(facts.model, ['card.json', 'model.onnx']);
      assert.equal(facts.resampleWasm, true, 'the build stage compiles inference/dist/resample.wasm into the image');
      assert.equal(facts.appOwner, 0, 'the app user must not own its code');
      assert.equal(facts['/app/x'], 'EROFS');
      assert.equal(facts['/tmp/x'], 'EROFS');
    });

    it('answers the seed contract with the expected label for every sample image', async (t) => {
      if (skipIfUnavailable(t)) return;
      const names = Object.keys(expectedLabels);
      const body = Object.fromEntries(names.map((name) => [name, sample(name).toString('base64')]));
      const res = await postJson(`${base}/score`, body, 'container-key-2');
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.deepEqual(res.json, names.map((name) => ({ [name]: expectedLabels[name] })));
    });

    it('answers Open Inference Protocol V2 with a BYTES image input', async (t) => {
      if (skipIfUnavailable(t)) return;
      const names = ['ankle-boot.png', 'trouser.png', 'sneaker-photo.jpg'];
      const res = await postJson(`${base}/v2/models/${card.name}/infer`, {
        id: 'container-test',
        inputs: [{ name: 'image', datatype: 'BYTES', shape: [names.length], data: names.map((n) => sample(n).toString('base64')) }],
        outputs: [{ name: 'label' }],
      }, 'container-key-1');
      assert.equal(res.status, 200, JSON.stringify(res.json));
      const json = res.json as { id: string; model_name: string; outputs: Array<{ name: string; datatype: string; shape: number[]; data: string[] }> };
      assert.equal(json.id, 'container-test');
      assert.equal(json.model_name, card.name);
      assert.deepEqual(json.outputs.map((o) => [o.name, o.datatype, o.shape]), [['label', 'BYTES', [names.length]]]);
      assert.deepEqual(json.outputs[0]!.data, names.map((n) => expectedLabels[n]));
    });

    it('rejects a request without a key, or with a wrong one', async (t) => {
      if (skipIfUnavailable(t)) return;
      const body = { 'bag.png': sample('bag.png').toString('base64') };
      const missing = await postJson(`${base}/score`, body);
      assert.equal(missing.status, 401);
      const wrong = await postJson(`${base}/score`, body, 'not-a-key');
      assert.equal(wrong.status, 401);
      assert.doesNotMatch(await logs(id), /container-key-1|container-key-2/, 'keys must never be logged');
    });

    it('on SIGTERM turns unready, keeps answering while draining, and exits 0 within the grace period', async (t) => {
      if (skipIfUnavailable(t)) return;
      const stop = podman(['stop', '--time', String(STOP_GRACE_S), id]);
      // Readiness drops first (Kubernetes stops routing), while requests are still served.
      const deadline = performance.now() + 10_000;
      let readyStatus = 200;
      while (readyStatus === 200 && performance.now() < deadline) {
        readyStatus = (await fetch(`${base}/v2/health/ready`)).status;
        if (readyStatus === 200) await sleep(20);
      }
      assert.equal(readyStatus, 503, 'readiness did not turn false after SIGTERM');
      const during = await postJson(`${base}/score`, { 'coat.png': sample('coat.png').toString('base64') }, 'container-key-1');
      assert.equal(during.status, 200, 'a request during the shutdown delay must still be answered');
      await stop;
      assert.equal(await exitCode(id), 0, 'exit code 0 means the process exited by itself, not SIGKILLed (137)');
      const lines = logLines(await logs(id));
      const shutting = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('shutting down'));
      assert.ok(shutting, 'no "shutting down" log line');
      assert.equal(shutting.signal, 'SIGTERM');
      const stopped = lines.find((l) => l.msg === 'stopped');
      assert.ok(stopped, 'no "stopped" log line (in-flight requests drained, model closed)');
      assert.equal(stopped.exitCode, 0);
      // ORT_DISABLE_TELEMETRY=1 in the image: onnxruntime neither uploads nor tries to persist a device id.
      assert.doesNotMatch(await logs(id), /onnxruntime.*telemetry/i);
      t.diagnostic(`scoring container: SIGTERM → exit in ${Number(stopped.time) - Number(shutting.time)} ms (shutdown delay ${SHUTDOWN_DELAY_MS} ms)`);
    });
  });

  it('scoring service with Application Insights on: loads the OpenTelemetry distro and serves', async (t) => {
    if (skipIfUnavailable(t)) return;
    // Nothing listens at this ingestion endpoint; the point is that the lazily imported distro loads.
    const id = await createContainer([
      '--read-only', '--read-only-tmpfs=false', '--user', String(APP_UID),
      '-e', 'SCORING_API_KEYS=telemetry-key',
      '-e', 'APPLICATIONINSIGHTS_CONNECTION_STRING=InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/',
      '-e', 'SHUTDOWN_DELAY_MS=0',
      '-p', '127.0.0.1::5001',
      SCORING_IMAGE,
    ]);
    await podman(['start', id]);
    const base = `http://127.0.0.1:${await hostPort(id)}`;
    await waitReady(id, `${base}/v2/health/ready`);
    const res = await postJson(`${base}/score`, { 'dress.png': sample('dress.png').toString('base64') }, 'telemetry-key');
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.deepEqual(res.json, [{ 'dress.png': expectedLabels['dress.png'] }]);
    await podman(['stop', '--time', String(STOP_GRACE_S), id]);
    assert.equal(await exitCode(id), 0);
    const lines = logLines(await logs(id));
    assert.ok(lines.some((l) => l.telemetry === 'application-insights'), 'no log line says telemetry is application-insights');
  });

  describe(`scoring service with the second model (${RGB_MODEL_DIR}: a Hugging Face-style Keras export, 32x32 RGB, NHWC)`, () => {
    const modelDir = join(REPO, RGB_MODEL_DIR);
    const training = JSON.parse(readFileSync(join(modelDir, 'training.json'), 'utf8')) as { samples: Record<string, { predicted: string }> };
    // A real camera photograph (CC0, see fixtures/README.md): JPEG decoding and a large reduction in the image.
    const photo = readFileSync(join(REPO, 'test', 'containers', 'fixtures', 'chelsea.jpg'));
    let id = '';
    let base = '';

    before(async () => {
      if (skipReason !== undefined) return;
      id = await createContainer([
        '--read-only', '--read-only-tmpfs=false', '--user', String(APP_UID),
        '-e', 'SCORING_API_KEYS=rgb-key',
        // As the stack runs it: in the image the folder is /app/model, so the name comes with MODEL_NAME.
        '-e', 'MODEL_NAME=fashion-rgb-keras',
        '-e', 'SHUTDOWN_DELAY_MS=0',
        '-p', '127.0.0.1::5001',
        SCORING_RGB_IMAGE,
      ]);
      await podman(['start', id]);
      base = `http://127.0.0.1:${await hostPort(id)}`;
      await waitReady(id, `${base}/v2/health/ready`);
    });

    it('carries the folder\'s model files, read-only, at MODEL_DIR', async (t) => {
      if (skipIfUnavailable(t)) return;
      const probe = `
        const fs = require('node:fs');
        const dir = process.env.MODEL_DIR;
        const out = { dir, files: fs.readdirSync(dir).sort(), owners: [...new Set(fs.readdirSync(dir).map((f) => fs.statSync(dir + '/' + f).uid))] };
        try { fs.writeFileSync(dir + '/model.onnx', 'x'); out.write = 'written'; } catch (e) { out.write = e.code; }
        console.log(JSON.stringify(out));`;
      const facts = JSON.parse((await podman(['exec', id, 'node', '-e', probe])).stdout.trim()) as Record<string, unknown>;
      assert.equal(facts.dir, '/app/model');
      // The model files of the folder; not its README.md or samples/.
      assert.deepEqual(facts.files, ['config.json', 'model.onnx', 'preprocessor_config.json', 'training.json']);
      assert.deepEqual(facts.owners, [0], 'the app user must not own its model');
      assert.match(String(facts.write), /^(EROFS|EACCES)$/);
    });

    it('answers /score on a real photograph as the core does in-process, and on the RGB samples as PyTorch did', async (t) => {
      if (skipIfUnavailable(t)) return;
      const classifier = await Classifier.load({ modelDir, intraOpThreads: 1 });
      let photoLabel: string;
      try {
        photoLabel = (await classifier.classify(photo)).label;
      } finally {
        await classifier.close();
      }
      const files = Object.keys(training.samples);
      const body: Record<string, string> = { 'chelsea.jpg': photo.toString('base64') };
      for (const f of files) body[f] = readFileSync(join(modelDir, 'samples', f)).toString('base64');
      const res = await postJson(`${base}/score`, body, 'rgb-key');
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.deepEqual(res.json, [{ 'chelsea.jpg': photoLabel }, ...files.map((f) => ({ [f]: training.samples[f]!.predicted }))]);
    });

    it('V2 metadata: the MODEL_NAME given, the raw input with the model\'s own name and NHWC shape', async (t) => {
      if (skipIfUnavailable(t)) return;
      const res = await fetch(`${base}/v2/models/fashion-rgb-keras`, { headers: { authorization: 'Bearer rgb-key' } });
      assert.equal(res.status, 200);
      const meta = await res.json() as { name: string; inputs: Array<{ name: string; datatype: string; shape: number[] }> };
      assert.equal(meta.name, 'fashion-rgb-keras');
      assert.deepEqual(meta.inputs.map((i) => [i.name, i.datatype, i.shape]), [['image', 'BYTES', [-1]], ['input_1', 'FP32', [-1, 32, 32, 3]]]);
      await podman(['stop', '--time', String(STOP_GRACE_S), id]);
      assert.equal(await exitCode(id), 0);
    });
  });

  describe('edge module', () => {
    let hub: EdgeHub | undefined;

    after(async () => {
      await hub?.close();
    });

    it('connects to the edgeHub stand-in on the host, classifies images sent to its input and stops cleanly', async (t) => {
      if (skipIfUnavailable(t)) return;
      // Containers reach the host as host.containers.internal (the bridge gateway); the certificate names it.
      hub = await EdgeHub.start({ listenHost: '0.0.0.0', altNames: ['host.containers.internal'] });
      const volume = await createVolume(`md-edge-journal-${randomBytes(4).toString('hex')}`);
      const env = hub.moduleEnv({ gatewayHost: 'host.containers.internal', caFile: '/certs/edge-hub-ca.pem' });
      const id = await createContainer([
        '--read-only', '--read-only-tmpfs=false', '--user', String(APP_UID),
        '-v', `${hub.caFile}:/certs/edge-hub-ca.pem:ro`,
        // A named volume starts as a copy of the image's journal directory, owned by the app user.
        '-v', `${volume}:/var/lib/edge-module/journal`,
        '-e', `EdgeHubConnectionString=${env.EdgeHubConnectionString}`,
        '-e', `EdgeModuleCACertificateFile=${env.EdgeModuleCACertificateFile}`,
        '-e', 'SCORING_API_KEYS=edge-key',
        '-p', '127.0.0.1::5001',
        EDGE_IMAGE,
      ]);
      const started = performance.now();
      await podman(['start', id]);
      try {
        await hub.waitForModule(60_000);
      } catch (error) {
        assert.fail(`${(error as Error).message}; hub auth failures: ${hub.authFailures}\n${await logs(id)}`);
      }
      t.diagnostic(`edge container: podman start → connected and subscribed in ${Math.round(performance.now() - started)} ms`);

      const names = Object.keys(expectedLabels);
      for (const name of names) {
        await hub.sendImage(sample(name), { messageId: `msg-${name}`, properties: { fileName: name } });
      }
      const predictions = await hub.waitForOutputs('predictions', names.length, 60_000);
      const got = Object.fromEntries(predictions.map((m) => {
        const body = m.json as { fileName: string; label: string };
        return [body.fileName, body.label];
      }));
      assert.deepEqual(got, expectedLabels);
      assert.deepEqual(hub.outputsOn('errors'), []);

      // The same seed contract on the device, from the same code.
      const base = `http://127.0.0.1:${await hostPort(id)}`;
      const res = await postJson(`${base}/score`, { 'sandal.png': sample('sandal.png').toString('base64') }, 'edge-key');
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.deepEqual(res.json, [{ 'sandal.png': expectedLabels['sandal.png'] }]);

      await podman(['stop', '--time', String(STOP_GRACE_S), id]);
      assert.equal(await exitCode(id), 0);
      const lines = logLines(await logs(id));
      assert.ok(lines.some((l) => l.msg === 'stopped'), 'no "stopped" log line');
      assert.doesNotMatch(await logs(id), new RegExp(hub.sharedAccessKey.replace(/[+/=]/g, '\\$&')), 'the module key must never be logged');
    });
  });
});

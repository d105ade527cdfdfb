/**
 * The real process (`node scoring-service/dist/server.js`, built by `npm run build`): a listening
 * server, start-up refusals, the local-run auth rule, graceful SIGTERM, and Application Insights
 * telemetry (sent to a local HTTPS stand-in for the ingestion endpoint, and not loaded at all when
 * no connection string is set).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { photoLikeJpeg } from '../../inference/test/support/photo-like.js';
import { gradientPng, loadSamples, startServer, stopServer, type RunningServer, type Sample } from './helpers.js';

const PRIMARY = 'srv-primary-key-1d7e94';
const SECONDARY = 'srv-secondary-key-5b20c3';
const keysEnv = { SCORING_API_KEYS: `${PRIMARY},${SECONDARY}` };

let samples: Sample[];
let tmp: string;
const servers: RunningServer[] = [];

async function start(...args: Parameters<typeof startServer>): Promise<RunningServer> {
  const server = await startServer(...args);
  servers.push(server);
  return server;
}

function score(url: string, body: object, key?: string): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  return fetch(`${url}/score`, { method: 'POST', headers, body: JSON.stringify(body) });
}

before(async () => {
  samples = await loadSamples();
  tmp = await mkdtemp(join(tmpdir(), 'scoring-server-'));
});
after(async () => {
  await Promise.all(servers.map(stopServer));
  await rm(tmp, { recursive: true, force: true });
});

describe('scoring-service process', () => {
  it('serves over a real socket with keys on, and never logs a key', async () => {
    const server = await start({ ...keysEnv, LOG_LEVEL: 'debug' }, { waitReady: true });
    const body = Object.fromEntries(samples.map((s) => [s.name, s.base64]));
    const res = await score(server.url, body, SECONDARY);
    assert.equal(res.status, 200);
    const answer = (await res.json()) as Array<Record<string, string>>;
    assert.deepEqual(answer.map((e) => Object.keys(e)[0]), samples.map((s) => s.name));
    assert.equal((await score(server.url, body)).status, 401);
    assert.equal((await score(server.url, body, 'wrong-key-9f8e')).status, 401);
    assert.equal((await fetch(`${server.url}/`)).status, 200);
    await stopServer(server);
    assert.equal(await server.exited, 0);
    const output = server.output();
    assert.match(output, /"msg":"bearer-key authentication on"/);
    for (const secret of [PRIMARY, SECONDARY, 'wrong-key-9f8e']) assert.ok(!output.includes(secret), `${secret} leaked into the log`);
    // JSON log lines with request ids.
    const completed = output
      .split('\n')
      .filter((l) => l.includes('"request completed"'))
      .map((l) => JSON.parse(l) as { reqId?: string; level: number; res: { statusCode: number } });
    assert.ok(completed.length > 0 && completed.every((l) => typeof l.reqId === 'string'));
    // At LOG_LEVEL=debug successful requests are logged too (pino's debug level is 20).
    assert.ok(completed.some((l) => l.res.statusCode === 200 && l.level === 20), 'no debug line for a 200');
  });

  it('takes a photo as the body itself over a real socket, with a Content-Length or chunked, as the JSON body answers', async () => {
    const server = await start(keysEnv, { waitReady: true });
    const photo = await photoLikeJpeg(1920, 1080, 11);
    const headers = { authorization: `Bearer ${PRIMARY}`, 'content-type': 'image/jpeg' };
    const viaJson = (await (await score(server.url, { 'IMG_7.jpg': photo.toString('base64') }, PRIMARY)).json()) as Array<Record<string, string>>;
    const sized = await fetch(`${server.url}/score?name=IMG_7.jpg`, { method: 'POST', headers, body: photo });
    assert.equal(sized.status, 200);
    assert.deepEqual(await sized.json(), viaJson);
    // A body streamed in pieces without a Content-Length (Transfer-Encoding: chunked), as an app uploading from a file stream sends it.
    const pieces = Array.from({ length: Math.ceil(photo.length / 50_000) }, (_, i) => photo.subarray(i * 50_000, (i + 1) * 50_000));
    const chunked = await fetch(`${server.url}/score?name=IMG_7.jpg`, { method: 'POST', headers, body: Readable.toWeb(Readable.from(pieces)) as ReadableStream, duplex: 'half' } as RequestInit);
    assert.equal(chunked.status, 200);
    assert.deepEqual(await chunked.json(), viaJson);
    assert.equal((await fetch(`${server.url}/score`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: photo })).status, 401);
  });

  it('exits non-zero with a message naming the variable on bad configuration', async () => {
    const server = await start({ ...keysEnv, PORT: 'abc' });
    assert.equal(await server.exited, 1);
    assert.equal(server.output().trim(), 'Invalid configuration: PORT must be an integer between 0 and 65535 (0 picks a free port) (got "abc")');
  });

  it('refuses to start without a key, unless run locally (npm start) or SCORING_AUTH=disabled', async () => {
    const refused = await start({});
    assert.equal(await refused.exited, 1);
    assert.match(refused.output(), /^Invalid configuration: no API key configured/);

    const local = await start({}, { args: ['--local'], waitReady: true });
    assert.match(local.output(), /"level":40,.*serving WITHOUT authentication/);
    assert.equal((await score(local.url, { [samples[0]!.name]: samples[0]!.base64 })).status, 200);

    const localWithKeys = await start(keysEnv, { args: ['--local'], waitReady: true });
    assert.equal((await score(localWithKeys.url, { [samples[0]!.name]: samples[0]!.base64 })).status, 401);
    assert.equal((await score(localWithKeys.url, { [samples[0]!.name]: samples[0]!.base64 }, PRIMARY)).status, 200);

    const disabled = await start({ SCORING_AUTH: 'disabled' }, { waitReady: true });
    assert.match(disabled.output(), /authentication is disabled \(SCORING_AUTH=disabled\)/);
    await Promise.all([local, localWithKeys, disabled].map(stopServer));
  });

  it('runs the model on a thread of its own with MODEL_THREADS=1, with the same answers', async () => {
    const [threaded, inProcess] = await Promise.all([
      start({ ...keysEnv, MODEL_THREADS: '1', INTRA_OP_THREADS: '1' }, { waitReady: true }),
      start(keysEnv, { waitReady: true }),
    ]);
    assert.match(threaded.output(), /"inference":"in-process, the model on 1 thread\(s\) of its own"/);
    assert.match(inProcess.output(), /"inference":"in-process"/);
    const body = Object.fromEntries(samples.map((s) => [s.name, s.base64]));
    const [a, b] = await Promise.all([threaded, inProcess].map((server) => score(server.url, body, PRIMARY)));
    assert.equal(a!.status, 200);
    assert.deepEqual(await a!.json(), await b!.json());
    await Promise.all([threaded, inProcess].map(stopServer));
  });

  it('exits 1 when the model cannot be loaded', async () => {
    const server = await start({ ...keysEnv, MODEL_DIR: tmp });
    assert.equal(await server.exited, 1);
    assert.match(server.output(), /"level":60,.*cannot load the model/);
  });

  for (const worker of ['false', 'true']) {
    it(`on SIGTERM: readiness turns 503, the in-flight request completes 200, exit 0 (INFERENCE_WORKER=${worker})`, async () => {
      const server = await start({ ...keysEnv, SHUTDOWN_DELAY_MS: '1000', MAX_IMAGE_PIXELS: '4000000', INFERENCE_WORKER: worker }, { waitReady: true });
      // 32 large PNGs: small on the wire, slow to decode, so the request is still running at SIGTERM.
      const slow = gradientPng(1200, 1200).toString('base64');
      const body = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`big-${i}.png`, slow]));
      const inFlight = score(server.url, body, PRIMARY);
      const queueDepth = async (): Promise<number> =>
        Number(/^inference_queue_depth (\d+)$/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1] ?? 0);
      while ((await queueDepth()) === 0) await new Promise((r) => setTimeout(r, 5));

      server.child.kill('SIGTERM');
      let readiness = 200;
      while (readiness === 200) readiness = (await fetch(`${server.url}/v2/health/ready`)).status;
      assert.equal(readiness, 503);

      const res = await inFlight;
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as unknown[]).length, 32);
      assert.equal(await server.exited, 0, server.output());
      const log = server.output();
      assert.ok(log.indexOf('shutting down') >= 0 && log.indexOf('shutting down') < log.indexOf('"msg":"stopped"'));
    });
  }
});

describe('Application Insights telemetry', () => {
  /** A stand-in for the ingestion endpoint (the exporter insists on HTTPS): collects telemetry items. */
  async function ingestion(): Promise<{ server: Server; port: number; items: Array<Record<string, unknown>>; ca: string }> {
    const key = join(tmp, 'ingest-key.pem');
    const cert = join(tmp, 'ingest-cert.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-keyout', key, '-out', cert, '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ], { stdio: 'ignore' });
    const items: Array<Record<string, unknown>> = [];
    const server = createServer({ key: await readFile(key), cert: await readFile(cert) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        let received = 0;
        try {
          const parsed = JSON.parse(body.toString()) as unknown;
          for (const item of Array.isArray(parsed) ? parsed : [parsed]) {
            items.push(item as Record<string, unknown>);
            received++;
          }
        } catch {
          // not JSON (e.g. a live-metrics ping): ignore
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ itemsReceived: received, itemsAccepted: received, errors: [] }));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { server, port: (server.address() as AddressInfo).port, items, ca: cert };
  }

  /** Node flags that log every module URL the process resolves through the ESM loader. */
  async function resolveLogger(name: string): Promise<{ nodeArgs: string[]; urls: () => Promise<string[]> }> {
    const log = join(tmp, `${name}-resolved.log`);
    const hooks = join(tmp, `${name}-hooks.mjs`);
    await writeFile(log, '');
    await writeFile(
      hooks,
      `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, result.url + '\\n');
  return result;
}
`,
    );
    const register = `import { register } from 'node:module'; register(${JSON.stringify(pathToFileURL(hooks).href)});`;
    return {
      nodeArgs: ['--import', `data:text/javascript,${encodeURIComponent(register)}`],
      urls: async () => (await readFile(log, 'utf8')).split('\n').filter(Boolean),
    };
  }

  it('sends request telemetry to the configured ingestion endpoint, named by route', async () => {
    let ingest: Awaited<ReturnType<typeof ingestion>>;
    try {
      ingest = await ingestion();
    } catch (err) {
      assert.fail(`openssl is needed to make the stand-in's certificate: ${(err as Error).message}`);
    }
    const resolved = await resolveLogger('on');
    try {
      const server = await start(
        {
          ...keysEnv,
          SHUTDOWN_DELAY_MS: '0',
          APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:${ingest.port}/`,
          NODE_EXTRA_CA_CERTS: ingest.ca,
          // The distro samples at most 5 traces/s by default; the readiness polls could use them up.
          OTEL_TRACES_SAMPLER: 'always_on',
        },
        { waitReady: true, nodeArgs: resolved.nodeArgs },
      );
      assert.equal((await score(server.url, { [samples[0]!.name]: samples[0]!.base64 }, PRIMARY)).status, 200);
      await stopServer(server); // the shutdown flushes the exporters
      assert.equal(await server.exited, 0);
      assert.match(server.output(), /"telemetry":"application-insights"/);
      const requests = ingest.items.filter((i) => (i.data as { baseType?: string } | undefined)?.baseType === 'RequestData');
      const scored = requests.find((i) => (i.data as { baseData: { name: string } }).baseData.name === 'POST /score');
      const names = requests.map((i) => (i.data as { baseData: { name: string } }).baseData.name);
      assert.ok(scored, `no RequestData named "POST /score" among ${JSON.stringify(names)}`);
      assert.equal((scored.data as { baseData: { responseCode: string } }).baseData.responseCode, '200');
      assert.equal((scored.tags as Record<string, string>)['ai.cloud.role'], 'scoring-service');
      assert.ok(!JSON.stringify(ingest.items).includes(PRIMARY), 'the API key must not reach telemetry');
      const urls = await resolved.urls();
      assert.ok(urls.some((u) => u.includes('/@azure/monitor-opentelemetry/')), 'the distro was loaded');
    } finally {
      ingest.server.close();
    }
  });

  it('loads none of it when no connection string is set', async () => {
    const resolved = await resolveLogger('off');
    const server = await start(keysEnv, { waitReady: true, nodeArgs: resolved.nodeArgs });
    await stopServer(server);
    assert.match(server.output(), /"telemetry":"off"/);
    const urls = await resolved.urls();
    assert.ok(urls.some((u) => u.endsWith('/scoring-service/dist/app.js')), 'the resolve log works');
    const telemetry = urls.filter((u) => /telemetry\.js$|@azure\/monitor-opentelemetry|@opentelemetry\//.test(u));
    assert.deepEqual(telemetry, []);
  });
});

/**
 * Common mistakes get answers that say what to change (issue 12): an unknown query parameter, an
 * Authorization header without its scheme, a wrong Content-Type, a port already in use, and a
 * shutdown log that states the delay actually applied. Exact status and body, or exact log message.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Classifier } from '@model-deploy/inference';
import { buildApp, KeyRing } from '../src/index.js';
import { loadSamples, modelDir, startServer, stopServer, type RunningServer, type Sample } from './helpers.js';

const KEY = 'key-one';
let classifier: Classifier;
let app: FastifyInstance;
let samples: Sample[];
const servers: RunningServer[] = [];

before(async () => {
  samples = await loadSamples();
  classifier = await Classifier.load({ modelDir, intraOpThreads: 1 });
  app = await buildApp({ classifier, auth: { mode: 'bearer', keys: new KeyRing([KEY]) } });
});
after(async () => {
  await app.close();
  await classifier.close();
  await Promise.all(servers.map(stopServer));
});

const image = (): Record<string, string> => ({ [samples[0]!.name]: samples[0]!.base64 });
const bearer = { authorization: `Bearer ${KEY}` };

describe('unknown query parameters are refused, naming the accepted ones', () => {
  it('POST /score?topk=3 is a 400 naming top_k, not a silent top-1 answer', async () => {
    const res = await app.inject({ method: 'POST', url: '/score?topk=3', headers: bearer, payload: image() });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), {
      error: 'unknown query parameter "topk": POST /score accepts only top_k (e.g. ?top_k=3 for the 3 most probable labels) and, with an image file as the body, name',
      code: 'invalid_request',
    });
  });

  it('an unknown parameter beside top_k is refused too; top_k alone still works', async () => {
    const both = await app.inject({ method: 'POST', url: '/score?top_k=2&verbose=1', headers: bearer, payload: image() });
    assert.equal(both.statusCode, 400);
    assert.equal((both.json() as { error: string }).error.startsWith('unknown query parameter "verbose"'), true);
    const ok = await app.inject({ method: 'POST', url: '/score?top_k=2', headers: bearer, payload: image() });
    assert.equal(ok.statusCode, 200);
    assert.equal((ok.json() as Array<Record<string, unknown[]>>)[0]![samples[0]!.name]!.length, 2);
  });

  it('the V2 model routes, which define no query parameters, say where options go', async () => {
    const name = classifier.card.name;
    const expected = {
      error:
        'unknown query parameter "top_k": the Open Inference Protocol routes take no query parameters; ' +
        'inference options go in the request body ("parameters", "outputs")',
    };
    const infer = await app.inject({
      method: 'POST',
      url: `/v2/models/${name}/infer?top_k=3`,
      headers: bearer,
      payload: { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: [samples[0]!.base64] }] },
    });
    assert.equal(infer.statusCode, 400);
    assert.deepEqual(infer.json(), expected);
    const metadata = await app.inject({ method: 'GET', url: `/v2/models/${name}?top_k=3`, headers: bearer });
    assert.equal(metadata.statusCode, 400);
    assert.deepEqual(metadata.json(), expected);
  });
});

describe('Authorization header mistakes say what is wrong, without echoing the key', () => {
  const cases: Array<{ header: string | undefined; error: string }> = [
    { header: undefined, error: 'missing API key: send the header Authorization: Bearer <key>' },
    {
      header: KEY,
      error:
        'the Authorization header is missing its scheme: send the header Authorization: Bearer <key> (the word Bearer and a space before the key)',
    },
    { header: 'Bearer', error: 'the Authorization header has the Bearer scheme but no key: send the header Authorization: Bearer <key>' },
    { header: `Basic ${KEY}`, error: 'the Authorization header uses the Basic scheme: send the header Authorization: Bearer <key>' },
    { header: `key-two ${KEY}`, error: 'the Authorization header uses a scheme other than Bearer: send the header Authorization: Bearer <key>' },
    { header: 'Bearer not-a-key', error: 'invalid API key' },
  ];
  for (const { header, error } of cases) {
    it(`Authorization: ${header ?? '(none)'} → 401 ${JSON.stringify(error)}`, async () => {
      const res = await app.inject({
        method: 'POST',
        url: '/score',
        headers: header === undefined ? {} : { authorization: header },
        payload: image(),
      });
      assert.equal(res.statusCode, 401);
      assert.deepEqual(res.json(), { error, code: 'unauthorized' });
      assert.equal(res.body.includes(KEY), false, 'the key must not be echoed');
    });
  }
});

describe('415 names the content type received', () => {
  it('Content-Type: application/xml', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/score',
      headers: { ...bearer, 'content-type': 'application/xml' },
      payload: '<score/>',
    });
    assert.equal(res.statusCode, 415);
    assert.deepEqual(res.json(), {
      error:
        'unsupported media type: the request has Content-Type "application/xml"; send Content-Type: application/json ({"<file name>": "<base64 image>"}), ' +
        'or the image file itself as image/jpeg, image/png (any image/...) or application/octet-stream',
      code: 'unsupported_media_type',
    });
  });

  it('a V2 route answers in the protocol\'s {"error"} shape', async () => {
    const res = await app.inject({
      method: 'POST',
      url: `/v2/models/${classifier.card.name}/infer`,
      headers: { ...bearer, 'content-type': 'text/csv' },
      payload: 'a,b',
    });
    assert.equal(res.statusCode, 415);
    assert.deepEqual(res.json(), {
      error: 'unsupported media type: the request has Content-Type "text/csv"; send Content-Type: application/json',
    });
  });
});

/** The `msg` of each JSON log line the process wrote. */
function messages(server: RunningServer): Array<{ msg: string; [k: string]: unknown }> {
  return server
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string });
}

describe('the process', () => {
  let squatter: Server;
  before(async () => {
    squatter = createServer().listen(0, '127.0.0.1');
    await once(squatter, 'listening');
  });
  after(() => new Promise<void>((resolve) => squatter.close(() => resolve())));

  it('a port already in use names PORT', async () => {
    const port = (squatter.address() as { port: number }).port;
    const server = await startServer({ SCORING_API_KEYS: KEY, PORT: String(port) });
    servers.push(server);
    assert.equal(await server.exited, 1);
    const fatal = messages(server).find((l) => l.level === 60);
    assert.equal(
      fatal?.msg,
      `cannot listen on 127.0.0.1:${port}: port ${port} is already in use (another instance of this service?); ` +
        'set PORT to a free port, e.g. PORT=5002, or PORT=0 for any free one',
    );
  });

  it('on SIGINT the shutdown log claims no delay; on SIGTERM it states the one it applies', async () => {
    for (const [signal, msg, delayMs] of [
      ['SIGINT', 'shutting down: readiness is false; finishing in-flight requests', 0],
      [
        'SIGTERM',
        'shutting down: readiness is false; serving 300 ms more (SHUTDOWN_DELAY_MS) while load balancers notice, then finishing in-flight requests',
        300,
      ],
    ] as const) {
      const server = await startServer({ SCORING_API_KEYS: KEY, SHUTDOWN_DELAY_MS: '300' }, { waitReady: true });
      servers.push(server);
      server.child.kill(signal);
      assert.equal(await server.exited, 0);
      const line = messages(server).find((l) => l.msg.startsWith('shutting down'));
      assert.deepEqual({ msg: line?.msg, delayMs: line?.delayMs, signal: line?.signal }, { msg, delayMs, signal });
    }
  });
});

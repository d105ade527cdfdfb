/**
 * The app through `inject`: the seed contract, the Open Inference Protocol, auth, errors (exact
 * status and body), metrics, docs and route groups, against the real bundled model (expected labels
 * from model/samples/labels.json) and, for failure modes, a fake classifier.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import {
  Classifier,
  ImageTooLargeError,
  InferenceFailedError,
  InvalidImageError,
  OverloadedError,
} from '@model-deploy/inference';
import { BufferPool, MIN_POOLED_BYTES } from '@model-deploy/codecs';
import { buildApp, createServiceMetrics, KeyRing, type BuildAppOptions } from '../src/index.js';
import { photoLikeJpeg } from '../../inference/test/support/photo-like.js';
import { fakeClassifier, isTrained, loadSamples, modelDir, pngDeclaring, type Sample } from './helpers.js';

const PRIMARY = 'test-primary-key-0f9c';
const SECONDARY = 'test-secondary-key-77ab';
const auth = { authorization: `Bearer ${PRIMARY}` };
const json = { 'content-type': 'application/json', ...auth };

let classifier: Classifier;
let samples: Sample[];
const apps: FastifyInstance[] = [];

async function app(options: Partial<BuildAppOptions> = {}): Promise<FastifyInstance> {
  const a = await buildApp({
    classifier,
    auth: { mode: 'bearer', keys: new KeyRing([PRIMARY, SECONDARY]) },
    ...options,
  });
  apps.push(a);
  return a;
}

before(async () => {
  samples = await loadSamples();
  classifier = await Classifier.load({ modelDir, intraOpThreads: 1 });
});
after(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await classifier.close();
});

describe('seed contract: POST /score', () => {
  it('answers one {file name: label} per image, in request order, as the core predicts', async () => {
    const a = await app();
    const ordered = [...samples].reverse();
    const body = Object.fromEntries(ordered.map((s) => [s.name, s.base64]));
    const res = await a.inject({ method: 'POST', url: '/score', headers: json, payload: body });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^application\/json/);
    const answer = res.json() as Array<Record<string, string>>;
    assert.deepEqual(
      answer.map((entry) => Object.keys(entry)),
      ordered.map((s) => [s.name]),
    );
    for (const [i, s] of ordered.entries()) {
      const direct = await classifier.classify(s.bytes);
      assert.equal(answer[i]![s.name], direct.label, `${s.name}: the adapter must pass the core's label through`);
      if (isTrained(classifier.card)) assert.equal(answer[i]![s.name], s.expected, `${s.name} per labels.json`);
      else assert.ok(classifier.card.labels.includes(answer[i]![s.name]!));
    }
  });

  it('with top_k, answers the most probable labels with probabilities, most probable first', async () => {
    const a = await app();
    const s = samples[0]!;
    const res = await a.inject({ method: 'POST', url: '/score?top_k=3', headers: json, payload: { [s.name]: s.base64 } });
    assert.equal(res.statusCode, 200);
    const [entry] = res.json() as Array<Record<string, Array<{ label: string; probability: number }>>>;
    const top = entry![s.name]!;
    assert.equal(top.length, 3);
    assert.equal(top[0]!.label, (await classifier.classify(s.bytes)).label);
    for (let i = 1; i < top.length; i++) assert.ok(top[i - 1]!.probability >= top[i]!.probability);
    assert.equal(new Set(top.map((t) => t.label)).size, 3);

    const all = await a.inject({ method: 'POST', url: '/score?top_k=99', headers: json, payload: { [s.name]: s.base64 } });
    const probabilities = (all.json() as Array<Record<string, Array<{ probability: number }>>>)[0]![s.name]!;
    assert.equal(probabilities.length, classifier.card.labels.length);
    assert.ok(Math.abs(probabilities.reduce((sum, p) => sum + p.probability, 0) - 1) < 1e-3);
  });

  it('answers a body read from its bytes as the same body with escapes (the parser\'s text path), images in answer order', async () => {
    const a = await app();
    // Integer-like names come first in the answer (Object.keys order), whatever the body's order.
    const entries = samples.slice(0, 4).map((s, i) => [i === 1 ? '7' : i === 2 ? '3' : s.name, s] as const);
    const plain = `{${entries.map(([name, s]) => `"${name}": "${s.base64}"`).join(', ')}}`;
    const escaped = plain.replace(/\//g, '\\/');
    assert.notEqual(plain, escaped, 'the samples\' base64 holds a "/"');
    const answers = [];
    for (const payload of [plain, escaped]) {
      const res = await a.inject({ method: 'POST', url: '/score', headers: json, payload });
      assert.equal(res.statusCode, 200);
      answers.push(res.json() as Array<Record<string, string>>);
    }
    assert.deepEqual(answers[0], answers[1]);
    const byName = new Map(entries.map(([name, s]) => [name, s]));
    assert.deepEqual(answers[0]!.map((entry) => Object.keys(entry)[0]), ['3', '7', entries[0]![0], entries[3]![0]]);
    for (const entry of answers[0]!) {
      const [name, label] = Object.entries(entry)[0]!;
      assert.equal(label, (await classifier.classify(byName.get(name)!.bytes)).label, name);
    }
  });

  it('accepts line-wrapped base64 and a data: URL prefix', async () => {
    const a = await app();
    const s = samples[0]!;
    const wrapped = s.base64.replace(/.{76}/g, '$&\n');
    const res = await a.inject({
      method: 'POST',
      url: '/score',
      headers: json,
      payload: { wrapped, dataUrl: `data:image/png;base64,${s.base64}` },
    });
    assert.equal(res.statusCode, 200);
    const label = (await classifier.classify(s.bytes)).label;
    assert.deepEqual(res.json(), [{ wrapped: label }, { dataUrl: label }]);
  });

  it('decodes photo-sized images into its shared buffers, gives them back once answered, whatever the outcome', async () => {
    const imageBuffers = new BufferPool({ largest: 1 << 20, keepBytes: 8 << 20, shared: true });
    const a = await app({ imageBuffers });
    const photos = await Promise.all([1, 2, 3].map((seed) => photoLikeJpeg(1920, 1080, seed)));
    assert.ok(photos.every((p) => p.length >= MIN_POOLED_BYTES && p.length <= 1 << 20), 'photos of pooled size');
    const expected = await Promise.all(photos.map(async (p) => (await classifier.classify(p)).label));
    // Two requests at a time, twice over: the second pair reuses the first pair's buffers, so an answer
    // read from a buffer still in use by another request would come out wrong.
    for (const pair of [[0, 1], [2, 0]]) {
      const answers = await Promise.all(
        pair.map((k) => a.inject({ method: 'POST', url: '/score', headers: json, payload: `{"photo-${k}.jpg": "${photos[k]!.toString('base64')}"}` })),
      );
      pair.forEach((k, i) => assert.deepEqual(answers[i]!.json(), [{ [`photo-${k}.jpg`]: expected[k] }]));
      assert.equal(imageBuffers.lent, 0, 'every buffer given back');
    }
    assert.ok(imageBuffers.idle >= 2 * (256 << 10), 'and kept for the next requests');
    // Refused after decoding (too many images: 413), and an image the core refuses (400): the buffers come back too.
    const few = await app({ imageBuffers, limits: { maxImagesPerRequest: 1 } });
    const two = `{"a.jpg": "${photos[0]!.toString('base64')}", "b.jpg": "${photos[1]!.toString('base64')}"}`;
    assert.equal((await few.inject({ method: 'POST', url: '/score', headers: json, payload: two })).statusCode, 413);
    assert.equal(imageBuffers.lent, 0);
    const broken = photos[0]!.subarray(0, photos[0]!.length >> 1); // truncated: 400 invalid_image
    const res = await a.inject({ method: 'POST', url: '/score', headers: json, payload: `{"broken.jpg": "${broken.toString('base64')}"}` });
    assert.equal(res.statusCode, 400);
    assert.equal(imageBuffers.lent, 0);
    // Refused before the route (no key): given back when the response has gone.
    const noKey = await a.inject({ method: 'POST', url: '/score', headers: { 'content-type': 'application/json' }, payload: `{"a.jpg": "${photos[0]!.toString('base64')}"}` });
    assert.equal(noKey.statusCode, 401);
    assert.equal(imageBuffers.lent, 0);
  });

  it('GET / answers 200 (seed-era liveness)', async () => {
    const res = await (await app()).inject({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'healthy' });
  });
});

describe('seed contract: one image file as the body of POST /score', () => {
  const post = (a: FastifyInstance, url: string, type: string | undefined, payload: Buffer | string, headers: Record<string, string> = auth) =>
    a.inject({ method: 'POST', url, headers: { ...headers, ...(type === undefined ? {} : { 'content-type': type }) }, payload });

  it('answers [{"image": label}] as the JSON body would, whatever image type is declared; ?name= names it, top_k applies', async () => {
    const a = await app();
    const photo = await photoLikeJpeg(1920, 1080, 4);
    for (const { bytes, name } of [{ bytes: photo, name: 'IMG_0042.jpg' }, ...samples.slice(0, 3).map((s) => ({ bytes: s.bytes, name: s.name }))]) {
      const viaJson = await a.inject({ method: 'POST', url: '/score', headers: json, payload: { [name]: bytes.toString('base64') } });
      assert.equal(viaJson.statusCode, 200);
      const label = (viaJson.json() as Array<Record<string, string>>)[0]![name];
      assert.equal(label, (await classifier.classify(bytes)).label);
      // The bytes are sniffed: a PNG declared as image/jpeg is still a PNG; charset-like parameters are ignored.
      for (const type of ['image/jpeg', 'image/png', 'application/octet-stream', 'IMAGE/JPEG; q=1']) {
        const res = await post(a, '/score', type, bytes);
        assert.equal(res.statusCode, 200, `${name} as ${type}: ${res.body}`);
        assert.match(res.headers['content-type'] as string, /^application\/json/);
        assert.deepEqual(res.json(), [{ image: label }], `${name} as ${type}`);
      }
      const named = await post(a, `/score?name=${encodeURIComponent(name)}`, 'image/jpeg', bytes);
      assert.deepEqual(named.json(), [{ [name]: label }]);
      const top = await post(a, `/score?top_k=2&name=${encodeURIComponent(name)}`, 'image/jpeg', bytes);
      const viaJsonTop = await a.inject({ method: 'POST', url: '/score?top_k=2', headers: json, payload: { [name]: bytes.toString('base64') } });
      assert.deepEqual(top.json(), viaJsonTop.json());
    }
  });

  it('reads a photo-sized body into its shared buffers and gives them back once answered, whatever the outcome', async () => {
    const imageBuffers = new BufferPool({ largest: 1 << 20, keepBytes: 8 << 20, shared: true });
    const a = await app({ imageBuffers });
    const photos = await Promise.all([5, 6, 7].map((seed) => photoLikeJpeg(1920, 1080, seed)));
    assert.ok(photos.every((p) => p.length >= MIN_POOLED_BYTES && p.length <= 1 << 20), 'photos of pooled size');
    const expected = await Promise.all(photos.map(async (p) => (await classifier.classify(p)).label));
    // Two at a time, twice over: the second pair reuses the first pair's buffers.
    for (const pair of [[0, 1], [2, 0]]) {
      const answers = await Promise.all(pair.map((k) => post(a, `/score?name=p${k}.jpg`, 'image/jpeg', photos[k]!)));
      pair.forEach((k, i) => assert.deepEqual(answers[i]!.json(), [{ [`p${k}.jpg`]: expected[k] }]));
      assert.equal(imageBuffers.lent, 0, 'every buffer given back');
    }
    assert.ok(imageBuffers.idle >= 2 * (256 << 10), 'and kept for the next requests');
    // Refused by the core (a truncated JPEG), by the query schema after the body was read, by the route
    // (name on... a V2 route that takes no image body), and before the body (no key): all given back.
    const broken = photos[0]!.subarray(0, photos[0]!.length >> 1);
    assert.equal((await post(a, '/score?name=broken.jpg', 'image/jpeg', broken)).statusCode, 400);
    assert.equal(imageBuffers.lent, 0);
    assert.equal((await post(a, '/score?nam=x.jpg', 'image/jpeg', photos[0]!)).statusCode, 400);
    assert.equal(imageBuffers.lent, 0);
    assert.equal((await post(a, `/v2/models/${classifier.card.name}/infer`, 'image/jpeg', photos[0]!)).statusCode, 415);
    assert.equal(imageBuffers.lent, 0);
    assert.equal((await post(a, '/score', 'image/jpeg', photos[0]!, {})).statusCode, 401);
    assert.equal(imageBuffers.lent, 0);
  });

  it('answers bad image bodies with a 4xx naming the problem', async () => {
    const a = await app({ limits: { maxImagesPerRequest: 3, bodyLimitBytes: 64 * 1024 } });
    const png = samples[0]!.bytes;
    const heic = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic'), Buffer.alloc(4), Buffer.from('mif1heic'), Buffer.alloc(64, 9)]);
    const takes = 'send Content-Type: application/json ({"<file name>": "<base64 image>"}), or the image file itself as image/jpeg, image/png (any image/...) or application/octet-stream';
    const cases: Array<{ what: string; url?: string; type: string | undefined; payload: Buffer | string; status: number; body: object }> = [
      { what: 'empty body', type: 'image/jpeg', payload: '', status: 400, body: { error: 'request body is empty; send the image file\'s bytes (Content-Type "image/jpeg")', code: 'no_image' } },
      {
        what: 'not an image',
        url: '/score?name=notes.txt',
        type: 'application/octet-stream',
        payload: 'hello',
        status: 400,
        body: { error: '"notes.txt": unsupported image format: expected PNG, JPEG, GIF, WebP, AVIF or TIFF', code: 'invalid_image' },
      },
      {
        what: "an iPhone's HEIC photo",
        url: '/score?name=IMG_0001.HEIC',
        type: 'image/heic',
        payload: heic,
        status: 400,
        body: {
          error: '"IMG_0001.HEIC": unsupported image format: HEIC/HEIF (an iPhone camera\'s default); expected PNG, JPEG, GIF, WebP, AVIF or TIFF. On iOS, Settings > Camera > Formats > Most Compatible makes JPEGs',
          code: 'invalid_image',
        },
      },
      {
        what: 'over the body limit',
        type: 'image/jpeg',
        payload: Buffer.alloc(64 * 1024 + 1, 0xff),
        status: 413,
        body: { error: 'request body is larger than the limit of this service (BODY_LIMIT_BYTES)', code: 'body_too_large' },
      },
      {
        what: 'name with a JSON body',
        url: '/score?name=a.png',
        type: 'application/json',
        payload: JSON.stringify({ 'a.png': samples[0]!.base64 }),
        status: 400,
        body: {
          error: 'name applies to an image file sent as the body (Content-Type image/... or application/octet-stream); a JSON body names its images by its keys',
          code: 'invalid_request',
        },
      },
      { what: 'empty name', url: '/score?name=', type: 'image/png', payload: png, status: 400, body: { error: 'name must be 1 to 1024 characters', code: 'invalid_request' } },
      {
        what: 'a form upload (multipart)',
        type: 'multipart/form-data; boundary=x',
        payload: '--x\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n\r\n--x--\r\n',
        status: 415,
        body: { error: `unsupported media type: the request has Content-Type "multipart/form-data; boundary=x"; ${takes}`, code: 'unsupported_media_type' },
      },
      {
        what: 'an image body to the V2 route, which takes JSON only',
        url: `/v2/models/${classifier.card.name}/infer`,
        type: 'image/png',
        payload: png,
        status: 415,
        body: { error: 'unsupported media type: the request has Content-Type "image/png"; send Content-Type: application/json' },
      },
    ];
    for (const c of cases) {
      const res = await post(a, c.url ?? '/score', c.type, c.payload);
      assert.equal(res.statusCode, c.status, `${c.what}: ${res.body}`);
      assert.deepEqual(res.json(), c.body, c.what);
    }
  });
});

describe('auth', () => {
  const body = (): Record<string, string> => ({ [samples[0]!.name]: samples[0]!.base64 });

  it('accepts the primary and the secondary key (scheme case-insensitive)', async () => {
    const a = await app();
    for (const header of [`Bearer ${PRIMARY}`, `Bearer ${SECONDARY}`, `bearer ${SECONDARY}`]) {
      const res = await a.inject({ method: 'POST', url: '/score', headers: { authorization: header }, payload: body() });
      assert.equal(res.statusCode, 200, header);
    }
  });

  it('answers 401 with WWW-Authenticate and a JSON body without a key or with a wrong one', async () => {
    const a = await app();
    const missing = await a.inject({ method: 'POST', url: '/score', payload: body() });
    assert.equal(missing.statusCode, 401);
    assert.equal(missing.headers['www-authenticate'], 'Bearer realm="scoring"');
    assert.deepEqual(missing.json(), {
      error: 'missing API key: send the header Authorization: Bearer <key>',
      code: 'unauthorized',
    });
    for (const header of ['Bearer wrong-key', `Basic ${PRIMARY}`, `Bearer ${PRIMARY}x`, 'Bearer ']) {
      const res = await a.inject({ method: 'POST', url: '/score', headers: { authorization: header }, payload: body() });
      assert.equal(res.statusCode, 401, header);
      assert.match(res.headers['www-authenticate'] as string, /^Bearer realm="scoring"/);
      assert.equal((res.json() as { code: string }).code, 'unauthorized');
    }
    const v2 = await a.inject({ method: 'GET', url: `/v2/models/${classifier.card.name}`, headers: { authorization: 'Bearer nope' } });
    assert.equal(v2.statusCode, 401);
    assert.deepEqual(v2.json(), { error: 'invalid API key' });
  });

  it('protects the V2 model routes but not health, docs, metrics or server metadata', async () => {
    const a = await app();
    const name = classifier.card.name;
    for (const url of [`/v2/models/${name}`, `/v2/models/${name}/ready`]) {
      assert.equal((await a.inject({ method: 'GET', url })).statusCode, 401, url);
    }
    assert.equal((await a.inject({ method: 'POST', url: `/v2/models/${name}/infer`, payload: {} })).statusCode, 401);
    for (const url of ['/', '/v2', '/v2/health/live', '/v2/health/ready', '/docs/json', '/metrics']) {
      assert.equal((await a.inject({ method: 'GET', url })).statusCode, 200, url);
    }
  });

  it('with auth disabled, serves without a key', async () => {
    const a = await app({ auth: { mode: 'disabled' } });
    const res = await a.inject({ method: 'POST', url: '/score', payload: body() });
    assert.equal(res.statusCode, 200);
  });
});

describe('bad input: 4xx with a JSON body naming the problem', () => {
  const s = (): Sample => samples[0]!;

  it('answers the documented status and body for each malformed request', async () => {
    const a = await app({ limits: { maxImagesPerRequest: 3, bodyLimitBytes: 64 * 1024 } });
    const cases: Array<{ what: string; payload: string; headers?: Record<string, string>; url?: string; status: number; body: object }> = [
      {
        what: 'invalid JSON',
        payload: '{"a.png": ',
        status: 400,
        body: { error: 'request body is not valid JSON: Unexpected end of JSON input', code: 'invalid_json' },
      },
      {
        what: 'empty JSON body',
        payload: '',
        status: 400,
        body: { error: 'request body is empty; send a JSON object', code: 'invalid_json' },
      },
      {
        what: 'prototype poisoning',
        payload: '{"__proto__": {"polluted": true}}',
        status: 400,
        body: { error: 'request body has a "__proto__" or "constructor.prototype" key, which is not allowed', code: 'invalid_json' },
      },
      ...[
        // The same keys written with \u escapes, and constructor.prototype beside an image.
        '{"\\u005f_proto__": {"polluted": true}}',
        '{"a.png": "iVBORw0KGgo=", "constructor" : {"prototype": {"polluted": true}}}',
        '{"\\u0063onstructor": {"prototype": {"polluted": true}}}',
      ].map((payload) => ({
        what: `prototype poisoning: ${payload.slice(0, 30)}`,
        payload,
        status: 400,
        body: { error: 'request body has a "__proto__" or "constructor.prototype" key, which is not allowed', code: 'invalid_json' },
      })),
      {
        what: 'wrong content type',
        payload: `a.png=${s().base64}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth },
        status: 415,
        body: {
          error:
            'unsupported media type: the request has Content-Type "application/x-www-form-urlencoded"; send Content-Type: application/json ({"<file name>": "<base64 image>"}), ' +
            'or the image file itself as image/jpeg, image/png (any image/...) or application/octet-stream',
          code: 'unsupported_media_type',
        },
      },
      {
        what: 'JSON sent as text/plain',
        payload: JSON.stringify({ 'a.png': s().base64 }),
        headers: { 'content-type': 'text/plain', ...auth },
        status: 415,
        body: {
          error:
            'unsupported media type: the request has Content-Type "text/plain"; send Content-Type: application/json ({"<file name>": "<base64 image>"}), ' +
            'or the image file itself as image/jpeg, image/png (any image/...) or application/octet-stream',
          code: 'unsupported_media_type',
        },
      },
      {
        what: 'empty object',
        payload: '{}',
        status: 400,
        body: { error: 'the request body holds no image: send {"<file name>": "<base64-encoded image>", ...}', code: 'no_image' },
      },
      {
        what: 'an array instead of an object',
        payload: '["a"]',
        status: 400,
        body: {
          error: 'the request body must be a JSON object mapping file names to base64-encoded images: {"<file name>": "<base64>", ...}',
          code: 'invalid_request',
        },
      },
      {
        what: 'a non-string value',
        payload: '{"a/b.png": 12345678}',
        status: 400,
        body: { error: '"a/b.png": the value must be a string holding a base64-encoded image', code: 'invalid_request' },
      },
      {
        what: 'invalid base64',
        payload: '{"x.png": "not base64!"}',
        status: 400,
        body: { error: '"x.png": not valid base64 (expected a base64-encoded image file)', code: 'invalid_base64' },
      },
      {
        what: 'an empty string',
        payload: '{"x.png": ""}',
        status: 400,
        body: { error: '"x.png": the image is empty (expected a base64-encoded image file)', code: 'invalid_base64' },
      },
      {
        what: 'bytes that are not an image',
        payload: JSON.stringify({ 'notes.txt': Buffer.from('hello, this is text').toString('base64') }),
        status: 400,
        body: { error: '"notes.txt": unsupported image format: expected PNG, JPEG, GIF, WebP, AVIF or TIFF', code: 'invalid_image' },
      },
      {
        what: "an iPhone's HEIC photo",
        payload: JSON.stringify({ 'IMG_0001.HEIC': Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic'), Buffer.alloc(4), Buffer.from('mif1heic'), Buffer.alloc(64, 9)]).toString('base64') }),
        status: 400,
        body: {
          error: '"IMG_0001.HEIC": unsupported image format: HEIC/HEIF (an iPhone camera\'s default); expected PNG, JPEG, GIF, WebP, AVIF or TIFF. On iOS, Settings > Camera > Formats > Most Compatible makes JPEGs',
          code: 'invalid_image',
        },
      },
      {
        what: 'too many images',
        payload: JSON.stringify({ a: s().base64, b: s().base64, c: s().base64, d: s().base64 }),
        status: 413,
        body: { error: 'too many images in one request: at most 3 (MAX_IMAGES_PER_REQUEST); split the request', code: 'too_many_images' },
      },
      {
        what: 'a body over the size limit',
        payload: JSON.stringify({ big: 'A'.repeat(70 * 1024) }),
        status: 413,
        body: { error: 'request body is larger than the limit of this service (BODY_LIMIT_BYTES)', code: 'body_too_large' },
      },
      {
        what: 'top_k of 0',
        url: '/score?top_k=0',
        payload: JSON.stringify({ a: s().base64 }),
        status: 400,
        body: { error: 'top_k must be an integer of at least 1', code: 'invalid_request' },
      },
    ];
    for (const c of cases) {
      const res = await a.inject({ method: 'POST', url: c.url ?? '/score', headers: c.headers ?? json, payload: c.payload });
      assert.equal(res.statusCode, c.status, c.what);
      assert.deepEqual(res.json(), c.body, c.what);
    }
  });

  it('refuses an image whose header declares hundreds of megapixels with 413, naming the file', async () => {
    const a = await app();
    const huge = pngDeclaring(20_000, 20_000).toString('base64');
    const res = await a.inject({ method: 'POST', url: '/score', headers: json, payload: { [s().name]: s().base64, 'huge.png': huge } });
    assert.equal(res.statusCode, 413);
    const body = res.json() as { error: string; code: string };
    assert.equal(body.code, 'image_too_large');
    assert.match(body.error, /^"huge\.png": /);
  });

  it('names the one bad file among several', async () => {
    const a = await app();
    const payload = { [samples[0]!.name]: samples[0]!.base64, 'broken.png': samples[1]!.bytes.subarray(0, 40).toString('base64'), [samples[2]!.name]: samples[2]!.base64 };
    const res = await a.inject({ method: 'POST', url: '/score', headers: json, payload });
    assert.equal(res.statusCode, 400);
    const body = res.json() as { error: string; code: string };
    assert.equal(body.code, 'invalid_image');
    assert.match(body.error, /^"broken\.png": /);
  });

  it('unknown routes answer 404 with a JSON body', async () => {
    const a = await app();
    const res = await a.inject({ method: 'GET', url: '/nope?x=1' });
    assert.equal(res.statusCode, 404);
    assert.deepEqual(res.json(), { error: 'route GET /nope not found', code: 'not_found' });
    const v2 = await a.inject({ method: 'GET', url: '/v2/nope' });
    assert.deepEqual(v2.json(), { error: 'route GET /v2/nope not found' });
  });

  it('echoes a plausible X-Request-Id on every answer, and otherwise answers a fresh UUID', async () => {
    const a = await app();
    const body = { [samples[0]!.name]: samples[0]!.base64 };
    const given = await a.inject({ method: 'POST', url: '/score', headers: { ...json, 'x-request-id': 'client-42:a/b' }, payload: body });
    assert.equal(given.statusCode, 200);
    assert.equal(given.headers['x-request-id'], 'client-42:a/b');
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    const fresh = await a.inject({ method: 'POST', url: '/score', headers: json, payload: body });
    assert.match(fresh.headers['x-request-id'] as string, uuid);
    const again = await a.inject({ method: 'POST', url: '/score', headers: json, payload: body });
    assert.notEqual(again.headers['x-request-id'], fresh.headers['x-request-id']);
    // Too long, or characters a log line should not carry: replaced, not echoed.
    for (const bad of ['x'.repeat(129), 'a b', '<script>']) {
      const res = await a.inject({ method: 'GET', url: '/', headers: { 'x-request-id': bad } });
      assert.match(res.headers['x-request-id'] as string, uuid, bad);
    }
    // Errors carry it too: 401, 404, 400.
    for (const res of [
      await a.inject({ method: 'POST', url: '/score', headers: { 'content-type': 'application/json', 'x-request-id': 'e1' }, payload: body }),
      await a.inject({ method: 'GET', url: '/nope', headers: { 'x-request-id': 'e2' } }),
      await a.inject({ method: 'POST', url: '/score', headers: { ...json, 'x-request-id': 'e3' }, payload: '{' }),
    ]) {
      assert.ok(res.statusCode >= 400);
      assert.match(res.headers['x-request-id'] as string, /^e[123]$/);
    }
  });

  it('a compressed body gets 415 naming the encoding (bodies are read uncompressed)', async () => {
    const a = await app();
    const payload = gzipSync(JSON.stringify({ [samples[0]!.name]: samples[0]!.base64 }));
    const res = await a.inject({ method: 'POST', url: '/score', headers: { ...json, 'content-encoding': 'gzip' }, payload });
    assert.equal(res.statusCode, 415);
    assert.deepEqual(res.json(), {
      error: 'Content-Encoding "gzip" is not supported; send the body uncompressed',
      code: 'unsupported_content_encoding',
    });
    const v2 = await a.inject({ method: 'POST', url: `/v2/models/${classifier.card.name}/infer`, headers: { ...json, 'content-encoding': 'br' }, payload: Buffer.from('x') });
    assert.equal(v2.statusCode, 415);
    assert.deepEqual(v2.json(), { error: 'Content-Encoding "br" is not supported; send the body uncompressed' });
    const identity = await a.inject({ method: 'POST', url: '/score', headers: { ...json, 'content-encoding': 'identity' }, payload: { [samples[0]!.name]: samples[0]!.base64 } });
    assert.equal(identity.statusCode, 200);
  });

  it('fuzz: malformed bodies never produce a 5xx, always a JSON error, and the app keeps serving', async () => {
    const a = await app({ limits: { maxImagesPerRequest: 8, bodyLimitBytes: 256 * 1024 } });
    // Deterministic pseudo-random sequence, so a failure can be replayed.
    let seed = 0x2f6b1d3;
    const random = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x100000000;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    const randomBytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
    const corrupt = (bytes: Buffer): Buffer => {
      const copy = Buffer.from(bytes);
      for (let k = 0; k < 1 + random() * 8; k++) copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
      return random() < 0.3 ? copy.subarray(0, Math.floor(random() * copy.length)) : copy;
    };
    const values: Array<() => unknown> = [
      () => corrupt(pick(samples).bytes).toString('base64'),
      () => randomBytes(Math.floor(random() * 200)).toString('base64'),
      () => randomBytes(Math.floor(random() * 50)).toString('latin1'),
      () => pngDeclaring(1 + Math.floor(random() * 100_000), 1 + Math.floor(random() * 100_000)).toString('base64'),
      () => pick([null, true, 1.5, -1, [], {}, [pick(samples).base64], { nested: 'x' }]),
      () => pick(samples).base64.slice(0, Math.floor(random() * 60)),
      () => `data:image/png;base64,${pick(samples).base64}`,
    ];
    const bodies: Array<() => string> = [
      () => JSON.stringify(Object.fromEntries(Array.from({ length: 1 + Math.floor(random() * 10) }, (_, i) => [`f${i}.png`, pick(values)()]))),
      () => JSON.stringify(pick(values)()),
      () => JSON.stringify({ [randomBytes(8).toString('latin1')]: pick(values)() }).slice(0, Math.floor(random() * 80)),
      () => randomBytes(Math.floor(random() * 300)).toString('latin1'),
      () => pick(['', 'null', '[]', '{}', '{"__proto__": {"x": 1}}', '{"constructor": {"prototype": {"x": 1}}}', '"str"', '1e999']),
    ];
    const contentTypes = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/octet-stream', undefined];
    const urls = ['/score', '/score?top_k=2', '/score?top_k=-1', '/score?top_k=x', `/v2/models/${classifier.card.name}/infer`];
    for (let i = 0; i < 300; i++) {
      const contentType = i % 4 === 0 ? pick(contentTypes) : 'application/json';
      const headers: Record<string, string> = { ...auth };
      if (contentType !== undefined) headers['content-type'] = contentType;
      const payload = pick(bodies)();
      const url = pick(urls);
      const res = await a.inject({ method: 'POST', url, headers, payload });
      const context = `#${i} ${url} ${contentType} ${payload.slice(0, 120)}`;
      assert.ok(res.statusCode < 500, `${context} → ${res.statusCode} ${res.body}`);
      if (res.statusCode >= 400) {
        const body = res.json() as { error?: unknown };
        assert.equal(typeof body.error, 'string', context);
      }
    }
    const ok = await a.inject({ method: 'POST', url: '/score', headers: json, payload: { [samples[0]!.name]: samples[0]!.base64 } });
    assert.equal(ok.statusCode, 200);
  });
});

describe('failures the client did not cause', () => {
  it('a full queue answers 503 with Retry-After (the real core, QUEUE_MAX below the request)', async () => {
    const small = await Classifier.load({ modelDir, intraOpThreads: 1, maxQueue: 2 });
    try {
      const a = await app({ classifier: small });
      const payload = Object.fromEntries(samples.slice(0, 3).map((s) => [s.name, s.base64]));
      const res = await a.inject({ method: 'POST', url: '/score', headers: json, payload });
      assert.equal(res.statusCode, 503);
      assert.equal(res.headers['retry-after'], '1');
      const body = res.json() as { error: string; code: string };
      assert.equal(body.code, 'overloaded');
      assert.match(body.error, /busy/);
    } finally {
      await small.close();
    }
  });

  it('overload from the core keeps its Retry-After', async () => {
    const a = await app({
      classifier: await fakeClassifier({
        classifyAll: async () => {
          throw new OverloadedError('server is busy; retry shortly', 3);
        },
      }),
    });
    const res = await a.inject({ method: 'POST', url: '/score', headers: json, payload: { a: samples[0]!.base64 } });
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['retry-after'], '3');
    assert.deepEqual(res.json(), { error: 'server is busy; retry shortly', code: 'overloaded' });
  });

  it('inference failures and unexpected errors answer a 500 that hides internals', async () => {
    const secret = 'onnxruntime: /opt/secret/path kernel exploded';
    const failures = [
      async () => {
        throw new InferenceFailedError('inference failed', { cause: new Error(secret) });
      },
      async () => {
        throw new Error(secret);
      },
      async () => [{ ok: false as const, error: new InferenceFailedError('inference failed', { cause: new Error(secret) }) }],
    ];
    for (const classifyAll of failures) {
      const a = await app({ classifier: await fakeClassifier({ classifyAll, classifyTensor: classifyAll as never }) });
      const res = await a.inject({ method: 'POST', url: '/score', headers: json, payload: { a: samples[0]!.base64 } });
      assert.equal(res.statusCode, 500);
      assert.deepEqual(res.json(), { error: 'internal error', code: 'internal_error' });
      assert.ok(!res.body.includes('secret'));
      const v2 = await a.inject({
        method: 'POST',
        url: `/v2/models/${classifier.card.name}/infer`,
        headers: json,
        payload: { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: [samples[0]!.base64] }] },
      });
      assert.equal(v2.statusCode, 500);
      assert.deepEqual(v2.json(), { error: 'internal error' });
    }
  });

  it('per-image core errors map by code (400 invalid image, 413 too large)', async () => {
    const a = await app({
      classifier: await fakeClassifier({
        classifyAll: async (images) =>
          images.map((_, i) =>
            i === 0 ? { ok: false as const, error: new ImageTooLargeError('image is too large') } : { ok: false as const, error: new InvalidImageError('corrupt') },
          ),
      }),
    });
    const first = await a.inject({ method: 'POST', url: '/score', headers: json, payload: { 'big.png': 'AAAA', 'bad.png': 'AAAA' } });
    assert.equal(first.statusCode, 413);
    assert.deepEqual(first.json(), { error: '"big.png": image is too large', code: 'image_too_large' });
  });

  it('before the model has loaded: not ready, and model routes answer 503 model_not_ready', async () => {
    let resolveLoad: (c: Classifier) => void = () => undefined;
    const pending = new Promise<Classifier>((r) => (resolveLoad = r));
    const a = await app({ classifier: pending });
    const ready = await a.inject({ method: 'GET', url: '/v2/health/ready' });
    assert.equal(ready.statusCode, 503);
    assert.deepEqual(ready.json(), { ready: false });
    assert.equal((await a.inject({ method: 'GET', url: '/v2/health/live' })).statusCode, 200);
    const score = await a.inject({ method: 'POST', url: '/score', headers: json, payload: { a: samples[0]!.base64 } });
    assert.equal(score.statusCode, 503);
    assert.equal(score.headers['retry-after'], '5');
    assert.deepEqual(score.json(), { error: 'the model is not loaded yet; retry shortly', code: 'model_not_ready' });
    resolveLoad(classifier);
    await pending;
    assert.equal((await a.inject({ method: 'GET', url: '/v2/health/ready' })).statusCode, 200);
    a.scoring.drain();
    const drained = await a.inject({ method: 'GET', url: '/v2/health/ready' });
    assert.equal(drained.statusCode, 503);
    // Draining stops readiness, not service: in-flight traffic from the load balancer is still served.
    assert.equal((await a.inject({ method: 'POST', url: '/score', headers: json, payload: { a: samples[0]!.base64 } })).statusCode, 200);
  });
});

describe('Open Inference Protocol (V2)', () => {
  const infer = (): string => `/v2/models/${classifier.card.name}/infer`;

  it('server metadata, model metadata and model readiness', async () => {
    const a = await app();
    const card = classifier.card;
    const server = (await a.inject({ method: 'GET', url: '/v2' })).json() as { name: string; version: string; extensions: string[] };
    assert.equal(server.name, 'model-deploy-scoring-service');
    assert.deepEqual(server.extensions, []);
    const meta = await a.inject({ method: 'GET', url: `/v2/models/${card.name}`, headers: auth });
    assert.equal(meta.statusCode, 200);
    assert.deepEqual(meta.json(), {
      name: card.name,
      versions: [card.version],
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'image', datatype: 'BYTES', shape: [-1] },
        { name: card.input.name, datatype: 'FP32', shape: card.input.shape },
      ],
      outputs: [
        { name: card.output.name, datatype: 'FP32', shape: [-1, card.labels.length] },
        { name: 'label', datatype: 'BYTES', shape: [-1] },
      ],
      parameters: { labels: card.labels, sha256: card.sha256, task: 'single-label' },
    });
    const versioned = await a.inject({ method: 'GET', url: `/v2/models/${card.name}/versions/${card.version}/ready`, headers: auth });
    assert.deepEqual(versioned.json(), { name: card.name, ready: true });
    const missing = await a.inject({ method: 'GET', url: '/v2/models/other/ready', headers: auth });
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(missing.json(), { error: `model "other" not found; this server serves "${card.name}"` });
    // An unknown model (or version) is 404 whatever the body holds, not a complaint about the body.
    for (const url of ['/v2/models/other/infer', `/v2/models/${card.name}/versions/9.9.9/infer`]) {
      const res = await a.inject({ method: 'POST', url, headers: json, payload: { inputs: [] } });
      assert.equal(res.statusCode, 404, url);
      assert.match((res.json() as { error: string }).error, /not found/);
    }
  });

  it('infers encoded images from a BYTES input: probabilities and labels', async () => {
    const a = await app();
    const picked = samples.slice(0, 3);
    const res = await a.inject({
      method: 'POST',
      url: infer(),
      headers: json,
      payload: { id: 'req-7', inputs: [{ name: 'image', shape: [3], datatype: 'BYTES', data: picked.map((s) => s.base64) }] },
    });
    assert.equal(res.statusCode, 200);
    const body = res.json() as { model_name: string; model_version: string; id: string; outputs: Array<{ name: string; datatype: string; shape: number[]; data: Array<number | string> }> };
    const classes = classifier.card.labels.length;
    assert.equal(body.model_name, classifier.card.name);
    assert.equal(body.model_version, classifier.card.version);
    assert.equal(body.id, 'req-7');
    const [probabilities, labels] = body.outputs;
    assert.deepEqual({ ...probabilities, data: undefined }, { name: 'probabilities', datatype: 'FP32', shape: [3, classes], data: undefined });
    assert.equal(probabilities!.data.length, 3 * classes);
    assert.deepEqual(labels, { name: 'label', datatype: 'BYTES', shape: [3], data: await Promise.all(picked.map(async (s) => (await classifier.classify(s.bytes)).label)) });
    for (let i = 0; i < 3; i++) {
      const row = probabilities!.data.slice(i * classes, (i + 1) * classes) as number[];
      assert.ok(Math.abs(row.reduce((x, y) => x + y, 0) - 1) < 1e-3);
      assert.equal(classifier.card.labels[row.indexOf(Math.max(...row))], labels!.data[i]);
    }
  });

  it('infers a raw FP32 tensor (flat or nested) and honours the requested outputs', async () => {
    const a = await app();
    const size = 28 * 28;
    const flat = Array.from({ length: 2 * size }, (_, i) => (i % 97) / 97);
    const direct = await classifier.classifyTensor(Float32Array.from(flat), 2);
    const res = await a.inject({
      method: 'POST',
      url: infer(),
      headers: json,
      payload: { inputs: [{ name: classifier.card.input.name, shape: [2, 1, 28, 28], datatype: 'FP32', data: flat }], outputs: [{ name: 'label' }] },
    });
    assert.equal(res.statusCode, 200);
    assert.deepEqual((res.json() as { outputs: unknown }).outputs, [{ name: 'label', datatype: 'BYTES', shape: [2], data: direct.map((p) => p.label) }]);

    const nested = [0, 1].map((n) => [Array.from({ length: 28 }, (_, y) => flat.slice(n * size + y * 28, n * size + (y + 1) * 28))]);
    const res2 = await a.inject({
      method: 'POST',
      url: infer(),
      headers: json,
      payload: { inputs: [{ name: classifier.card.input.name, shape: [2, 1, 28, 28], datatype: 'FP32', data: nested }], outputs: [{ name: 'label' }] },
    });
    assert.deepEqual(res2.json(), res.json());
  });

  it('answers protocol errors as {"error": "..."}', async () => {
    const a = await app({ limits: { maxImagesPerRequest: 2 } });
    const input = classifier.card.input.name;
    const cases: Array<{ payload: unknown; status: number; error: string }> = [
      { payload: {}, status: 400, error: "body must have required property 'inputs'" },
      { payload: { inputs: [] }, status: 400, error: 'body/inputs must NOT have fewer than 1 items' },
      { payload: { inputs: [{ name: 'x', shape: [1], datatype: 'BYTES', data: ['a'] }] }, status: 400, error: `unknown input "x"; this model takes "image" (BYTES, base64 image files) or "${input}" (FP32 tensor)` },
      { payload: { inputs: [{ name: 'image', shape: [1], datatype: 'FP32', data: [1] }] }, status: 400, error: 'input "image" must have datatype BYTES, got "FP32"' },
      { payload: { inputs: [{ name: 'image', shape: [2], datatype: 'BYTES', data: ['a'] }] }, status: 400, error: 'input "image": shape [2] does not match 1 data elements (expected [1])' },
      { payload: { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: [7] }] }, status: 400, error: 'input "image" element 0: must be a string holding a base64-encoded image' },
      { payload: { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: ['aGVsbG8='] }] }, status: 400, error: 'input "image" element 0: unsupported image format: expected PNG, JPEG, GIF, WebP, AVIF or TIFF' },
      { payload: { inputs: [{ name: 'image', shape: [3], datatype: 'BYTES', data: ['a', 'b', 'c'] }] }, status: 413, error: 'too many images in one request: at most 2 (MAX_IMAGES_PER_REQUEST); split the request' },
      { payload: { inputs: [{ name: input, shape: [1, 1, 28, 27], datatype: 'FP32', data: [] }] }, status: 400, error: `input "${input}": shape [1,1,28,27] does not match the model's [-1,1,28,28]` },
      { payload: { inputs: [{ name: input, shape: [1, 1, 28, 28], datatype: 'FP32', data: [1, 2] }] }, status: 400, error: `input "${input}": shape [1,1,28,28] needs 784 values, got 2` },
      { payload: { inputs: [{ name: input, shape: [1, 1, 28, 28], datatype: 'FP32', data: Array(784).fill('x') }] }, status: 400, error: `input "${input}" element 0: must be a number` },
      { payload: { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: ['a'] }], outputs: [{ name: 'logits' }] }, status: 400, error: 'unknown output "logits"; this model has "probabilities" and "label"' },
    ];
    for (const c of cases) {
      const res = await a.inject({ method: 'POST', url: infer(), headers: json, payload: c.payload as object });
      assert.equal(res.statusCode, c.status, JSON.stringify(c.payload).slice(0, 100));
      assert.deepEqual(res.json(), { error: c.error });
    }
  });
});

describe('operations', () => {
  it('/metrics exposes requests, latency, batches, queue depth, rejections, images by label and process metrics', async () => {
    const metrics = createServiceMetrics();
    const observed = await Classifier.load({ modelDir, intraOpThreads: 1, observer: metrics.classifierObserver });
    try {
      const a = await app({ classifier: observed, metrics });
      const payload = Object.fromEntries(samples.map((s) => [s.name, s.base64]));
      assert.equal((await a.inject({ method: 'POST', url: '/score', headers: json, payload })).statusCode, 200);
      assert.equal((await a.inject({ method: 'POST', url: '/score', headers: json, payload: '{}' })).statusCode, 400);
      const res = await a.inject({ method: 'GET', url: '/metrics' });
      assert.equal(res.statusCode, 200);
      assert.match(res.headers['content-type'] as string, /^text\/plain/);
      const text = res.body;
      assert.match(text, /^http_requests_total\{method="POST",route="\/score",status_code="200"\} 1$/m);
      assert.match(text, /^http_requests_total\{method="POST",route="\/score",status_code="400"\} 1$/m);
      assert.match(text, /^http_request_duration_seconds_count\{method="POST",route="\/score"\} 2$/m);
      const batchCount = Number(/^inference_batch_size_count (\d+)$/m.exec(text)?.[1]);
      const batchSum = Number(/^inference_batch_size_sum (\d+)$/m.exec(text)?.[1]);
      assert.ok(batchCount >= 1 && batchSum >= samples.length, `batches ${batchCount}, images ${batchSum}`);
      assert.match(text, /^inference_batch_duration_seconds_count \d+$/m);
      assert.match(text, /^inference_queue_depth 0$/m);
      assert.match(text, /^inference_rejected_total\{reason="overloaded"\} 0$/m);
      const scored = [...text.matchAll(/^images_scored_total\{label="([^"]+)"\} (\d+)$/gm)];
      assert.equal(scored.reduce((sum, m) => sum + Number(m[2]), 0), samples.length);
      for (const m of scored) assert.ok(observed.card.labels.includes(m[1]!));
      assert.match(text, /^model_ready 1$/m);
      assert.match(text, /^auth_requests_total\{result="primary"\} 2$/m);
      assert.match(text, /^process_cpu_seconds_total /m);
      assert.match(text, /^nodejs_eventloop_lag_seconds /m);
    } finally {
      await observed.close();
    }
  });

  it('serves OpenAPI 3 generated from the route schemas at /docs/json and a UI at /docs', async () => {
    const a = await app();
    const spec = (await a.inject({ method: 'GET', url: '/docs/json' })).json() as {
      openapi: string;
      paths: Record<string, Record<string, { security?: unknown[] }>>;
      components: { securitySchemes: Record<string, unknown> };
    };
    assert.match(spec.openapi, /^3\./);
    for (const path of ['/score', '/', '/v2', '/v2/health/live', '/v2/health/ready', '/v2/models/{name}', '/v2/models/{name}/ready', '/v2/models/{name}/infer', '/metrics']) {
      assert.ok(spec.paths[path], `${path} documented`);
    }
    assert.deepEqual(spec.paths['/score']!.post!.security, [{ bearerAuth: [] }]);
    assert.deepEqual(spec.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer' });
    const ui = await a.inject({ method: 'GET', url: '/docs' });
    assert.ok([200, 302].includes(ui.statusCode));
  });

  it('mounts only the requested route groups (the edge module: seed + health)', async () => {
    const a = await app({ routes: { seed: true, health: true, v2: false, docs: false, metrics: false } });
    assert.equal((await a.inject({ method: 'POST', url: '/score', headers: json, payload: { a: samples[0]!.base64 } })).statusCode, 200);
    assert.equal((await a.inject({ method: 'GET', url: '/v2/health/ready' })).statusCode, 200);
    for (const url of ['/v2', `/v2/models/${classifier.card.name}`, '/docs/json', '/metrics']) {
      assert.equal((await a.inject({ method: 'GET', url, headers: auth })).statusCode, 404, url);
    }
  });
});

/**
 * Bodies read into reused buffers (body-buffers.ts), over real sockets: many photo-sized bodies
 * arriving at once in small interleaved pieces must each be read whole and alone; what a request
 * parsed must not change when its buffer serves the next one; every way a body can end (too large,
 * wrong length, client gone, parser error) answers as Fastify's own reader does and gives the
 * buffer back.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import { BufferPool, MIN_POOLED_BYTES } from '@model-deploy/codecs';
import { readBody } from '../src/body-buffers.js';
import { parseJsonBody, predecodedScoreRequest } from '../src/json-body.js';

const LIMIT = 2 << 20;
const sha = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

/** What /echo (or an error) answers. */
interface Answer {
  valueSha?: string;
  imageSha?: string;
  seed?: boolean;
  code?: string;
  message?: string;
}

interface Kept {
  body: Record<string, string>;
  images: Buffer[];
  valueSha: string;
  imageSha: string;
}

describe('request bodies in reused buffers', () => {
  let app: FastifyInstance;
  let port: number;
  const buffers = new BufferPool({ largest: 1 << 20, keepBytes: 4 << 20 });
  const kept: Kept[] = [];

  before(async () => {
    app = Fastify();
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', (request, payload, done) =>
      readBody(request, payload, LIMIT, buffers, (bytes) => {
        if (bytes.includes('"explode"')) throw Object.assign(new Error('parser refused'), { statusCode: 422 });
        return parseJsonBody(bytes);
      }, done),
    );
    app.post('/echo', async (request) => {
      const body = request.body as Record<string, string>;
      const seed = predecodedScoreRequest(body);
      const images = seed ? (seed.images as Buffer[]) : [];
      const entry = { body, images, valueSha: sha(Object.values(body).join('|')), imageSha: sha(Buffer.concat(images)) };
      kept.push(entry);
      return { valueSha: entry.valueSha, imageSha: entry.imageSha, seed: seed !== undefined };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
  });
  after(() => app.close());

  /** Sends `body` in pieces of `piece` bytes with a pause between them; answers status and JSON. */
  function send(body: Buffer, options: { piece?: number; pauseMs?: number; headers?: Record<string, string | number>; abortAfter?: number; stopAfter?: number } = {}): Promise<{ status: number; json: Answer }> {
    const { piece = 16 << 10, pauseMs = 1, headers = { 'content-length': body.length }, abortAfter, stopAfter } = options;
    return new Promise((resolve, reject) => {
      const req = http.request({ port, method: 'POST', path: '/echo', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(parts).toString()) });
          if (stopAfter !== undefined) req.destroy();
        });
      });
      req.on('error', (error) => (abortAfter !== undefined ? resolve({ status: 0, json: {} }) : reject(error)));
      void (async () => {
        for (let at = 0; at < body.length; at += piece) {
          if (abortAfter !== undefined && at >= abortAfter) {
            req.destroy();
            return;
          }
          if (stopAfter !== undefined && at >= stopAfter) return;
          if (!req.write(body.subarray(at, at + piece))) await new Promise((r) => req.once('drain', r));
          await sleep(pauseMs);
        }
        req.end();
      })();
    });
  }

  const seedBody = (name: string, image: Buffer): Buffer => Buffer.from(JSON.stringify({ [name]: image.toString('base64') }));

  it('lends each body the smallest power-of-two buffer that holds it, and keeps idle ones up to its byte budget', () => {
    const pool = new BufferPool({ largest: 1 << 20, keepBytes: 1 << 20 });
    assert.equal(pool.take(1000), undefined);
    assert.equal(pool.take(MIN_POOLED_BYTES - 1), undefined);
    assert.equal(pool.take((1 << 20) + 1), undefined);
    assert.equal(pool.take(Number.NaN), undefined);
    const sizes = [MIN_POOLED_BYTES, MIN_POOLED_BYTES + 1, 300_000, 1 << 20].map((n) => pool.take(n)!);
    assert.deepEqual(sizes.map((b) => b.length), [64 << 10, 128 << 10, 512 << 10, 1 << 20]);
    assert.equal(pool.lent, 4);
    for (const b of sizes) pool.give(b);
    assert.equal(pool.lent, 0);
    // 64 K + 128 K + 512 K fit the 1 MiB budget; the 1 MiB buffer given last does not.
    assert.equal(pool.idle, (64 + 128 + 512) << 10);
    assert.equal(pool.take(400_000), sizes[2], 'the idle buffer of that size is lent again');
    assert.equal(pool.idle, (64 + 128) << 10);
  });

  it('reads 16 photo-sized bodies arriving at once in interleaved pieces, each whole and alone', async () => {
    const images = Array.from({ length: 16 }, (_, i) => randomBytes(150_000 + i * 20_000));
    const answers = await Promise.all(images.map((image, i) => send(seedBody(`photo-${i}.jpg`, image), { piece: 7_000 + i * 997 })));
    answers.forEach((answer, i) => {
      assert.equal(answer.status, 200);
      assert.equal(answer.json.seed, true);
      assert.equal(answer.json.imageSha, sha(images[i]!), `photo ${i}`);
      assert.equal(answer.json.valueSha, sha(images[i]!.toString('base64')), `photo ${i}`);
    });
    assert.equal(buffers.lent, 0);
    assert.ok(buffers.idle <= 4 << 20, `${buffers.idle} idle bytes kept, at most 4 MiB`);
  });

  it('keeps what earlier requests parsed intact while their buffers serve later ones', async () => {
    const first = kept.length;
    for (let i = 0; i < 6; i++) await send(seedBody(`a-${i}.jpg`, randomBytes(200_000)));
    await Promise.all(Array.from({ length: 8 }, (_, i) => send(seedBody(`b-${i}.jpg`, randomBytes(220_000)))));
    const entries = kept.slice(first);
    assert.equal(entries.length, 14);
    for (const entry of entries) {
      assert.equal(sha(Object.values(entry.body).join('|')), entry.valueSha);
      assert.equal(sha(Buffer.concat(entry.images)), entry.imageSha);
    }
  });

  it('reads small, chunked and larger-than-a-buffer bodies the usual way, with the same answers', async () => {
    const small = seedBody('small.png', randomBytes(1000));
    assert.ok(small.length < MIN_POOLED_BYTES);
    const large = seedBody('large.jpg', randomBytes(1_200_000));
    assert.ok(large.length > buffers.largest && large.length < LIMIT);
    const chunked = seedBody('chunked.jpg', randomBytes(300_000));
    for (const [body, headers] of [[small, undefined], [large, undefined], [chunked, { 'transfer-encoding': 'chunked' }]] as const) {
      const answer = await send(body, headers ? { headers } : {});
      assert.equal(answer.status, 200);
      assert.equal(answer.json.valueSha, sha(Object.values(JSON.parse(body.toString()) as Record<string, string>).join('|')));
    }
    assert.equal(buffers.lent, 0);
  });

  it('answers 413 past the limit, from the header before reading and while reading a chunked body', async () => {
    const tooLarge = seedBody('huge.jpg', randomBytes(1_700_000));
    assert.ok(tooLarge.length > LIMIT);
    // The answer comes before the body is read: send a first piece only, and never end.
    const byHeader = await send(tooLarge, { piece: 64 << 10, pauseMs: 0, stopAfter: 64 << 10 });
    assert.equal(byHeader.status, 413);
    assert.equal(byHeader.json.code, 'FST_ERR_CTP_BODY_TOO_LARGE');
    // No Content-Length (a stream): the limit is found while reading.
    const whileReading = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: Readable.from([tooLarge.subarray(0, 1 << 20), tooLarge.subarray(1 << 20)]) });
    assert.equal(whileReading.statusCode, 413);
    assert.equal(whileReading.json().code, 'FST_ERR_CTP_BODY_TOO_LARGE');
    assert.equal(buffers.lent, 0);
  });

  it('gives the buffer back when the client goes away mid-body, and the next body is read whole', async () => {
    const image = randomBytes(300_000);
    const gone = await send(seedBody('gone.jpg', image), { abortAfter: 100_000 });
    assert.equal(gone.status, 0);
    for (let i = 0; i < 50 && buffers.lent > 0; i++) await sleep(10);
    assert.equal(buffers.lent, 0);
    const next = await send(seedBody('next.jpg', image));
    assert.equal(next.status, 200);
    assert.equal(next.json.imageSha, sha(image));
  });

  it("answers the parser's error and gives the buffer back", async () => {
    const body = Buffer.from(JSON.stringify({ explode: 'x'.repeat(100_000) }));
    const answer = await send(body);
    assert.equal(answer.status, 422);
    assert.equal(answer.json.message, 'parser refused');
    assert.equal(buffers.lent, 0);
  });

  it('answers 400 invalid content length when fewer bytes come than the header said (inject, as no socket can)', async () => {
    const body = seedBody('short.jpg', randomBytes(100_000));
    const answer = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json', 'content-length': String(body.length + 10) }, payload: body });
    assert.equal(answer.statusCode, 400);
    assert.equal(answer.json().code, 'FST_ERR_CTP_INVALID_CONTENT_LENGTH');
    assert.equal(buffers.lent, 0);
  });
});

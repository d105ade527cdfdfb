import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { Message } from 'azure-iot-common';
import { Mqtt } from 'azure-iot-device-mqtt';
import { isInputTopic, recordFromDelivery, recordFromMessage, type InputRecord } from '../src/input-record.js';
import { inferenceErrorFrom, OverloadedError } from '@model-deploy/inference';
import { decodeImagesInput, errorBody, isTransient, predictionBody, problemOf } from '../src/messages.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';

const PNG = readFileSync(new URL('../../model/samples/bag.png', import.meta.url));

/** What the SDK's own MQTT transport makes of a delivery (its private parser, called on a bare instance). */
function sdkParse(topic: string, payload: Buffer): { inputName: string; message: Message } {
  const transport = Object.create(Mqtt.prototype) as EventEmitter & { _onInputMessage(t: string, p: Buffer): void };
  EventEmitter.call(transport);
  let result: { inputName: string; message: Message } | undefined;
  transport.on('inputMessage', (inputName: string, message: Message) => (result = { inputName, message }));
  transport._onInputMessage(topic, payload);
  return result!;
}

describe('input records: the journal reads deliveries exactly as the SDK does', () => {
  const topics = [
    'devices/dev/modules/classifier/inputs/images/%24.mid=m-1&%24.cid=c%2F2&%24.ct=application%2Fjson&%24.ce=utf-8&fileName=a%20b%2Bc.png&%24.cdid=dev',
    'devices/dev/modules/classifier/inputs/images/fileName=x.png&fileName=y.png',
    'devices/dev/modules/classifier/inputs/other/%24.mid=only',
    'devices/dev/modules/classifier/inputs/images/k=a+b&empty=&novalue',
  ];
  for (const topic of topics) {
    it(topic.slice(0, 90), () => {
      const payload = Buffer.from('body');
      const record = recordFromDelivery(topic, payload, 42)!;
      const sdk = sdkParse(topic, payload);
      assert.deepEqual(record, recordFromMessage(sdk.inputName, sdk.message, 42));
      assert.equal(record.body, payload, 'the payload is kept, not copied');
    });
  }

  it('ignores topics that are not module inputs, like the SDK', () => {
    assert.equal(isInputTopic('devices/dev/modules/classifier/inputs/images'), false);
    assert.equal(recordFromDelivery('$iothub/methods/POST/score/?$rid=1', Buffer.alloc(0)), undefined);
    assert.equal(isInputTopic('devices/dev/modules/classifier/inputs/images/x=1'), true);
  });
});

function rec(body: Buffer | string, extra: Partial<InputRecord> = {}): InputRecord {
  return { inputName: 'images', properties: [], body: Buffer.from(body), receivedAt: 0, ...extra };
}

describe('images input: bad input becomes a named problem', () => {
  it('an empty body', () => {
    const result = decodeImagesInput(rec(''), 1, DEFAULT_SETTINGS);
    assert.deepEqual(result, { ok: false, problem: { code: 'empty_message', message: result.ok ? '' : result.problem.message } });
    assert.ok(!result.ok && /empty/.test(result.problem.message));
  });

  it('JSON that does not parse', () => {
    const result = decodeImagesInput(rec('{"a.png": '), 1, DEFAULT_SETTINGS);
    assert.ok(!result.ok);
    assert.equal(result.problem.code, 'invalid_json');
  });

  it('JSON that is not an object of images', () => {
    for (const body of ['[1,2]', '"x"', 'null']) {
      const result = decodeImagesInput(rec(body, { contentType: 'application/json' }), 1, DEFAULT_SETTINGS);
      assert.ok(!result.ok, body);
      assert.equal(result.problem.code, 'invalid_request');
    }
  });

  it('an object without images', () => {
    const result = decodeImagesInput(rec('{}'), 1, DEFAULT_SETTINGS);
    assert.ok(!result.ok);
    assert.equal(result.problem.code, 'no_image');
  });

  it('more images than maxImagesPerMessage', () => {
    const body = JSON.stringify({ a: 'AA==', b: 'AA==', c: 'AA==' });
    const result = decodeImagesInput(rec(body), 1, { ...DEFAULT_SETTINGS, maxImagesPerMessage: 2 });
    assert.ok(!result.ok);
    assert.equal(result.problem.code, 'too_many_images');
    assert.match(result.problem.message, /3, at most 2 \(twin property maxImagesPerMessage\)/);
  });

  it('one bad image among good ones is a problem of that image only', () => {
    const body = JSON.stringify({ 'good.png': PNG.toString('base64'), 'bad.png': '%%%', 'num.png': 5 });
    const result = decodeImagesInput(rec(body), 1, DEFAULT_SETTINGS);
    assert.ok(result.ok);
    assert.equal(result.images.length, 3);
    assert.ok('bytes' in result.images[0]! && result.images[0].bytes.equals(PNG));
    assert.deepEqual(result.images[1], { name: 'bad.png', problem: { code: 'invalid_base64', message: '"bad.png": not valid base64 (expected a base64-encoded image file)' } });
    assert.equal((result.images[2] as { problem: { code: string } }).problem.code, 'invalid_request');
  });
});

describe('images input: good input', () => {
  it('a JSON message of photos is read from its bytes: the same images, in the same order, as the text path, the body untouched', () => {
    // 200 KB of image: its base64 spans several of readSeedBody's 64 K-character pieces.
    const photo = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7 + (i >> 9)) & 255));
    const text = JSON.stringify({ 'photo.jpg': photo.toString('base64'), '2': PNG.toString('base64'), 'url-safe.png': PNG.toString('base64url') });
    const body = Buffer.from(text);
    const fast = decodeImagesInput(rec(body), 1, DEFAULT_SETTINGS);
    // A byte-order mark is valid for the text path only: the same message, read the other way.
    const slow = decodeImagesInput(rec(Buffer.concat([Buffer.from('\ufeff'), body])), 1, DEFAULT_SETTINGS);
    assert.ok(fast.ok && slow.ok);
    assert.deepEqual(fast.images, slow.images);
    assert.deepEqual(fast.images.map((i) => i.name), ['2', 'photo.jpg', 'url-safe.png']);
    assert.ok('bytes' in fast.images[1]! && fast.images[1].bytes.equals(photo));
    assert.equal(body.toString(), text, 'the journal keeps the body as received');
  });

  it('a binary image is named by fileName, else by message id, else by sequence', () => {
    const named = decodeImagesInput(rec(PNG, { properties: [['fileName', 'shoe.png']], messageId: 'm1' }), 9, DEFAULT_SETTINGS);
    const byId = decodeImagesInput(rec(PNG, { messageId: 'm1' }), 9, DEFAULT_SETTINGS);
    const bySeq = decodeImagesInput(rec(PNG), 9, DEFAULT_SETTINGS);
    assert.deepEqual([named, byId, bySeq].map((r) => (r.ok ? r.images[0]!.name : '')), ['shoe.png', 'm1', 'message-9']);
  });

  it('the seed JSON format with a data URL and a UTF-8 BOM', () => {
    const body = `\ufeff  ${JSON.stringify({ 'a.png': `data:image/png;base64,${PNG.toString('base64')}` })}`;
    const result = decodeImagesInput(rec(body), 1, DEFAULT_SETTINGS);
    assert.ok(result.ok);
    assert.ok('bytes' in result.images[0]! && result.images[0].bytes.equals(PNG));
  });
});

describe('output bodies', () => {
  const ctx = { model: { name: 'm', version: '1' }, record: rec(PNG, { messageId: 'in-1', receivedAt: 0 }), index: 0, count: 1, replayed: false };
  const prediction = {
    label: 'Bag', index: 8, confidence: 0.4,
    top: [{ label: 'Bag', probability: 0.4 }, { label: 'Coat', probability: 0.3 }],
    probabilities: new Float32Array([0, 0, 0, 0, 0.3, 0, 0, 0, 0.4, 0.3]),
  };
  const labels = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

  it('below the threshold the label is "uncertain" and the best guess stays', () => {
    const body = predictionBody('a.png', prediction, { ...DEFAULT_SETTINGS, confidenceThreshold: 0.5 }, labels, ctx);
    assert.equal(body.label, 'uncertain');
    assert.equal(body.bestGuess, 'Bag');
    assert.equal(body.uncertain, true);
    assert.equal(body.top, undefined);
  });

  it('topK and includeProbabilities add the lists', () => {
    const body = predictionBody('a.png', prediction, { ...DEFAULT_SETTINGS, topK: 2, includeProbabilities: true }, labels, ctx);
    assert.equal(body.label, 'Bag');
    assert.deepEqual(body.top, prediction.top);
    assert.equal((body.probabilities as Record<string, number>).Coat, prediction.probabilities[4]);
    assert.equal(body.inputMessageId, 'in-1');
    assert.equal(body.modelVersion, '1');
  });

  it('a multi-label prediction carries every label at or above the threshold', () => {
    const multi = { ...prediction, labels: ['Bag', 'Coat'] };
    const body = predictionBody('a.png', multi, DEFAULT_SETTINGS, labels, ctx);
    assert.deepEqual(body.labels, ['Bag', 'Coat']);
    assert.equal(body.label, 'Bag');
    assert.equal(predictionBody('a.png', prediction, DEFAULT_SETTINGS, labels, ctx).labels, undefined, 'single-label answers keep their shape');
  });

  it('an error names the code, the message and the image', () => {
    assert.deepEqual(
      { ...errorBody({ code: 'invalid_image', message: 'unsupported' }, 'x.png', ctx), receivedAt: undefined },
      { error: 'invalid_image', message: 'unsupported', fileName: 'x.png', modelName: 'm', modelVersion: '1', inputMessageId: 'in-1', imageIndex: 0, imageCount: 1, receivedAt: undefined, replayed: false },
    );
  });
});

describe('errors output: which problems are named', () => {
  it("reports the core's and the codecs' errors by their code; anything else is an internal error, whatever code it carries", () => {
    assert.deepEqual(problemOf(inferenceErrorFrom('inference_failed', 'inference failed')), { code: 'inference_failed', message: 'inference failed' });
    assert.equal(problemOf(inferenceErrorFrom('image_too_large', 'over 8 MiB')).code, 'image_too_large');
    for (const stranger of [Object.assign(new Error('ENOENT: /x'), { code: 'ENOENT' }), Object.assign(new Error('bad'), { code: 'ERR_INVALID_ARG_TYPE' }), 'a string']) {
      assert.equal(problemOf(stranger).code, 'internal_error');
      assert.doesNotMatch(problemOf(stranger).message, /ENOENT|bad|string/);
    }
    assert.equal(isTransient(new OverloadedError('busy')), true);
    assert.equal(isTransient(inferenceErrorFrom('invalid_image', 'x')), false);
    assert.equal(isTransient(Object.assign(new Error('busy'), { code: 'overloaded' })), false, 'a code alone is not the core error');
  });
});

/**
 * The JSON body parser (json-body.ts, with codecs' readSeedBody): a seed body taken apart from its bytes must read exactly as
 * the text path (JSON.parse, secure-json-parse where a key could poison a prototype) reads it, with
 * the same images as decodeScoreRequest decodes; every other body must take the text path and fail
 * with its words. Checked on chosen bodies and on a few thousand mutated ones.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import secureJson from 'secure-json-parse';
import { decodeScoreRequest } from '@model-deploy/codecs';
import { HttpError } from '../src/errors.js';
import { parseJsonBody, predecodedScoreRequest } from '../src/json-body.js';

/** What the parser answered before it read bytes: the value, or the 400's message. */
function textPath(text: string): { value: unknown } | { error: string } {
  if (text === '') return { error: 'request body is empty; send a JSON object' };
  try {
    const suspect = text.includes('"__proto__"') || text.includes('"constructor"') || text.includes('\\u');
    return { value: suspect ? secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }) : JSON.parse(text) };
  } catch (err) {
    const reason = (err as Error).message;
    return {
      error: /forbidden (prototype|constructor)/.test(reason)
        ? 'request body has a "__proto__" or "constructor.prototype" key, which is not allowed'
        : `request body is not valid JSON: ${reason}`,
    };
  }
}

function parse(bytes: Buffer): { value: unknown } | { error: string } {
  try {
    return { value: parseJsonBody(bytes) };
  } catch (err) {
    assert.ok(err instanceof HttpError, String(err));
    assert.equal(err.statusCode, 400);
    assert.equal(err.code, 'invalid_json');
    return { error: err.message };
  }
}

/** Same answer as the text path; when the fast path took it, the same images as decodeScoreRequest. */
function assertSameAsText(bytes: Buffer, context: string): 'fast' | 'text' | 'error' {
  const expected = textPath(bytes.toString('utf8'));
  const got = parse(bytes);
  assert.deepEqual(got, expected, context);
  if (!('value' in got)) return 'error';
  const pre = predecodedScoreRequest(got.value);
  if (!pre) return 'text';
  assert.deepEqual(pre, decodeScoreRequest((expected as { value: unknown }).value, 1000), context);
  return 'fast';
}

const image = Buffer.from(Array.from({ length: 301 }, (_, i) => (i * 37 + 11) & 255));
const b64 = image.toString('base64');
const b64x3 = image.subarray(0, 300).toString('base64');

describe('parseJsonBody: a seed body read from its bytes', () => {
  it('takes the seed shape on the fast path, exactly as JSON.parse reads it, images decoded once', () => {
    const bodies = [
      JSON.stringify({ 'a.jpg': b64 }),
      JSON.stringify({ 'b.png': b64, 'dir/c d.png': image.subarray(0, 100).toString('base64'), e: image.subarray(0, 2).toString('base64') }),
      ` \r\n\t{ "a.jpg" :\n"${b64}" ,\t"b" : "${b64}"\n}\n `,
      // Integer-like names come first in Object.keys, whatever the text's order.
      JSON.stringify({ z: b64, '2': 'AAAA', '1': 'AQID' }),
      JSON.stringify({ 'url-safe.jpg': image.toString('base64url') }),
      JSON.stringify({ 'unpadded.jpg': b64.replace(/=+$/, '') }),
      JSON.stringify({ toString: b64, hasOwnProperty: b64 }),
      JSON.stringify({ '': b64 }),
    ];
    for (const text of bodies) assert.equal(assertSameAsText(Buffer.from(text), text.slice(0, 60)), 'fast', text.slice(0, 60));
  });

  it('sends every other body to the text path, which answers and words its errors as before', () => {
    const cases: Array<[string, 'text' | 'error']> = [
      // Valid JSON a seed client may send that the fast path does not prove.
      [`{"a.jpg": "${b64.replace(/\//g, '\\/')}"}`, 'text'],
      [`{"\\u0061.jpg": "${b64}"}`, 'text'],
      [`{"é.jpg": "${b64}"}`, 'text'],
      [`{"a": "${b64}", "a": "AAAA"}`, 'text'],
      [`{"constructor": "${b64}"}`, 'text'],
      [`{"a": "data:image/jpeg;base64,${b64}"}`, 'text'],
      [`{"a": "${b64.slice(0, 76)}\\n${b64.slice(76)}"}`, 'text'],
      [`{"a": "not base64!"}`, 'text'],
      [`{"a": ""}`, 'text'],
      [`{"a": 12345678}`, 'text'],
      [`{"a": "${b64}", "b": null}`, 'text'],
      [`{"a": ["${b64}"]}`, 'text'],
      [`{"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["${b64}"]}]}`, 'text'],
      ['{}', 'text'],
      ['[]', 'text'],
      ['"AAAA"', 'text'],
      // Malformed, or refused: the text path's own words.
      ['', 'error'],
      [`{"a": "${b64}"`, 'error'],
      [`{"a": "${b64}",}`, 'error'],
      [`{"a": "${b64}"} x`, 'error'],
      [`{"a": "${b64}"}{}`, 'error'],
      [`\ufeff{"a": "${b64}"}`, 'error'],
      [`{"a": "${b64.slice(0, 76)}\n${b64.slice(76)}"}`, 'error'],
      [`{"a": "${b64.slice(0, 76)}\t${b64.slice(77)}"}`, 'error'],
      // One character too many in an unpadded value (Buffer.from skips it and still decodes 300 bytes).
      [`{"a": "${b64x3.slice(0, 200)}\t${b64x3.slice(200)}"}`, 'error'],
      [`{"a": "${b64x3.slice(0, 200)} ${b64x3.slice(200)}"}`, 'text'],
      [`{"a": "${b64x3.slice(0, 200)}\\${b64x3.slice(200)}"}`, 'error'],
      [`{"a": "${b64x3.slice(0, 200)}\\/${b64x3.slice(200)}"}`, 'text'],
      [`{"a\tb": "${b64}"}`, 'error'],
      [`{a: "${b64}"}`, 'error'],
      [`{"a" "${b64}"}`, 'error'],
      [`{"__proto__": "${b64}"}`, 'error'],
      ['{"a": "AAAA", "constructor": {"prototype": {"x": 1}}}', 'error'],
    ];
    for (const [text, path] of cases) assert.equal(assertSameAsText(Buffer.from(text), text.slice(0, 60)), path, text.slice(0, 60));
  });

  it('reads values longer than one 64 K-character piece as the text path does, edits at any piece boundary included', () => {
    // A photo's base64 is read in 64 K-character pieces (json-body.ts PIECE); a value of 2 x 65,536
    // characters ends exactly on a boundary, the others end inside a piece, with and without padding.
    const large = Buffer.from(Array.from({ length: 200_001 }, (_, i) => (i * 131 + (i >> 8)) & 255));
    const exact = large.subarray(0, 98_304).toString('base64');
    assert.equal(exact.length, 2 * 65_536);
    const values = [large.toString('base64'), large.toString('base64url'), large.subarray(0, 200_000).toString('base64'), exact, large.subarray(0, 49_153).toString('base64')];
    for (const v of values) assert.equal(assertSameAsText(Buffer.from(JSON.stringify({ 'photo.jpg': v, 'b.png': b64 })), `${v.length}`), 'fast', `${v.length}`);
    const v = values[0]!;
    const at = (k: number, insert: string, remove = 0): string => JSON.stringify({ 'photo.jpg': v.slice(0, k) + insert + v.slice(k + remove) });
    // A raw line feed inside the string: not JSON.
    const raw = (k: number): string => `{"photo.jpg":"${v.slice(0, k)}\n${v.slice(k)}"}`;
    for (const k of [1, 65_535, 65_536, 65_537, 131_071, 131_072, v.length - 3]) {
      // A character out of the alphabet, padding in the middle, a character too many, one too few.
      for (const [text, path] of [[at(k, '!', 1), 'text'], [at(k, '=', 1), 'text'], [at(k, 'A'), 'text'], [at(k, '', 1), 'text'], [at(k, ' '), 'text'], [at(k, '\\n'), 'text'], [raw(k), 'error']] as const) {
        const context = `${k} ${JSON.stringify(text.slice(k, k + 16))}`;
        const got = assertSameAsText(Buffer.from(text), context);
        // A removed or added character can leave valid base64 of other bytes: the fast path may take it, as the text path would.
        if (path === 'error' || got !== 'fast') assert.equal(got, path, context);
        else assert.ok(text.length % 4 !== v.length % 4 || text === at(k, '', 1) || text === at(k, 'A'), context);
      }
    }
  });

  it('agrees with the text path on thousands of mutated seed bodies', () => {
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
    const alphabet = Buffer.from(' \t\r\n"\\:,{}[]=-_+/AZaz09.\u00e9\x00\x7f', 'latin1');
    const paths = { fast: 0, text: 0, error: 0 };

    for (let i = 0; i < 3000; i++) {
      const entries = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, k) => [`f${k}.png`, image.subarray(0, Math.floor(random() * 40)).toString(random() < 0.2 ? 'base64url' : 'base64')]);
      const bytes = Buffer.from(JSON.stringify(Object.fromEntries(entries)));
      const edits = Math.floor(random() * 3);
      for (let k = 0; k < edits; k++) bytes[Math.floor(random() * bytes.length)] = alphabet[Math.floor(random() * alphabet.length)]!;
      // Half the bodies also get a character inserted, which keeps a base64 value's other characters.
      const at = Math.floor(random() * bytes.length);
      const c = Math.floor(random() * alphabet.length);
      const body = random() < 0.5 ? bytes : Buffer.concat([bytes.subarray(0, at), alphabet.subarray(c, c + 1), bytes.subarray(at)]);
      paths[assertSameAsText(body, `#${i} ${body.toString('latin1')}`)]++;
    }
    // Each path was exercised, so the agreement above means something for all three.
    assert.ok(paths.fast > 500 && paths.text > 100 && paths.error > 300, JSON.stringify(paths));
  });
});

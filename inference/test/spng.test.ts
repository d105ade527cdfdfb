/**
 * Small PNGs decoded by libspng (spng.ts): loaded here (scripts/debian-lib.sh installs Debian's
 * libspng0 for the tests), Pillow's samples for every colour type and bit depth up to 8, every filter,
 * Adam7 interlacing and tRNS (from PNGs written here, whose samples are known), the same tensors as
 * pngjs on the fixtures, and everything libspng reports left to pngjs, which refuses it in its own words.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crc32, deflateSync } from 'node:zlib';
import pngjs from 'pngjs';
import { ImagePreprocessor, InvalidImageError, readModelCard } from '../src/index.js';
import { decodeWithPngjs } from '../src/image.js';
import { pngDecoder, spng } from '../src/spng.js';
import { fixturesDir, modelDir } from './helpers.js';

const limits = { maxImageBytes: 32 << 20, maxImagePixels: 40e6 };

interface PngSpec {
  width: number;
  height: number;
  colorType: 0 | 2 | 3 | 4 | 6;
  bitDepth: 1 | 2 | 4 | 8;
  interlace?: boolean;
  /** tRNS chunk body (grey: 2 bytes, RGB: 6 bytes, palette: one alpha per entry). */
  trns?: Uint8Array;
  seed?: number;
}

const CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as const;

function chunk(type: string, body: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body, crc32(head.subarray(4))), 0);
  return Buffer.concat([head, body, crc]);
}

/** Filters one scanline with `type` (PNG filter 0-4), `bpp` bytes per complete pixel (at least 1). */
function filterLine(type: number, line: Uint8Array, prev: Uint8Array, bpp: number): Uint8Array {
  const out = new Uint8Array(line.length + 1);
  out[0] = type;
  for (let i = 0; i < line.length; i++) {
    const a = i >= bpp ? line[i - bpp]! : 0;
    const b = prev[i] ?? 0;
    const c = i >= bpp ? (prev[i - bpp] ?? 0) : 0;
    let predictor = 0;
    if (type === 1) predictor = a;
    else if (type === 2) predictor = b;
    else if (type === 3) predictor = (a + b) >> 1;
    else if (type === 4) {
      const p = a + b - c;
      const pa = Math.abs(p - a);
      const pb = Math.abs(p - b);
      const pc = Math.abs(p - c);
      predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
    out[i + 1] = (line[i]! - predictor) & 255;
  }
  return out;
}

/** Packs samples (one per channel per pixel, each < 2^bitDepth) of one row into PNG's bit layout. */
function packRow(samples: number[], bitDepth: number): Uint8Array {
  const out = new Uint8Array(Math.ceil((samples.length * bitDepth) / 8));
  samples.forEach((s, i) => {
    const bit = i * bitDepth;
    out[bit >> 3]! |= s << (8 - bitDepth - (bit & 7));
  });
  return out;
}

const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;

/**
 * A PNG written from scratch (pseudo-random samples, every filter type in turn, optional Adam7 and
 * tRNS) and the 8-bit RGBA Pillow reads from it: samples scaled to 8 bits (1-bit 1 -> 255, 2-bit
 * 1 -> 85), palette indices looked up, tRNS only ever an alpha (convert('L') and convert('RGB') keep
 * the colour of a pixel tRNS marks transparent).
 */
function makePng(spec: PngSpec): { bytes: Buffer; rgba: Uint8Array } {
  const { width, height, colorType, bitDepth } = spec;
  const channels = CHANNELS[colorType];
  const max = (1 << bitDepth) - 1;
  const paletteSize = colorType === 3 ? Math.min(256, max + 1) : 0;
  let state = spec.seed ?? 7;
  const random = (): number => ((state = (state * 1103515245 + 12345) & 0x7fffffff) >> 8);
  const samples = Array.from({ length: height }, () => Array.from({ length: width * channels }, () => random() % (colorType === 3 ? paletteSize : max + 1)));
  const palette = Uint8Array.from({ length: paletteSize * 3 }, () => random() & 255);
  const bpp = Math.max(1, (channels * bitDepth) >> 3);
  const passes = spec.interlace ? ADAM7 : ([[0, 0, 1, 1]] as const);
  const lines: Uint8Array[] = [];
  let filter = 0;
  for (const [x0, y0, dx, dy] of passes) {
    let prev: Uint8Array = new Uint8Array(0);
    for (let y = y0; y < height; y += dy) {
      const row: number[] = [];
      for (let x = x0; x < width; x += dx) row.push(...samples[y]!.slice(x * channels, (x + 1) * channels));
      if (row.length === 0) continue;
      const packed = packRow(row, bitDepth);
      lines.push(filterLine(filter++ % 5, packed, prev, bpp));
      prev = packed;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([bitDepth, colorType, 0, 0, spec.interlace ? 1 : 0], 8);
  const parts = [Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr)];
  if (colorType === 3) parts.push(chunk('PLTE', palette));
  if (spec.trns) parts.push(chunk('tRNS', spec.trns));
  parts.push(chunk('IDAT', deflateSync(Buffer.concat(lines))), chunk('IEND', new Uint8Array(0)));

  const rgba = new Uint8Array(width * height * 4);
  const scale = 255 / max;
  const trns = spec.trns;
  const key = trns && colorType !== 3 ? Array.from({ length: trns.length / 2 }, (_, i) => (trns[2 * i]! << 8) | trns[2 * i + 1]!) : undefined;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = samples[y]!.slice(x * channels, (x + 1) * channels);
      let px: number[];
      if (colorType === 0) px = [s[0]! * scale, s[0]! * scale, s[0]! * scale, 255];
      else if (colorType === 2) px = [...s, 255];
      else if (colorType === 3) px = [palette[3 * s[0]!]!, palette[3 * s[0]! + 1]!, palette[3 * s[0]! + 2]!, trns?.[s[0]!] ?? 255];
      else if (colorType === 4) px = [s[0]!, s[0]!, s[0]!, s[1]!];
      else px = s;
      if (key && key.every((k, i) => k === s[i])) px[3] = 0;
      rgba.set(px, (y * width + x) * 4);
    }
  }
  return { bytes: Buffer.concat(parts), rgba };
}

/** pngjs's RGBA (the reference the core used before libspng). */
function viaPngjs(bytes: Buffer): { data: Uint8Array; width: number; height: number } {
  const png = pngjs.PNG.sync.read(bytes);
  return { data: new Uint8Array(png.data), width: png.width, height: png.height };
}

describe('small PNGs decoded by libspng', () => {
  it('is loaded in this environment (scripts/debian-lib.sh installs Debian\'s libspng0)', () => {
    const info = pngDecoder();
    assert.equal(info.decoder, 'libspng', `small PNGs fall back to pngjs: ${info.reason}`);
  });

  it('gives Pillow\'s samples for every colour type, bit depth <= 8, filter, Adam7 and tRNS', () => {
    const specs: PngSpec[] = [];
    for (const interlace of [false, true]) {
      for (const [width, height] of [[13, 7], [1, 1], [56, 56], [31, 9]] as const) {
        for (const bitDepth of [1, 2, 4, 8] as const) {
          specs.push({ width, height, colorType: 0, bitDepth, interlace });
          specs.push({ width, height, colorType: 3, bitDepth, interlace });
        }
        for (const colorType of [2, 4, 6] as const) specs.push({ width, height, colorType, bitDepth: 8, interlace });
        // tRNS keys that occur in the samples (grey 1 of 0-3; RGB (1, 2, 0) of 0-3 per channel).
        specs.push({ width, height, colorType: 0, bitDepth: 8, interlace, trns: Uint8Array.of(0, 9) });
        specs.push({ width, height, colorType: 0, bitDepth: 2, interlace, trns: Uint8Array.of(0, 1) });
        specs.push({ width, height, colorType: 2, bitDepth: 8, interlace, trns: Uint8Array.of(0, 5, 0, 6, 0, 7) });
        specs.push({ width, height, colorType: 3, bitDepth: 4, interlace, trns: Uint8Array.of(0, 128, 255, 3) });
      }
    }
    const s = spng()!;
    let keyed = 0;
    for (const [k, spec] of specs.entries()) {
      const { bytes, rgba } = makePng({ ...spec, seed: k + 1 });
      const label = `case ${k}: ${JSON.stringify({ ...spec, trns: spec.trns && [...spec.trns] })}`;
      const got = s.decode(bytes);
      assert.ok(got, label);
      assert.deepEqual([got.width, got.height], [spec.width, spec.height], label);
      if (spec.colorType === 0) {
        // One grey plane (R = G = B in Pillow's RGB).
        assert.equal(got.stride, 1, label);
        assert.deepEqual(got.data, rgba.filter((_, i) => i % 4 === 0), label);
      } else {
        assert.equal(got.stride, 4, label);
        assert.deepEqual(got.data, rgba, label);
      }
      // The fallback (pngjs, with the colour of tRNS-keyed pixels mended) agrees everywhere.
      assert.deepEqual(new Uint8Array(decodeWithPngjs(bytes).data), rgba, `pngjs fallback, ${label}`);
      if (spec.trns && spec.colorType !== 3) keyed += rgba.filter((v, i) => i % 4 === 3 && v === 0).length;
    }
    assert.ok(keyed > 100, `tRNS-keyed pixels occur in the samples (${keyed})`);
  });

  it('keeps the grey level of a pixel a grey PNG\'s tRNS marks transparent, as Pillow\'s convert(\'L\') does, with libspng and in the pngjs fallback', async () => {
    // 2-bit grey with tRNS = 1: Pillow reads the samples 0, 1, 2, 3 as 0, 85, 170, 255, 85 included.
    const pre = new ImagePreprocessor(await readModelCard(modelDir), limits);
    const keyed = makePng({ width: 8, height: 8, colorType: 0, bitDepth: 2, trns: Uint8Array.of(0, 1), seed: 3 });
    const grey = (await pre.decode(keyed.bytes)).data;
    assert.deepEqual(grey, keyed.rgba.filter((_, i) => i % 4 === 0));
    assert.ok(grey.includes(85), 'the keyed level is present and kept');
    assert.ok(viaPngjs(keyed.bytes).data.filter((_, i) => i % 4 === 0).every((v) => v !== 85), 'pngjs alone blacks it out');
    // The fallback mends it: the same grey levels through pngjs, keyed pixels transparent as in Pillow's RGBA.
    const fallback = decodeWithPngjs(keyed.bytes);
    assert.deepEqual(new Uint8Array(fallback.data), keyed.rgba);
    assert.deepEqual(pre.toTensor(fallback), pre.toTensor(await pre.decode(keyed.bytes)));
  });

  it('decodes the preprocessing fixtures as pngjs does, and the tensor is unchanged', async () => {
    const description = await readModelCard(modelDir);
    const samples = (await import('node:fs')).readdirSync(join(modelDir, 'samples')).filter((f) => f.endsWith('.png')).map((f) => join(modelDir, 'samples', f));
    const files = [...samples, ...['gray-28.png', 'rgb-28.png', 'rgba-56.png', 'palette-64.png', 'rgb-20.png'].map((f) => join(fixturesDir, 'preprocess', f))];
    const pre = new ImagePreprocessor(description, limits);
    for (const file of files) {
      const bytes = await readFile(file);
      const fast = await pre.decode(bytes);
      const reference = viaPngjs(bytes);
      assert.deepEqual(fast.data, fast.stride === 1 ? reference.data.filter((_, i) => i % 4 === 0) : reference.data, file);
      assert.deepEqual(pre.toTensor(fast), pre.toTensor({ ...reference, stride: 4 }), file);
    }
  });

  it('leaves a damaged or truncated PNG to pngjs, which answers it as before', async () => {
    const good = makePng({ width: 20, height: 20, colorType: 2, bitDepth: 8 }).bytes;
    const badCrc = Buffer.from(good);
    badCrc[good.length - 13]! ^= 0xff; // the last byte of IDAT's CRC (IEND is the last 12 bytes)
    const truncated = good.subarray(0, good.length - 30);
    const noIend = good.subarray(0, good.length - 12);
    const s = spng()!;
    const pre = new ImagePreprocessor(await readModelCard(modelDir), limits);
    for (const [name, bytes] of [['IDAT CRC', badCrc], ['truncated', truncated], ['no IEND', noIend]] as const) {
      assert.equal(s.decode(bytes), undefined, name);
      await assert.rejects(pre.decode(bytes), (err: unknown) => err instanceof InvalidImageError && /invalid PNG/.test(err.message), name);
    }
    // A damaged ancillary chunk: libspng declines, and pngjs (which skips ancillary CRCs) decodes it, as before.
    const text = chunk('tEXt', Buffer.from('Comment\0hello'));
    text[text.length - 1]! ^= 1;
    const badAncillary = Buffer.concat([good.subarray(0, 33), text, good.subarray(33)]);
    assert.equal(s.decode(badAncillary), undefined);
    assert.deepEqual(new Uint8Array((await pre.decode(badAncillary)).data), viaPngjs(good).data);
  });

  it('can be turned off (SPNG_DISABLED=true): small PNGs go to pngjs and the start-up status says why', () => {
    const script = `const { pngDecoder } = await import(${JSON.stringify(new URL('../src/spng.ts', import.meta.url).href)}); console.log(JSON.stringify(pngDecoder()));`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, SPNG_DISABLED: 'true' } });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { decoder: 'pngjs', reason: 'SPNG_DISABLED=true' });
    const missing = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, SPNG_LIBRARY: '/nonexistent/libspng.so.0' } });
    const status = JSON.parse(missing.stdout) as { decoder: string; reason: string };
    assert.equal(status.decoder, 'pngjs');
    assert.match(status.reason, /libspng not found \(\/nonexistent\/libspng\.so\.0: .*\); install Debian's libspng0 or set SPNG_LIBRARY/);
  });
});

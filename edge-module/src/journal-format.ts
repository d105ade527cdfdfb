/**
 * The journal's on-disk frames (the format is described in journal.ts): building an accept or a retire
 * frame, and reading a segment back up to its first damaged frame. Pure functions over buffers, so the
 * recovery rules can be read (and tested) apart from the file handling.
 */
import zlib from 'node:zlib';
import type { InputRecord } from './input-record.js';

const TYPE_ACCEPT = 0x41;
const TYPE_RETIRE = 0x52;
const FRAME_HEADER = 8;
const MAX_FRAME = 256 * 1024 * 1024;

/** CRC-32 (IEEE), as zlib computes it (native since Node 20.15; the project runs on 24). */
export const crc32 = (data: Uint8Array): number => zlib.crc32(data);

/** Fills in the frame header (length + CRC of the body) of a buffer whose body starts at FRAME_HEADER. */
function sealFrame(out: Buffer): Buffer {
  const body = out.subarray(FRAME_HEADER);
  out.writeUInt32LE(body.length, 0);
  out.writeUInt32LE(crc32(body), 4);
  return out;
}

type Header = Omit<InputRecord, 'body'>;

/**
 * A frame as the buffers to write one after the other. An accept frame is its header and the payload it was
 * given, uncopied: a 250 KB photo is not copied into a frame (and again into a segment at each rotation),
 * allocations that set the pace of V8's mark-compacts when messages are large.
 */
export type Frame = Buffer[];

export const frameBytes = (frame: Frame): number => frame.reduce((n, b) => n + b.length, 0);

export function acceptFrame(seq: number, record: InputRecord): Frame {
  const { body, ...header } = record;
  const headerBytes = Buffer.from(JSON.stringify(header satisfies Header));
  // frame header | type | seq | header length | header, then the payload as its own buffer.
  const head = Buffer.allocUnsafe(FRAME_HEADER + 13 + headerBytes.length);
  head[FRAME_HEADER] = TYPE_ACCEPT;
  head.writeDoubleLE(seq, FRAME_HEADER + 1);
  head.writeUInt32LE(headerBytes.length, FRAME_HEADER + 9);
  headerBytes.copy(head, FRAME_HEADER + 13);
  const start = head.subarray(FRAME_HEADER);
  head.writeUInt32LE(start.length + body.length, 0);
  // The CRC of the whole body, continued from its first part into the payload (zlib.crc32's second argument).
  head.writeUInt32LE(zlib.crc32(body, zlib.crc32(start)), 4);
  return [head, body];
}

export function retireFrame(seqs: number[]): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER + 5 + 8 * seqs.length);
  out[FRAME_HEADER] = TYPE_RETIRE;
  out.writeUInt32LE(seqs.length, FRAME_HEADER + 1);
  seqs.forEach((seq, i) => out.writeDoubleLE(seq, FRAME_HEADER + 5 + 8 * i));
  return sealFrame(out);
}

type Parsed =
  | { type: 'accept'; seq: number; record: InputRecord; size: number }
  | { type: 'retire'; seqs: number[] };

function parseBody(body: Buffer, size: number): Parsed {
  if (body[0] === TYPE_ACCEPT) {
    const seq = body.readDoubleLE(1);
    const headerLength = body.readUInt32LE(9);
    const header = JSON.parse(body.subarray(13, 13 + headerLength).toString('utf8')) as Header;
    const payload = Buffer.from(body.subarray(13 + headerLength));
    return { type: 'accept', seq, record: { ...header, body: payload }, size };
  }
  if (body[0] === TYPE_RETIRE) {
    const count = body.readUInt32LE(1);
    const seqs: number[] = [];
    for (let i = 0; i < count; i++) seqs.push(body.readDoubleLE(5 + 8 * i));
    return { type: 'retire', seqs };
  }
  throw new Error(`unknown record type ${body[0]}`);
}

/** Reads frames until the first damaged one; returns what was read and where the good part ends. */
export function readSegment(data: Buffer): { records: Parsed[]; goodBytes: number; damage?: string } {
  const records: Parsed[] = [];
  let offset = 0;
  while (offset < data.length) {
    if (data.length - offset < FRAME_HEADER) return { records, goodBytes: offset, damage: 'truncated frame header' };
    const length = data.readUInt32LE(offset);
    if (length === 0 || length > MAX_FRAME) return { records, goodBytes: offset, damage: `impossible frame length ${length}` };
    if (data.length - offset - FRAME_HEADER < length) return { records, goodBytes: offset, damage: 'truncated frame' };
    const body = data.subarray(offset + FRAME_HEADER, offset + FRAME_HEADER + length);
    if (crc32(body) !== data.readUInt32LE(offset + 4)) return { records, goodBytes: offset, damage: 'checksum mismatch' };
    try {
      records.push(parseBody(body, FRAME_HEADER + length));
    } catch (error) {
      return { records, goodBytes: offset, damage: `unreadable record: ${(error as Error).message}` };
    }
    offset += FRAME_HEADER + length;
  }
  return { records, goodBytes: offset };
}

/**
 * Thread side of ModelThread (model-thread.ts): opens a session on the model file (after checking its
 * sha256 against the one the calling thread verified) and runs the batches it is sent.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { float16Tensor } from './model-session.js';
import { transferList, type FromModelThread, type ModelThreadData, type ToModelThread, type WireTensor } from './model-thread.js';

const port = parentPort;
if (port === null) throw new Error('model-thread-worker must run in a worker thread');
const post = (message: FromModelThread, transfer: ArrayBuffer[] = []): void => {
  try {
    port.postMessage(message, transfer);
  } catch {
    // A buffer that cannot be detached (memory onnxruntime owns) is copied instead.
    port.postMessage(message);
  }
};

/** A float16 output may come as a Float16Array view (Node 24); its raw bits go over, as Classifier reads them. */
function wireData(t: ort.Tensor): ort.Tensor.DataType {
  const data = t.data as ArrayBufferView & { length: number };
  return t.type === 'float16' && !(data instanceof Uint16Array) ? new Uint16Array(data.buffer, data.byteOffset, data.length) : t.data;
}

const { modelPath, sha256, sessionOptions } = workerData as ModelThreadData;
let session: ort.InferenceSession;
try {
  const bytes = readFileSync(modelPath);
  const found = createHash('sha256').update(bytes).digest('hex');
  if (found !== sha256) throw new Error(`model file ${modelPath} changed since it was verified (sha256 ${found}, expected ${sha256})`);
  session = await ort.InferenceSession.create(bytes, sessionOptions);
} catch (error) {
  post({ type: 'load-error', message: (error as Error).message });
  port.close();
  process.exit(0);
}

const tensor = (t: WireTensor): ort.Tensor =>
  t.type === 'float16' ? float16Tensor(t.data as Uint16Array, [...t.dims]) : new ort.Tensor(t.type, t.data as Float32Array, [...t.dims]);

port.on('message', (message: ToModelThread) => {
  if (message.type !== 'run') return;
  const { id } = message;
  let feeds: Record<string, ort.Tensor>;
  try {
    feeds = Object.fromEntries(Object.entries(message.feeds).map(([name, t]) => [name, tensor(t)]));
  } catch (error) {
    post({ type: 'error', id, message: (error as Error).message });
    return;
  }
  const fail = (error: unknown): void => post({ type: 'error', id, message: error instanceof Error ? error.message : String(error) });
  session.run(feeds).then((results) => {
    try {
      const outputs: Record<string, WireTensor> = {};
      for (const [name, t] of Object.entries(results)) outputs[name] = { type: t.type, data: wireData(t), dims: t.dims };
      post({ type: 'result', id, outputs }, transferList(outputs));
    } catch (error) {
      fail(error);
    }
  }, fail);
});

post({ type: 'ready' });

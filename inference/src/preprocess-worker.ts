/**
 * The body of a preprocessing worker thread (preprocess-pool.ts): one ImagePreprocessor per thread,
 * built from the description the main thread already checked against the model. Images are announced
 * in order; this thread takes each one it can claim, and skips those another thread claimed first.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { InferenceError } from './errors.js';
import { ImagePreprocessor } from './image.js';
import { ownsItsMemory, slotState, type PreprocessTask, type PreprocessWorkerData, type WorkerMessage } from './preprocess-pool.js';
import { spng } from './spng.js';
import { turboJpeg } from './turbojpeg.js';

const { description, limits, exact, exifOrientation, reducingGap, states: statesBuffer, code } = workerData as PreprocessWorkerData;
const states = new Int32Array(statesBuffer);
const preprocessor = new ImagePreprocessor(description, limits, { exact, exifOrientation, reducingGap });
const port = parentPort!;

const queue: PreprocessTask[] = [];
let draining = false;

port.on('message', (task: PreprocessTask) => {
  queue.push(task);
  if (!draining) void drain();
});
// The native decoders load here, not at this thread's first image, so that 'loaded' means every addon
// is in: the first photo does not pay for koffi, and the pool never stops a thread halfway through
// loading one (terminating a worker inside an addon's initialisation aborts the whole process).
turboJpeg();
spng();
port.postMessage({ kind: 'loaded' } satisfies WorkerMessage);

/** One image at a time, oldest first: the bound on decoded pixels in memory is one image per thread. */
async function drain(): Promise<void> {
  draining = true;
  try {
    for (let task = queue.shift(); task !== undefined; task = queue.shift()) {
      const open = slotState(task.seq, 0);
      if (Atomics.compareExchange(states, task.slot, open, slotState(task.seq, code)) !== open) continue; // another thread has it
      const answer = await preprocess(task.bytes);
      const transfer = answer.ok && ownsItsMemory(answer.tensor) ? [answer.tensor.buffer] : [];
      port.postMessage({ kind: 'done', seq: task.seq, ...answer } satisfies WorkerMessage, transfer);
    }
  } finally {
    draining = false;
  }
}

// Typed errors do not survive structured cloning (only name and message do), so they travel as data.
async function preprocess(bytes: Uint8Array): Promise<{ ok: true; tensor: Float32Array } | { ok: false; code: string; message: string }> {
  try {
    return { ok: true, tensor: await preprocessor.preprocess(bytes) };
  } catch (error) {
    if (error instanceof InferenceError) return { ok: false, code: error.code, message: error.message };
    return { ok: false, code: 'inference_failed', message: `image preprocessing failed: ${error instanceof Error ? error.message : String(error)}` };
  }
}

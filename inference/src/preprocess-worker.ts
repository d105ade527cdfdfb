/**
 * The body of a preprocessing worker thread (run by piscina, see preprocess-pool.ts): one
 * ImagePreprocessor per thread, built from the description the main thread already checked against the model.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { InferenceError } from './errors.js';
import { ImagePreprocessor } from './image.js';
import type { PreprocessTask, PreprocessWorkerData, WorkerAnswer } from './preprocess-pool.js';

const { description, limits, exact, exifOrientation } = workerData as PreprocessWorkerData;
const preprocessor = new ImagePreprocessor(description, limits, { exact, exifOrientation });
// Lets PreprocessPool.ready() know this thread has loaded (piscina forwards the message as 'message').
parentPort?.postMessage({ preprocessWorkerLoaded: true });

// Typed errors do not survive structured cloning (only name and message do), so they travel as data.
export default async function preprocess(task: PreprocessTask): Promise<WorkerAnswer> {
  try {
    return { ok: true, tensor: await preprocessor.preprocess(task.bytes) };
  } catch (error) {
    if (error instanceof InferenceError) return { ok: false, code: error.code, message: error.message };
    throw error;
  }
}

/**
 * Worker-thread side of WorkerClassifier: loads the inference core's Classifier here and answers the
 * main thread's calls. onnxruntime-node runs a model synchronously on the thread that calls it, so
 * hosting the core here keeps the HTTP thread free while a batch runs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Classifier, type ClassifierOptions } from './classifier.js';
import type { FromWorker, ToWorker, WireError } from './worker-classifier.js';

const port = parentPort;
if (port === null) throw new Error('worker-classifier-thread must run in a worker thread');

function wire(err: unknown): WireError {
  const e = err as { name?: unknown; code?: unknown; message?: unknown; retryAfterSeconds?: unknown };
  return {
    name: typeof e.name === 'string' ? e.name : 'Error',
    code: typeof e.code === 'string' ? e.code : undefined,
    message: typeof e.message === 'string' ? e.message : String(err),
    retryAfterSeconds: typeof e.retryAfterSeconds === 'number' ? e.retryAfterSeconds : undefined,
  };
}

const post = (message: FromWorker): void => port.postMessage(message);

let classifier: Classifier;
try {
  classifier = await Classifier.load({
    ...(workerData as Omit<ClassifierOptions, 'observer'>),
    observer: {
      onBatch: (size, ms) => post({ type: 'batch', size, ms }),
      onRejected: (reason, images) => post({ type: 'rejected', reason, images }),
    },
  });
} catch (err) {
  post({ type: 'load-error', error: wire(err) });
  port.close();
  process.exit(0);
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'close') {
    void classifier.close().then(() => {
      post({ type: 'closed' });
      port.close();
    });
    return;
  }
  const { id } = message;
  // The message's images are this thread's own (copied or moved here), so they are handed on.
  const work =
    message.type === 'classifyAll'
      ? classifier.classifyAll(message.images, { topK: message.topK, transfer: true }).then((results): FromWorker => ({
          type: 'results',
          id,
          results: results.map((r) => (r.ok ? r : { ok: false as const, error: wire(r.error) })),
        }))
      : classifier.classifyTensor(message.data, message.count, { topK: message.topK }).then((predictions): FromWorker => ({
          type: 'predictions',
          id,
          predictions,
        }));
  work.then(post, (err: unknown) => post({ type: 'failed', id, error: wire(err) }));
});

post({ type: 'ready', card: classifier.card });

/**
 * Starts one of the core's own worker threads (the hosted core, a model thread). Built, the thread's
 * entry is the JavaScript file next to the caller; under tsx (the tests run the TypeScript sources) the
 * thread registers tsx itself first rather than rely on the parent's --import reaching it.
 */
import { Worker } from 'node:worker_threads';

/** `entry` without extension (e.g. './model-thread-worker'), resolved against `callerUrl` (import.meta.url). */
export function startCoreWorker(callerUrl: string, entry: string, workerData: unknown): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`${entry}.js`, callerUrl), { workerData });
  const source = new URL(`${entry}.ts`, callerUrl).href;
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`, { eval: true, workerData });
}

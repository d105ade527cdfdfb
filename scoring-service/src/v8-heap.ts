/**
 * V8 settings an app applies to its own process at start-up (the scoring service's server.ts, the edge
 * module's main.ts). They are V8 flags rather than Node options, so NODE_OPTIONS cannot carry them and a
 * container's CMD would have to repeat them everywhere the app is started (image, `npm start`, tests,
 * bench): each app sets them from its configuration instead.
 *
 * `--heap-growing-percent` is read each time V8 computes the heap's next limit after a full collection,
 * so setting it once the process runs takes effect from the next collection on (test/v8-heap.test.ts
 * checks that it does, so a Node release that froze V8's flags would be noticed).
 */
import { setFlagsFromString } from 'node:v8';

/** Sets V8's old-generation growing factor to 1 + percent/100; 0 leaves V8's own heuristics. */
export function applyHeapGrowingPercent(percent: number): void {
  if (!Number.isSafeInteger(percent) || percent < 0) throw new RangeError(`heap growing percent must be a non-negative integer (got ${percent})`);
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}

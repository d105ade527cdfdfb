/** HEAP_GROWING_PERCENT's setter, shared with the scoring service (its src/v8-heap.ts). */
export { applyHeapGrowingPercent } from './http-contract.js';

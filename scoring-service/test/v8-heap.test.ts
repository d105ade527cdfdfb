// HEAP_GROWING_PERCENT (the scoring service's and the edge module's) is applied with v8.setFlagsFromString once the process runs (v8-heap.ts). That only
// works while V8 reads the flag at each limit computation and Node leaves its flags unfrozen: this checks,
// in fresh processes, that the setting changes how often the collector runs a full mark-compact.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { applyHeapGrowingPercent } from '../src/v8-heap.js';

const MODULE = fileURLToPath(new URL('../dist/v8-heap.js', import.meta.url));

/**
 * Keeps ~30 MB alive (about the size of the apps' own heaps) and replaces a fiftieth of it at a time;
 * with a 1 MB young generation (`--max-semi-space-size=1`) the replaced objects have been promoted before
 * they die, so the garbage is old-generation garbage. Answers how many full collections that took.
 */
const CHURN = `
import { PerformanceObserver, constants } from 'node:perf_hooks';
const { applyHeapGrowingPercent } = await import(process.argv[1]);
applyHeapGrowingPercent(Number(process.argv[2]));
let majors = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if (entry.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
}).observe({ entryTypes: ['gc'] });
const live = Array.from({ length: 1000 }, () => Array.from({ length: 1000 }, (_, i) => ({ i })));
for (let round = 0; round < 100; round++) {
  for (let k = 0; k < 1000; k += 20) live[(k + round) % 1000] = Array.from({ length: 1000 }, (_, i) => ({ i, round }));
}
await new Promise((resolve) => setTimeout(resolve, 50));
process.stdout.write(String(majors));
`;

function fullCollections(percent: number): number {
  return Number(execFileSync(process.execPath, ['--max-semi-space-size=1', '--input-type=module', '-e', CHURN, MODULE, String(percent)], { encoding: 'utf8' }));
}

describe('V8 heap settings (HEAP_GROWING_PERCENT)', () => {
  it('a higher HEAP_GROWING_PERCENT set at run time means fewer full collections of the same churn', () => {
    const tight = fullCollections(10);
    const roomy = fullCollections(300);
    assert.ok(tight >= 4, `factor 1.1 should collect often (${tight} mark-compacts)`);
    assert.ok(roomy * 2 <= tight, `factor 4 should collect at most half as often as 1.1: ${roomy} against ${tight}`);
  });

  it('rejects a negative or fractional percent and leaves V8 alone at 0', () => {
    assert.throws(() => applyHeapGrowingPercent(-1), /non-negative integer \(got -1\)/);
    assert.throws(() => applyHeapGrowingPercent(1.5), /non-negative integer \(got 1.5\)/);
    assert.doesNotThrow(() => applyHeapGrowingPercent(0));
  });
});

/** Helpers shared by the benchmarks. */

/** Calls fn repeatedly for about `seconds` after a warm-up of `warmUpMs`; returns calls per second. */
export async function rate(fn: () => Promise<unknown>, seconds: number, warmUpMs = 300): Promise<number> {
  const warmUntil = performance.now() + warmUpMs;
  while (performance.now() < warmUntil) await fn();
  let calls = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    await fn();
    calls++;
  }
  return (calls * 1000) / (performance.now() - start);
}

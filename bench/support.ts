/** Helpers shared by the benchmarks. */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/** The median of `xs` (the mean of the middle two for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

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

/** A client of autocannon's, as its setupClient sees it: it emits 'response' with the request's duration. */
export interface AutocannonClient {
  setBody(body: string | Buffer): void;
  /** The requests this connection sends in turn, each built into one buffer once. */
  setRequests(requests: { body?: string | Buffer }[]): void;
  on(event: 'response', listener: (status: number, bytes: number, ms: number) => void): void;
}

/**
 * Every response time of an autocannon run, to the microsecond. autocannon's own histogram keeps
 * whole milliseconds (each value truncated), which lowers its mean and p99 by ~0.5 ms each and makes
 * a p99/mean of ~1.5 at a ~15-ms mean move in steps of 0.07; each client's 'response' event carries
 * the duration from process.hrtime instead. Percentiles are nearest-rank.
 */
export class Latencies {
  private readonly ms: number[] = [];

  /** For setupClient: records every response this client gets from now on (while `recording()`, if given). */
  watch(client: AutocannonClient, recording?: () => boolean): void {
    client.on('response', (_status, _bytes, ms) => {
      if (recording === undefined || recording()) this.ms.push(ms);
    });
  }

  /** Records one latency measured elsewhere (e.g. an in-process call). */
  add(ms: number): void {
    this.ms.push(ms);
  }

  summary(): { average: number; p50: number; p90: number; p99: number; max: number; count: number } {
    const v = Float64Array.from(this.ms).sort();
    const at = (q: number): number => (v.length === 0 ? NaN : v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))]!);
    const average = v.length === 0 ? NaN : v.reduce((a, b) => a + b, 0) / v.length;
    return { average, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1), count: v.length };
  }
}

/** autocannon's options, as far as steadyLoad() sets them. */
export interface SteadyLoadOptions {
  setupClient: (client: AutocannonClient) => void;
  [option: string]: unknown;
}

/**
 * One closed-loop autocannon load whose first `warmUpSeconds` are not measured: the same connections
 * go on from the warm-up into the measured `seconds`, so the measure is the load's steady state. Two
 * separate runs (a warm-up, then the measured one) measured a transition instead: autocannon ends a run
 * by dropping its connections with their requests in flight, the server still finishes those, and the
 * next run's first requests queued behind them. With 1920-px photos at 16 connections that tripled the
 * first ~160 ms' latencies (129-189 ms against a 50-ms mean): 16 of the run's 29 slowest responses (bench/README.md).
 * `measure.start` and `measure.end` run at the window's edges (CPU and metrics snapshots).
 */
export async function steadyLoad(
  autocannon: (options: Record<string, unknown>) => Promise<{ errors: number; non2xx: number }>,
  options: SteadyLoadOptions,
  warmUpSeconds: number,
  seconds: number,
  measure: { start?: () => Promise<void> | void; end?: () => Promise<void> | void } = {},
): Promise<{ latency: ReturnType<Latencies['summary']>; answered: number; seconds: number; errors: number }> {
  const latencies = new Latencies();
  let recording = false;
  const run = autocannon({
    ...options,
    // Past the window's end, so that the run's own end (dropped connections) is not in it.
    duration: warmUpSeconds + seconds + 1,
    setupClient: (client: AutocannonClient) => {
      options.setupClient(client);
      latencies.watch(client, () => recording);
    },
  });
  await new Promise((r) => setTimeout(r, warmUpSeconds * 1000));
  await measure.start?.();
  recording = true;
  const start = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  recording = false;
  const elapsed = (performance.now() - start) / 1000;
  await measure.end?.();
  const result = await run;
  const latency = latencies.summary();
  // Errors over the whole run, warm-up included: none is expected anywhere.
  return { latency, answered: latency.count, seconds: elapsed, errors: result.errors + result.non2xx };
}

/**
 * The batch-size histogram (`inference_batch_size`) in the Prometheus text at `metricsUrl`, the scoring
 * service's or the edge module's: images batched (sum) and model runs (count) so far, and the largest
 * batch seen (the smallest bucket bound holding every observation). NaN where a figure is missing.
 */
export async function batchTotals(metricsUrl: string): Promise<{ sum: number; count: number; max: number }> {
  const text = await (await fetch(metricsUrl)).text();
  const value = (name: string): number => Number(new RegExp(`^inference_batch_size_${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const count = value('count');
  const buckets = [...text.matchAll(/^inference_batch_size_bucket\{le="([^"]+)"\} (\S+)$/gm)].map((m) => [Number(m[1]), Number(m[2])] as const);
  return { sum: value('sum'), count, max: buckets.find(([, c]) => c >= count)?.[0] ?? NaN };
}

/** A process's peak resident memory so far in MB (Linux's VmHWM), NaN where /proc does not say. */
export function peakRssMb(pid: number): number {
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? NaN : Number(kb) / 1024;
  } catch {
    return NaN;
  }
}

/**
 * CPU time a process has used, in ms (utime + stime of /proc/<pid>/stat, all its threads; clock ticks
 * of 10 ms, USER_HZ on Linux), or NaN where there is no /proc.
 */
export function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/** What stallProbe saw: how many gaps of 5 ms or more, and the longest gap (ms). */
export interface Stalls {
  over5ms: number;
  longestMs: number;
}

// Runs in each probe thread: spins on the clock until workerData.ms have passed; posts how many gaps
// between two readings lasted 5 ms or more, and the longest.
const PROBE = `const { parentPort, workerData } = require('node:worker_threads');
const end = process.hrtime.bigint() + BigInt(Math.round(workerData.ms * 1e6));
let over5ms = 0;
let longestMs = 0;
let last = process.hrtime.bigint();
for (;;) {
  const now = process.hrtime.bigint();
  const gap = Number(now - last) / 1e6;
  if (gap >= 5) over5ms++;
  if (gap > longestMs) longestMs = gap;
  last = now;
  if (now >= end) break;
}
parentPort.postMessage({ over5ms, longestMs });`;

/**
 * The machine's own stalls, with nothing of ours running: `threads` worker threads (one per CPU) spin
 * on the clock for `ms` each, and every gap of milliseconds between two readings is time the thread
 * wanted its CPU and did not have it (a kernel thread, another process, the hypervisor). With every CPU
 * busy, as a server's are under a closed-loop load, any thread of the server can lose that much at any
 * moment, and a stall on the thread that answers requests holds every request in flight. On this
 * project's 2-CPU hosts, kernel threads (rcu_preempt, kdamond) took 3-14 ms at a time a few times a
 * second (`perf sched`, bench/README.md).
 */
export async function stallProbe(ms: number, threads: number): Promise<Stalls> {
  const each = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<Stalls>((resolve, reject) => {
          const worker = new Worker(PROBE, { eval: true, workerData: { ms } });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  );
  return {
    over5ms: each.reduce((n, x) => n + x.over5ms, 0),
    longestMs: Math.max(...each.map((x) => x.longestMs)),
  };
}

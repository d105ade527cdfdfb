// Runs the real module process (`node edge-module/dist/main.js`, built by `npm run build`) for tests:
// collects its JSON log lines, waits for a line, kills it with any signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../src/node-flags.js';

export const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A free TCP port on 127.0.0.1 (the module's PORT must be a real port number). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Variables of the test runner's own environment that must not leak into the module.
const STRIP = /^(EdgeHub|IotHub|EdgeModule|IOTEDGE_|JOURNAL_|SCORING_|PORT$|HOST$|MODEL_DIR$|LOG_LEVEL$|NODE_OPTIONS$|HEAP_GROWING_PERCENT$)/;

export class ModuleProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters = new Set<() => void>();
  private partial = '';

  constructor(env: Record<string, string>, args: string[] = ['--local']) {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !STRIP.test(k)));
    this.child = spawn(process.execPath, [...NODE_FLAGS, MAIN, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    // If the test process dies first, the module must not outlive it.
    const reap = (): void => {
      if (this.running) this.child.kill('SIGKILL');
    };
    process.once('exit', reap);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => {
      process.off('exit', reap);
      resolve({ code, signal });
    }));
    this.child.stdout!.on('data', (chunk: Buffer) => this.onStdout(chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr.push(chunk.toString());
      this.notify();
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private onStdout(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    for (const part of parts) {
      if (!part.trim()) continue;
      try {
        this.lines.push(JSON.parse(part) as LogLine);
      } catch {
        this.lines.push({ level: 30, msg: part });
      }
    }
    this.notify();
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Resolves with the first log line whose message matches. */
  waitForLog(pattern: RegExp, timeoutMs = 30_000): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const line = this.lines.find((l) => pattern.test(l.msg));
        if (line) {
          done();
          resolve(line);
        } else if (!this.running) {
          done();
          reject(new Error(`module exited before logging ${pattern}: ${this.stderr.join('')}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`module did not log ${pattern} within ${timeoutMs} ms; last lines: ${JSON.stringify(this.lines.slice(-5))} ${this.stderr.join('')}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      this.child.once('exit', check);
      check();
    });
  }

  /** Sends the signal and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }
}

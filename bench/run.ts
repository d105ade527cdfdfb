/**
 * `npm run bench [-- part ...]`: runs every part's benchmark (bench/<part>.ts exporting run()) and
 * prints figures. Never a test gate: nothing here fails on a number. On a shared 2-core machine
 * compare the ratios printed within one run, not absolute figures across days.
 */
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

const parts = ['inference', 'scoring', 'edge', 'images', 'mobilenet', 'photos', 'exports', 'resample'];
const wanted = process.argv.slice(2);
const selected = wanted.length > 0 ? parts.filter((p) => wanted.includes(p)) : parts;

console.log(`# model-deploy benchmarks — ${new Date().toISOString()}`);
console.log(`# ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const part of selected) {
  const file = new URL(`./${part}.ts`, import.meta.url);
  if (!existsSync(file)) continue;
  console.log(`\n## ${part}`);
  const mod = (await import(file.href)) as { run: () => Promise<void> };
  await mod.run();
}

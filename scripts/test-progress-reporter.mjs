// A node:test reporter that says which test file is running, N of M, and how long each took; the spec
// reporter beside it prints the results. run-tests.mjs passes both reporters and the file count
// (MD_TEST_FILE_COUNT). Lines go to stderr as they happen, so a 10-minute run (the container tests
// alone take minutes) shows where it is.
import { resolve } from 'node:path';

const total = Number(process.env.MD_TEST_FILE_COUNT) || undefined;
const root = process.cwd();

const clock = (ms) => {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};

export default async function* progress(source) {
  const runStart = Date.now();
  const started = new Map();
  let n = 0;
  // A file's own top-level entry is named after its path (relative to the working directory); the
  // tests inside it carry their own names.
  const isFile = (data) => data.nesting === 0 && typeof data.file === 'string' && resolve(root, data.name) === data.file;
  for await (const event of source) {
    const { type, data } = event;
    if (type === 'test:dequeue' && isFile(data) && !started.has(data.file)) {
      n += 1;
      started.set(data.file, { n, at: Date.now() });
      yield `run-tests: [${n}${total ? `/${total}` : ''}] running ${data.name} (${clock(Date.now() - runStart)} into the run)\n`;
    } else if (type === 'test:complete' && isFile(data) && started.has(data.file)) {
      const { n: i, at } = started.get(data.file);
      const outcome = data.details?.passed ? 'ok' : 'FAILED';
      yield `run-tests: [${i}${total ? `/${total}` : ''}] ${data.name} ${outcome} in ${clock(Date.now() - at)}\n`;
    }
  }
  yield `run-tests: ${n} file(s) in ${clock(Date.now() - runStart)}\n`;
}

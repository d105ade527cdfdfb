// Offline checks of both Dockerfiles and the .dockerignore: dockerfilelint (npm) with no finding left
// unexplained, plus the project's own rules for the images (non-root numeric user, exec-form CMD with
// node as PID 1, no secrets in ENV/ARG, a tagged base image, a build context that holds every COPY source).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { run as dockerfilelint, type DiagnoticItem } from 'dockerfilelint';

const REPO = join(__dirname, '..', '..');
// package.json's engines field (">=24") is the one place the Node major is chosen.
const NODE_MAJOR = /^>=(\d+)$/.exec(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).engines.node)![1];
const APPS = {
  'scoring-service': { cmd: ['node', 'scoring-service/dist/server.js'], workspaces: ['inference', 'codecs', 'scoring-service'] },
  'edge-module': { cmd: ['node', 'edge-module/dist/main.js'], workspaces: ['inference', 'codecs', 'scoring-service', 'edge-module'] },
} as const;

/**
 * Findings accepted on purpose, each with the reason. Anything else fails the test.
 * - missing_tag on `FROM … ${BASE_IMAGE}`: the image comes from a build argument whose default carries
 *   the tag (node:24-bookworm-slim); dockerfilelint does not expand ARGs. The default is checked below.
 */
function accepted(item: DiagnoticItem, line: string): boolean {
  return item.rule === 'missing_tag' && /^FROM\s+(--platform=\S+\s+)?\$\{BASE_IMAGE\}(\s|$)/.test(line);
}

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** Instructions with continuation lines joined and comments dropped, grouped by stage (the global ARGs first). */
function parse(text: string): Instruction[][] {
  const stages: Instruction[][] = [[]];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) return;
    if (pending !== '' && line.startsWith('#')) return;
    if (pending === '') startLine = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = `${pending}${line}`.trim();
    pending = '';
    const [keyword = '', ...rest] = full.split(/\s+/);
    const instruction = { keyword: keyword.toUpperCase(), args: rest.join(' '), line: startLine };
    if (instruction.keyword === 'FROM') stages.push([]);
    stages[stages.length - 1]!.push(instruction);
  });
  return stages.filter((s) => s.length > 0);
}

/** The .dockerignore allow-list: "*" first, then "!path" entries, then never-send patterns. */
function allowedByDockerignore(path: string): boolean {
  const lines = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const allowed = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1));
  const never = lines.filter((l) => l.startsWith('**/')).map((l) => l.slice(3));
  const inAllowList = allowed.some((a) => path === a || path.startsWith(`${a}/`));
  const segments = path.split('/');
  const excluded = never.some((n) => n.includes('*') ? new RegExp(`^${n.replace(/\./g, '\\.').replace(/\*/g, '.*')}$`).test(segments.at(-1)!) : segments.includes(n));
  return inAllowList && !excluded;
}

describe('.dockerignore', () => {
  it('is an allow-list: everything is excluded first, so new files never slip into the build context', () => {
    const lines = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    assert.equal(lines[0], '*');
    for (const path of ['node_modules/x', '.git/config', '.cache/containers/x', 'model/train.py', 'model/eval/images-idx3-ubyte.gz',
      'scoring-service/dist/server.js', 'scoring-service/test/app.test.ts', '.env', 'Pulumi.dev.yaml', 'infra/index.ts']) {
      assert.equal(allowedByDockerignore(path), false, `${path} must not be sent to the builder`);
    }
  });
});

for (const [app, expected] of Object.entries(APPS)) {
  describe(`${app}/Dockerfile`, () => {
    const file = join(REPO, app, 'Dockerfile');
    const text = readFileSync(file, 'utf8');
    const lines = text.split('\n');
    const sections = parse(text);
    const stages = sections.filter((s) => s[0]!.keyword === 'FROM');
    const runtime = stages.at(-1)!;
    const all = sections.flat();
    const find = (keyword: string): Instruction[] => runtime.filter((i) => i.keyword === keyword);

    it('has no dockerfilelint finding beyond the accepted ones', () => {
      const findings = dockerfilelint(REPO, text).filter((item) => !accepted(item, lines[item.line - 1]!.trim()));
      assert.deepEqual(findings.map((f) => `line ${f.line}: ${f.rule}: ${f.title}`), []);
    });

    it('takes the base image as a build argument defaulting to the official image of the Node the project requires', () => {
      const arg = /^ARG BASE_IMAGE=(\S+)$/m.exec(text);
      assert.ok(arg, 'ARG BASE_IMAGE=<image> before the first FROM');
      assert.equal(arg[1]!.replace(/^node:(\d+)(\.\d+)*-/, 'node:$1-'), `node:${NODE_MAJOR}-bookworm-slim`);
      assert.ok(stages.length >= 2, 'multi-stage');
      for (const stage of stages) assert.match(stage[0]!.args, /\$\{BASE_IMAGE\}/, 'every stage builds on the base image argument');
    });

    it('runs as the numeric non-root user 10001 from /app with node as PID 1 (exec-form CMD, no entrypoint), with no RUN in the runtime stage', () => {
      assert.deepEqual(find('USER').map((i) => i.args), ['10001:10001']);
      assert.deepEqual(find('WORKDIR').map((i) => i.args), ['/app']);
      assert.deepEqual(find('EXPOSE').map((i) => i.args), ['5001']);
      assert.deepEqual(find('ENTRYPOINT').map((i) => JSON.parse(i.args) as unknown), [[]]);
      assert.deepEqual(find('CMD').map((i) => JSON.parse(i.args) as unknown), [expected.cmd]);
      assert.equal(runtime.at(-1)!.keyword, 'CMD');
      // No RUN in the runtime stage: a cross-platform (arm64) build needs no emulation.
      assert.deepEqual(runtime.filter((i) => i.keyword === 'RUN').map((i) => `line ${i.line}`), []);
      // USER comes after every COPY of the runtime stage, so nothing is created as the app user by accident.
      const userIndex = runtime.findIndex((i) => i.keyword === 'USER');
      assert.ok(runtime.slice(userIndex).every((i) => i.keyword !== 'RUN' && i.keyword !== 'COPY'));
    });

    it('bakes in no secret: no ENV or ARG with a key-, token-, password- or connection-string-like name', () => {
      for (const i of all.filter((x) => x.keyword === 'ENV' || x.keyword === 'ARG')) {
        for (const name of i.args.split(/\s+/).map((kv) => kv.split('=')[0]!)) {
          assert.doesNotMatch(name, /KEY|SECRET|TOKEN|PASSWORD|CONNECTION_STRING|CREDENTIAL/i, `line ${i.line}: ${name}`);
        }
      }
      // Registry credentials come in as build secrets (never a layer), not as files in the context.
      assert.ok(!all.some((i) => i.keyword === 'COPY' && /\.npmrc/.test(i.args)), 'no .npmrc copied into a stage');
    });

    it('copies only files the build context holds (allowed by .dockerignore and present)', () => {
      const copies = all.filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='));
      assert.ok(copies.length > 0);
      for (const copy of copies) {
        const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith('--'));
        for (const source of parts.slice(0, -1)) {
          const path = source.replace(/^\.\//, '').replace(/\/$/, '');
          assert.ok(allowedByDockerignore(path), `line ${copy.line}: ${path} is excluded by .dockerignore`);
          assert.ok(existsSync(join(REPO, path)), `line ${copy.line}: ${path} does not exist`);
        }
      }
    });

    it("installs and compiles exactly this app's workspaces", () => {
      const manifests = all.filter((i) => i.keyword === 'COPY' && /\/package\.json\s/.test(i.args))
        .map((i) => i.args.split(/\s+/)[0]!.replace('/package.json', ''));
      assert.deepEqual(manifests, [...expected.workspaces]);
      assert.match(text, new RegExp(`npm ci --omit=dev --workspace @model-deploy/${app} `));
      assert.match(text, new RegExp(`tsc -b ${expected.workspaces.join(' ')} `));
    });
  });
}

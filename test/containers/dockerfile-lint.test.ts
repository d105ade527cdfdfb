// Offline checks of the Dockerfile (one build definition for both apps) and the .dockerignore:
// dockerfilelint (npm) with no finding left unexplained, plus the project's own rules for the images
// (non-root numeric user, exec-form CMD with node as PID 1, no secrets in ENV/ARG, a tagged base image,
// a build context that holds every COPY source, the model checked by the core and copied last).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { run as dockerfilelint, type DiagnoticItem } from 'dockerfilelint';
import { MODEL_FILE_EXTENSIONS } from '../../infra/model-folder';
import { NODE_FLAGS } from '../../edge-module/src/node-flags';

const REPO = join(__dirname, '..', '..');
// package.json's engines field (">=24") is the one place the Node major is chosen.
const NODE_MAJOR = /^>=(\d+)$/.exec(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).engines.node)![1];
const APPS = {
  'scoring-service': { cmd: ['node', 'scoring-service/dist/server.js'], workspaces: ['inference', 'codecs', 'scoring-service'] },
  // The edge module starts with its Node flags (a 2 MB young generation; edge-module/src/node-flags.ts).
  'edge-module': { cmd: ['node', ...NODE_FLAGS, 'edge-module/dist/main.js'], workspaces: ['inference', 'codecs', 'scoring-service', 'edge-module'] },
} as const;

const DOCKERFILE = join(REPO, 'Dockerfile');
/** Stage names of the Dockerfile; FROM one of them is a stage, not an image. */
const STAGES = ['build', 'model', 'runtime', 'app-scoring-service', 'app-edge-module'];

/**
 * Findings accepted on purpose, each with the reason. Anything else fails the test.
 * - missing_tag on `FROM … ${BASE_IMAGE}`: the image comes from a build argument whose default carries
 *   the tag (node:24-bookworm-slim); dockerfilelint does not expand ARGs. The default is checked below.
 * - missing_tag on `FROM <stage>` and `FROM app-${APP}`: earlier stages of the same file, not images.
 * - apt-get-update_require_install on the RUN that fetches libturbojpeg0 and libspng0: it runs `apt-get download`
 *   (the target platform's package, unpacked for the runtime stage), never `apt-get install`.
 */
function accepted(item: DiagnoticItem, line: string, instruction = line): boolean {
  if (item.rule === 'apt-get-update_require_install') return /apt-get download "libturbojpeg0:\$debarch" "libspng0:\$debarch"/.test(instruction) && !/apt-get install/.test(instruction);
  if (item.rule !== 'missing_tag') return false;
  const from = /^FROM\s+(--platform=\S+\s+)?(\S+)(\s|$)/.exec(line)?.[2];
  return from === '${BASE_IMAGE}' || from === 'app-${APP}' || STAGES.includes(from ?? '');
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

/** A .dockerignore glob as a regular expression over a whole path (`**` any folders, `*` within one). */
function globRegExp(glob: string): RegExp {
  const body = glob.split('**/').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')).join('(.*/)?');
  return new RegExp(`^${body}$`);
}

/** The .dockerignore allow-list: "*" first, then "!path" entries (folders, files or globs), then never-send patterns. */
function allowedByDockerignore(path: string): boolean {
  const lines = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const allowed = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1));
  const never = lines.filter((l) => l.startsWith('**/')).map((l) => l.slice(3));
  const inAllowList = allowed.some((a) => (a.includes('*') ? globRegExp(a).test(path) : path === a || path.startsWith(`${a}/`)));
  const segments = path.split('/');
  const excluded = never.some((n) => n.includes('*') ? new RegExp(`^${n.replace(/\./g, '\\.').replace(/\*/g, '.*')}$`).test(segments.at(-1)!) : segments.includes(n));
  return inAllowList && !excluded;
}

describe('.dockerignore', () => {
  it('is an allow-list: everything is excluded first, so new files never slip into the build context', () => {
    const lines = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    assert.equal(lines[0], '*');
    for (const path of ['node_modules/x', '.git/config', '.cache/containers/x', 'model/train.py', 'model/eval/images-idx3-ubyte.gz',
      'scoring-service/dist/server.js', 'scoring-service/test/app.test.ts', '.env', 'Pulumi.dev.yaml', 'infra/index.ts',
      'model/README.md', 'model/samples/bag.png', 'model/fashion-rgb-keras/README.md', 'inference/test/fixtures/x.onnx', 'config.json']) {
      assert.equal(allowedByDockerignore(path), false, `${path} must not be sent to the builder`);
    }
  });

  it("sends the model files of model/ and of the folders under it (the stack's modelDir), and nothing else of theirs", () => {
    for (const path of ['model/model.onnx', 'model/card.json', 'model/fashion-rgb-keras/model.onnx', 'model/fashion-rgb-keras/config.json',
      'model/fashion-rgb-keras/preprocessor_config.json', 'model/my-vit/labels.txt']) {
      assert.equal(allowedByDockerignore(path), true, `${path} must reach the builder`);
    }
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(DOCKERFILE, 'utf8');
  const lines = text.split('\n');
  const sections = parse(text);
  const stages = sections.filter((s) => s[0]!.keyword === 'FROM');
  const all = sections.flat();
  const stageNamed = (name: string) => stages.find((s) => new RegExp(`\\sAS\\s+${name}$`, 'i').test(s[0]!.args))!;
  const final = stages.at(-1)!;

  it('has no dockerfilelint finding beyond the accepted ones', () => {
    const instructionAt = (line: number): string => {
      let end = line - 1;
      while (end < lines.length - 1 && lines[end]!.trimEnd().endsWith('\\')) end++;
      return lines.slice(line - 1, end + 1).join('\n');
    };
    const findings = dockerfilelint(REPO, text).filter((item) => !accepted(item, lines[item.line - 1]!.trim(), instructionAt(item.line)));
    assert.deepEqual(findings.map((f) => `line ${f.line}: ${f.rule}: ${f.title}`), []);
  });

  it('takes the base image as a build argument defaulting to the official image of the Node the project requires', () => {
    const arg = /^ARG BASE_IMAGE=(\S+)$/m.exec(text);
    assert.ok(arg, 'ARG BASE_IMAGE=<image> before the first FROM');
    assert.equal(arg[1]!.replace(/^node:(\d+)(\.\d+)*-/, 'node:$1-'), `node:${NODE_MAJOR}-bookworm-slim`);
    assert.ok(stages.length >= 2, 'multi-stage');
    for (const stage of stages) {
      const from = stage[0]!.args.replace(/^--platform=\S+\s+/, '').split(/\s+/)[0]!;
      assert.ok(from === '${BASE_IMAGE}' || from === 'app-${APP}' || STAGES.includes(from), `line ${stage[0]!.line}: every stage builds on the base image argument or an earlier stage (${from})`);
    }
    assert.deepEqual(stages.map((s) => /\sAS\s+(\S+)$/i.exec(s[0]!.args)?.[1]).filter(Boolean), STAGES);
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

  it('copies only files the build context holds (allowed by .dockerignore and present), for the default and the second model folder', () => {
    const copies = all.filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='));
    assert.ok(copies.length > 0);
    for (const modelDir of ['model', 'model/fashion-rgb-keras']) {
      for (const copy of copies) {
        const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith('--'));
        for (const source of parts.slice(0, -1)) {
          const path = source.replace('${MODEL_DIR}', modelDir).replace(/^\.\//, '').replace(/\/$/, '');
          if (path.includes('*')) {
            // A glob: what it stands for must be sent (a glob may match nothing, e.g. no labels .txt).
            assert.ok(allowedByDockerignore(path.replace('*', 'x')), `line ${copy.line}: ${path} is excluded by .dockerignore`);
            continue;
          }
          assert.ok(allowedByDockerignore(path), `line ${copy.line}: ${path} is excluded by .dockerignore`);
          assert.ok(existsSync(join(REPO, path)), `line ${copy.line}: ${path} does not exist`);
        }
      }
    }
  });

  it('the model: the files infra/model-folder.ts counts, checked by the core, copied into the image as its last layer', () => {
    const model = stageNamed('model');
    const copy = model.find((i) => i.keyword === 'COPY')!;
    const sources = copy.args.split(/\s+/).slice(0, -1);
    assert.deepEqual(sources, MODEL_FILE_EXTENSIONS.map((ext) => `\${MODEL_DIR}/*${ext}`));
    assert.match(model.find((i) => i.keyword === 'RUN')!.args, /node \/out\/app\/inference\/dist\/model-cli\.js describe \/model/);
    const finalCopies = final.filter((i) => i.keyword === 'COPY');
    assert.deepEqual(finalCopies.map((i) => i.args), ['--from=model /model/ ./model/'], 'the model enters the image only from the checked stage');
    assert.equal(final[0]!.args, 'app-${APP}');
  });

  for (const [app, expected] of Object.entries(APPS)) {
    describe(`APP=${app}`, () => {
      // What the image is made of at run time: the common runtime stage, the app's stage, the final stage.
      const runtime = [...stageNamed('runtime'), ...stageNamed(`app-${app}`), ...final];
      const find = (keyword: string): Instruction[] => runtime.filter((i) => i.keyword === keyword);

      it('runs as the numeric non-root user 10001 from /app with node as PID 1 (exec-form CMD, no entrypoint), with no RUN in the runtime stages', () => {
        assert.deepEqual(find('USER').map((i) => i.args), ['10001:10001']);
        assert.deepEqual(find('WORKDIR').map((i) => i.args), ['/app']);
        assert.deepEqual(find('EXPOSE').map((i) => i.args), ['5001']);
        assert.deepEqual(find('ENTRYPOINT').map((i) => JSON.parse(i.args) as unknown), [[]]);
        assert.deepEqual(find('CMD').map((i) => JSON.parse(i.args) as unknown), [expected.cmd]);
        // CMD ends the app's stage; ENTRYPOINT (which would clear it) comes before it.
        assert.equal(stageNamed(`app-${app}`).at(-1)!.keyword, 'CMD');
        assert.ok(runtime.findIndex((i) => i.keyword === 'ENTRYPOINT') < runtime.findIndex((i) => i.keyword === 'CMD'));
        // No RUN in the runtime stages: a cross-platform (arm64) build needs no emulation.
        assert.deepEqual(runtime.filter((i) => i.keyword === 'RUN').map((i) => `line ${i.line}`), []);
        // USER comes after every COPY of the runtime stages, so nothing is created as the app user by accident.
        const userIndex = runtime.findIndex((i) => i.keyword === 'USER');
        assert.ok(runtime.slice(userIndex).every((i) => i.keyword !== 'RUN' && i.keyword !== 'COPY'));
      });

      it("installs and compiles exactly this app's workspaces", () => {
        const manifests = all.filter((i) => i.keyword === 'COPY' && /\/package\.json\s/.test(i.args))
          .map((i) => i.args.split(/\s+/)[0]!.replace('/package.json', ''));
        assert.deepEqual(manifests, [...APPS['edge-module'].workspaces], 'every workspace manifest is copied; the RUN keeps only the app\'s');
        assert.match(text, new RegExp(`\\s${app}\\) workspaces="${expected.workspaces.join(' ')}" ;;`));
        assert.match(text, /npm ci --omit=dev --workspace "@model-deploy\/\$APP" /);
        assert.match(text, /tsc -b \$workspaces /);
      });
    });
  }
});

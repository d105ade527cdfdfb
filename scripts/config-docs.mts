/**
 * Renders the configuration tables of docs/ from the schemas that validate the values, so a key's
 * description lives in one place: the service's ENV_VARS (env-schema), the edge module's EDGE_ENV_VARS
 * and twin RULES, and Pulumi.yaml's config block (with the values of Pulumi.<stack>.yaml).
 *
 *   npm run docs            rewrites the generated blocks in place
 *   npm run docs -- --check exits 1 and names the file when a block is out of date (test/config-docs.test.mts)
 *
 * A generated block sits between `<!-- generated: <name> (npm run docs) -->` and `<!-- end generated -->`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ENV_VARS } from '../scoring-service/src/config.ts';
import { EDGE_ENV_VARS } from '../edge-module/src/config.ts';
import { DEFAULT_SETTINGS, RULES } from '../edge-module/src/settings.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

const code = (v: unknown): string => '`' + (typeof v === 'string' ? v : JSON.stringify(v)) + '`';
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const table = (head: string[], rows: string[][]): string =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');

function serviceEnv(): string {
  return table(
    ['variable', 'default', 'accepted', 'meaning'],
    Object.entries(ENV_VARS).map(([name, spec]) => {
      const dflt = spec.defaultText ?? ('default' in spec.schema ? code(spec.schema.default) : '–');
      return [code(name), dflt, spec.secret ? `${spec.expected} (secret: never logged)` : spec.expected, spec.description];
    }),
  );
}

function edgeEnv(): string {
  const rows = Object.entries(EDGE_ENV_VARS).map(([names, spec]) => {
    const accepted = 'range' in spec ? `an integer from ${spec.range.min} to ${spec.range.max}`
      : 'values' in spec ? spec.values.map((v) => code(v)).join(' or ') : '';
    return [names.split(', ').map(code).join(', '), spec.defaultText, accepted, spec.description];
  });
  // A variable both read (MODEL_THREADS) has its own row above: the module's default differs.
  rows.push([Object.keys(ENV_VARS).filter((name) => !(name in EDGE_ENV_VARS)).map(code).join(', '), 'as the scoring service', 'as the scoring service',
    'read and validated by the scoring service\'s own schema (table above); in a container set `HOST=0.0.0.0`. ' +
      'One default differs: with ' +
      'model threads (`MODEL_THREADS`) `INTRA_OP_THREADS` is the CPUs divided among them unless set (1 each when they match)']);
  return table(['variable', 'default', 'accepted', 'meaning'], rows);
}

function twin(): string {
  return table(
    ['property', 'accepted', 'default', 'effect'],
    Object.entries(RULES).map(([name, rule]) => {
      const dflt = (DEFAULT_SETTINGS as Record<string, unknown>)[name];
      return [code(name), rule.expected, dflt === undefined ? 'unset' : code(dflt), rule.description];
    }),
  );
}

interface PulumiKey {
  type: string;
  description: string;
  default?: unknown;
}

function stackConfig(): string {
  const project = parse(readFileSync(`${root}/Pulumi.yaml`, 'utf8')) as { name: string; config: Record<string, PulumiKey> };
  const stacks = ['dev', 'prod'].map((stack) => {
    const file = parse(readFileSync(`${root}/Pulumi.${stack}.yaml`, 'utf8')) as { config?: Record<string, unknown> };
    return { stack, config: file.config ?? {} };
  });
  const show = (v: unknown): string => (v === undefined ? '' : code(v));
  return table(
    ['key', 'type', 'default', ...stacks.map((s) => s.stack), 'meaning'],
    Object.entries(project.config).map(([key, spec]) => [
      code(key),
      spec.type,
      show(spec.default),
      ...stacks.map((s) => show(s.config[`${project.name}:${key}`])),
      spec.description,
    ]),
  );
}

const BLOCKS: Record<string, { file: string; render: () => string }> = {
  'service-env': { file: 'docs/configuration.md', render: serviceEnv },
  'edge-env': { file: 'docs/configuration.md', render: edgeEnv },
  'stack-config': { file: 'docs/configuration.md', render: stackConfig },
  'edge-twin': { file: 'docs/edge-module.md', render: twin },
};

/** The files as they should be, and which of them differ from what is on disk. */
export function renderDocs(): { file: string; current: string; expected: string }[] {
  const files = new Map<string, string>();
  for (const { file } of Object.values(BLOCKS)) files.set(file, readFileSync(`${root}/${file}`, 'utf8'));
  const out = new Map(files);
  for (const [name, { file, render }] of Object.entries(BLOCKS)) {
    const start = `<!-- generated: ${name} (npm run docs) -->`;
    const text = out.get(file)!;
    const a = text.indexOf(start);
    const b = text.indexOf('<!-- end generated -->', a);
    if (a < 0 || b < 0) throw new Error(`${file}: the marker "${start}" (or its "<!-- end generated -->") is missing`);
    out.set(file, `${text.slice(0, a + start.length)}\n${render()}\n${text.slice(b)}`);
  }
  return [...files].map(([file, current]) => ({ file, current, expected: out.get(file)! }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check');
  const stale = renderDocs().filter((d) => d.current !== d.expected);
  for (const d of stale) {
    if (check) console.error(`${d.file} is out of date with the configuration schemas: run npm run docs`);
    else writeFileSync(`${root}/${d.file}`, d.expected);
  }
  if (!check) console.log(stale.length ? `rewrote ${stale.map((d) => d.file).join(', ')}` : 'docs are up to date');
  process.exitCode = check && stale.length ? 1 : 0;
}

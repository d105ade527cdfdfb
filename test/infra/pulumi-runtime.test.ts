// What `pulumi up` itself does with the program, without the CLI: load index.ts through Pulumi's own
// ts-node registration (vendored ts-node, type-checking, the tsconfig Pulumi.yaml names) in a child
// process, then take the dynamic providers exactly as they were serialised there and drive them against
// the loopback IoT Hub and ARM servers, the way Pulumi's dynamic-provider host loads them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type * as pulumi from '@pulumi/pulumi';
import { buildEdgeManifest, edgeDeploymentId } from '../../infra/edge-manifest';
import { FakeArm, REGISTRY_ID, TOKEN_ID } from './fake-arm';
import { FakeEntra } from './fake-entra';
import { FakeIotHub } from './fake-iothub';
import { REPO_ROOT } from './harness';
import { inTrustingProcess } from './tls';

type Provider = pulumi.dynamic.ResourceProvider;

interface ChildReport {
  tsnode: string;
  tsconfig: string;
  resources: string[];
  outputs: string[];
  providers: Record<string, string>;
}

const requireFromString = createRequire(require.resolve('@pulumi/pulumi/package.json'))('require-from-string') as (code: string) => { handler(): Provider };

const cert = inTrustingProcess(__filename);
if (cert) describe('the program as pulumi up loads it (Pulumi ts-node, Pulumi.yaml tsconfig)', () => {
  let report: ChildReport;
  const entra = new FakeEntra(cert);
  const hub = new FakeIotHub(cert, entra);
  const arm = new FakeArm(cert, entra);
  const provider = (type: string) => {
    const text = report.providers[`pulumi-nodejs:dynamic/${type}`];
    assert.ok(text, `serialised provider for ${type}`);
    return requireFromString(text).handler();
  };

  before(async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(__dirname, 'pulumi-runtime-child.cjs'), 'dev'], {
      cwd: REPO_ROOT,
      timeout: 180_000,
      maxBuffer: 32 * 1024 * 1024,
      // The child must not inherit this process's tsx loader: it loads TypeScript the way Pulumi does.
      // No ts-node cache: every run compiles and type-checks for real, and leaves nothing in /tmp.
      env: { ...process.env, NODE_OPTIONS: '', TS_NODE_CACHE: 'false' },
    });
    report = JSON.parse(stdout) as ChildReport;
    await entra.start();
    entra.useInProcess();
    await hub.start();
    await arm.start();
  });
  after(async () => {
    await hub.stop();
    await arm.stop();
    await entra.stop();
  });

  test('loads and type-checks with the vendored ts-node and the tsconfig named in Pulumi.yaml', () => {
    assert.equal(report.tsnode, join('node_modules', '@pulumi', 'pulumi', 'vendor', 'ts-node@7.0.1'));
    assert.equal(report.tsconfig, 'infra/tsconfig.json');
    assert.ok(report.resources.length > 30, `${report.resources.length} resources`);
    for (const k of ['scoringUrl', 'scoringPrimaryKey', 'kubeconfig', 'edgeDeploymentManifest']) assert.ok(report.outputs.includes(k), k);
  });

  test('the serialised device provider registers, reads and deletes an identity', async () => {
    const devices = provider('iothub:Device');
    const inputs = { hostName: hub.hostName, deviceId: 'edge-dev-01', edgeEnabled: true, status: 'enabled', tags: { environment: 'dev', modelDeploy: true } };
    const created = await devices.create!(inputs);
    assert.equal(hub.devices.get('edge-dev-01')?.capabilities.iotEdge, true);
    assert.equal((await devices.read!(created.id, created.outs)).id, 'edge-dev-01');
    await devices.delete!(created.id, created.outs);
    assert.equal(hub.devices.size, 0);
  });

  test('the serialised edge deployment provider creates and deletes a configuration', async () => {
    const deployments = provider('iothub:EdgeDeployment');
    const content = buildEdgeManifest({
      registry: { address: 'crtest.azurecr.io', username: 'edge-pull-token', password: 'pw' },
      moduleImage: `crtest.azurecr.io/edge-module@sha256:${'01'.repeat(32)}`,
      runtimeVersion: '1.5',
      storeAndForwardTtlSecs: 60,
      twin: { topK: 1, confidenceThreshold: 0.1 },
    });
    const inputs = {
      hostName: hub.hostName,
      configurationId: edgeDeploymentId('mdeploy', 'dev', content),
      content,
      targetCondition: "tags.environment='dev'",
      priority: 1,
      labels: {},
    };
    const created = await deployments.create!(inputs);
    assert.deepEqual(hub.configurations.get(inputs.configurationId)?.content, content);
    await deployments.delete!(created.id, created.outs);
    assert.equal(hub.configurations.size, 0);
    assert.equal(hub.authFailures.length, 0);
  });

  test('the serialised token-password provider generates a password through ARM', async () => {
    arm.mode = 'async-operation';
    const passwords = provider('containerregistry:TokenPassword');
    const r = await passwords.create!({ armEndpoint: arm.base, registryId: REGISTRY_ID, tokenId: TOKEN_ID, tokenCreated: '2026-01-01T00:00:00Z', passwordName: 'password1', expiry: '' });
    assert.equal(r.outs.password, 'generated-password-1');
    assert.ok(arm.requests.every((q) => q.authProblem === undefined));
  });

  test('the serialised providers took Entra tokens for the right audiences and nothing else', () => {
    assert.deepEqual([...new Set(entra.requests.map((q) => q.resource))].sort(), ['https://iothubs.azure.net', 'https://management.azure.com']);
  });
});

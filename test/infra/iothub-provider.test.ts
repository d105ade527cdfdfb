// The IoT Hub dynamic providers (device identities, the at-scale edge deployment) driven through
// create/read/update/delete/diff against a loopback HTTPS server playing the hub's REST API, with
// real requests and real SAS signatures. The providers are run twice: as imported, and after the
// round trip through Pulumi's closure serialisation (what `pulumi up` actually stores and runs).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import * as pulumi from '@pulumi/pulumi';
import { buildEdgeManifest, edgeDeploymentId } from '../../infra/edge-manifest';
import {
  deviceProvider,
  edgeDeploymentProvider,
  hubSasToken,
  type DeviceInputs,
  type DeviceOutputs,
  type EdgeDeploymentInputs,
  type EdgeDeploymentOutputs,
} from '../../infra/iothub-rest';
import { FakeIotHub } from './fake-iothub';
import { makeCertificate, trustInProcess } from './tls';

type Provider = pulumi.dynamic.ResourceProvider;

/** Serialises a provider the way pulumi.dynamic.Resource does and loads it the way the provider host does. */
async function roundTrip(provider: Provider): Promise<Provider> {
  const serialized = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
  const requireFromString = createRequire(require.resolve('@pulumi/pulumi/package.json'))('require-from-string') as (code: string) => { handler(): Provider };
  return requireFromString(serialized.text).handler();
}

describe('hubSasToken', () => {
  test('signs <url-encoded host>\\n<expiry> with the base64-decoded key', () => {
    const key = Buffer.from('k'.repeat(32)).toString('base64');
    const token = hubSasToken('MyHub.azure-devices.net', 'iothubowner', key, 1_900_000_000);
    const sig = createHmac('sha256', Buffer.from(key, 'base64')).update('myhub.azure-devices.net\n1900000000').digest('base64');
    assert.equal(
      token,
      `SharedAccessSignature sr=myhub.azure-devices.net&sig=${encodeURIComponent(sig)}&se=1900000000&skn=iothubowner`,
    );
  });
});

const cert = makeCertificate();
for (const variant of ['as imported', 'after Pulumi serialisation'] as const) {
  describe(`IoT Hub providers ${variant}`, () => {
    const policyKey = randomBytes(32).toString('base64');
    const hub = new FakeIotHub(cert, 'iothubowner', policyKey);
    let devices: Provider;
    let deployments: Provider;
    let untrust: () => void;
    let access: { hostName: string; policyName: string; policyKey: string };

    before(async () => {
      untrust = trustInProcess(cert.cert);
      const hostName = await hub.start();
      access = { hostName, policyName: 'iothubowner', policyKey };
      devices = variant === 'as imported' ? deviceProvider : await roundTrip(deviceProvider);
      deployments = variant === 'as imported' ? edgeDeploymentProvider : await roundTrip(edgeDeploymentProvider);
    });
    after(async () => {
      await hub.stop();
      untrust();
    });

    describe('device identities', () => {
      const inputs = (over: Partial<DeviceInputs> = {}): DeviceInputs => ({
        ...access,
        deviceId: 'edge-dev-01',
        edgeEnabled: true,
        status: 'enabled',
        tags: { environment: 'dev', modelDeploy: true },
        ...over,
      });
      let created: DeviceOutputs;

      test('check rejects an invalid device id', async () => {
        const r = await devices.check!({}, inputs({ deviceId: 'bad id/with slash' }));
        assert.equal(r.failures?.[0]?.property, 'deviceId');
      });

      test('create registers an IoT Edge identity with hub-generated keys and sets the twin tags', async () => {
        const r = await devices.create!(inputs());
        created = r.outs as DeviceOutputs;
        assert.equal(r.id, 'edge-dev-01');
        const stored = hub.devices.get('edge-dev-01')!;
        assert.equal(stored.capabilities.iotEdge, true);
        assert.deepEqual(hub.twinTags.get('edge-dev-01'), { environment: 'dev', modelDeploy: true });
        assert.equal(created.primaryKey, stored.authentication.symmetricKey.primaryKey);
        assert.equal(created.connectionString, `HostName=${access.hostName};DeviceId=edge-dev-01;SharedAccessKey=${stored.authentication.symmetricKey.primaryKey}`);
        const put = hub.requests.find((q) => q.method === 'PUT' && q.path === '/devices/edge-dev-01')!;
        assert.deepEqual((put.body as { authentication: unknown }).authentication, { type: 'sas', symmetricKey: { primaryKey: null, secondaryKey: null } });
        assert.equal(put.ifMatch, undefined, 'create never overwrites an existing identity');
        assert.equal(hub.authFailures.length, 0);
      });

      test('create of an id that exists fails clearly instead of taking it over', async () => {
        await assert.rejects(devices.create!(inputs()), /IoT Hub: creating device edge-dev-01 \(it already exists.*HTTP 409.*DeviceAlreadyExists/);
      });

      test('read returns the identity and only the tags the stack manages', async () => {
        hub.twinTags.get('edge-dev-01')!.site = 'plant-7';
        const r = await devices.read!('edge-dev-01', created);
        assert.equal(r.id, 'edge-dev-01');
        assert.deepEqual((r.props as DeviceOutputs).tags, { environment: 'dev', modelDeploy: true });
        assert.equal((r.props as DeviceOutputs).primaryKey, created.primaryKey);
      });

      test('diff: tag or status changes update in place; a new id or hub replaces', async () => {
        assert.deepEqual(await devices.diff!('edge-dev-01', created, inputs()), { changes: false, replaces: [] });
        assert.deepEqual(await devices.diff!('edge-dev-01', created, inputs({ tags: { environment: 'dev', modelDeploy: false } })), { changes: true, replaces: [] });
        assert.deepEqual(await devices.diff!('edge-dev-01', created, inputs({ status: 'disabled' })), { changes: true, replaces: [] });
        assert.deepEqual(await devices.diff!('edge-dev-01', created, inputs({ deviceId: 'edge-dev-02' })), { changes: true, replaces: ['deviceId'] });
      });

      test('update changes status and tags, keeps the keys and tags it does not manage', async () => {
        const r = await devices.update!('edge-dev-01', created, inputs({ status: 'disabled', tags: { environment: 'dev', ring: 'canary' } }));
        const stored = hub.devices.get('edge-dev-01')!;
        assert.equal(stored.status, 'disabled');
        assert.equal(stored.authentication.symmetricKey.primaryKey, created.primaryKey, 'keys unchanged');
        assert.deepEqual(hub.twinTags.get('edge-dev-01'), { environment: 'dev', ring: 'canary', site: 'plant-7' }, 'modelDeploy removed, site kept');
        assert.equal((r.outs as DeviceOutputs).status, 'disabled');
        created = r.outs as DeviceOutputs;
      });

      test('throttling (429 with Retry-After) is retried', async () => {
        hub.failNext(429, 2, { 'Retry-After': '0' });
        const before = hub.requests.length;
        const r = await devices.read!('edge-dev-01', created);
        assert.equal(r.id, 'edge-dev-01');
        assert.equal(hub.requests.length - before, 4, 'two throttled GETs, then device and twin');
      });

      test('a wrong key is refused by the hub and the error does not carry the key or the token', async () => {
        const wrong = Buffer.from('wrong-key-wrong-key').toString('base64');
        const error = await devices.read!('edge-dev-01', { ...created, policyKey: wrong }).then(
          () => assert.fail('read with a wrong key succeeded'),
          (e: Error) => e,
        );
        assert.match(error.message, /HTTP 401/);
        assert.ok(!error.message.includes(wrong) && !error.message.includes('SharedAccessSignature'), error.message);
        assert.equal(hub.authFailures.at(-1), 'bad signature');
      });

      test('delete removes the identity; deleting it again is fine; read then reports it gone', async () => {
        await devices.delete!('edge-dev-01', created);
        assert.equal(hub.devices.has('edge-dev-01'), false);
        await devices.delete!('edge-dev-01', created);
        assert.deepEqual(await devices.read!('edge-dev-01', created), { id: '', props: {} });
      });
    });

    describe('the at-scale edge deployment', () => {
      const manifest = (topK: number) =>
        buildEdgeManifest({
          registry: { address: 'crtest.azurecr.io', username: 'edge-pull-token', password: 'pw' },
          moduleImage: `crtest.azurecr.io/edge-module@sha256:${'ef'.repeat(32)}`,
          runtimeVersion: '1.5',
          storeAndForwardTtlSecs: 7200,
          twin: { topK, confidenceThreshold: 0.5 },
        });
      const inputs = (topK = 3, over: Partial<EdgeDeploymentInputs> = {}): EdgeDeploymentInputs => {
        const m = manifest(topK);
        return {
          ...access,
          configurationId: edgeDeploymentId('mdeploy', 'dev', m),
          content: m as unknown as EdgeDeploymentInputs['content'],
          targetCondition: "tags.environment='dev' AND tags.modelDeploy=true",
          priority: 10,
          labels: { modelVersion: '1.0.0' },
          ...over,
        };
      };
      let created: EdgeDeploymentOutputs;
      const UNKNOWN = '04da6b54-80e4-46f7-96ec-b56ff0331ba9'; // what Pulumi passes for not-yet-known inputs in a preview

      test('check rejects bad inputs but lets unknown ones through (previews)', async () => {
        const bad = await deployments.check!({}, { ...inputs(), configurationId: 'Has Spaces', content: {}, priority: -1 });
        assert.deepEqual(bad.failures?.map((f) => f.property), ['configurationId', 'content', 'priority']);
        const preview = await deployments.check!({}, { ...inputs(), configurationId: UNKNOWN, content: UNKNOWN });
        assert.deepEqual(preview.failures, []);
      });

      test('create puts one configuration with the manifest, target condition and priority', async () => {
        const i = inputs();
        const r = await deployments.create!(i);
        created = r.outs as EdgeDeploymentOutputs;
        assert.equal(r.id, i.configurationId);
        const stored = hub.configurations.get(i.configurationId)!;
        assert.deepEqual(stored.content, i.content);
        assert.equal(stored.targetCondition, i.targetCondition);
        assert.equal(stored.priority, 10);
        assert.equal(created.etag, stored.etag);
      });

      test('diff: priority, target condition and labels update in place', async () => {
        const r = await deployments.diff!(created.configurationId, created, inputs(3, { priority: 20, labels: { modelVersion: '1.0.1' } }));
        assert.deepEqual(r, { changes: true, replaces: [], deleteBeforeReplace: false });
        const u = await deployments.update!(created.configurationId, created, inputs(3, { priority: 20, labels: { modelVersion: '1.0.1' } }));
        assert.equal(hub.configurations.get(created.configurationId)!.priority, 20);
        assert.deepEqual(hub.configurations.get(created.configurationId)!.labels, { modelVersion: '1.0.1' });
        const put = hub.requests.filter((q) => q.method === 'PUT' && q.path.startsWith('/configurations/')).at(-1)!;
        assert.match(String(put.ifMatch), /^".+"$/, 'updates carry the ETag read just before');
        created = u.outs as EdgeDeploymentOutputs;
      });

      test('diff: a changed manifest gets a new id and REPLACES the configuration (content is immutable in IoT Hub)', async () => {
        const next = inputs(5, { priority: 20, labels: { modelVersion: '1.0.1' } });
        assert.notEqual(next.configurationId, created.configurationId);
        const r = await deployments.diff!(created.configurationId, created, next);
        assert.deepEqual(r, { changes: true, replaces: ['configurationId', 'content'], deleteBeforeReplace: false });
        // Pulumi then creates the new one before deleting the old: both exist for a moment, the newer wins.
        await deployments.create!(next);
        assert.equal(hub.configurations.size, 2);
        await deployments.delete!(created.configurationId, created);
        assert.deepEqual([...hub.configurations.keys()], [next.configurationId]);
        created = (await deployments.read!(next.configurationId, { ...next, etag: '', createdTimeUtc: '' })).props as EdgeDeploymentOutputs;
      });

      test('the hub really refuses new content under an existing id (why replacement is needed)', async () => {
        const sameId = { ...inputs(7), configurationId: created.configurationId };
        await assert.rejects(deployments.update!(created.configurationId, created, sameId), /HTTP 400.*content cannot be updated/);
        const r = await deployments.diff!(created.configurationId, created, sameId);
        assert.deepEqual(r, { changes: true, replaces: ['content'], deleteBeforeReplace: true }, 'same id: delete first, then create');
      });

      test('read refreshes the mutable fields; delete removes; read reports it gone', async () => {
        hub.configurations.get(created.configurationId)!.priority = 99;
        const r = await deployments.read!(created.configurationId, created);
        assert.equal((r.props as EdgeDeploymentOutputs).priority, 99);
        assert.deepEqual((r.props as EdgeDeploymentOutputs).content, created.content);
        await deployments.delete!(created.configurationId, created);
        assert.equal(hub.configurations.size, 0);
        assert.deepEqual(await deployments.read!(created.configurationId, created), { id: '', props: {} });
      });

      test('every request was signed correctly and used api-version 2021-04-12', () => {
        const signed = hub.requests.length - hub.authFailures.length;
        assert.ok(signed > 10);
        assert.ok(hub.requests.every((q) => q.query['api-version'] === '2021-04-12'));
        assert.deepEqual(hub.authFailures, ['bad signature'], 'only the deliberate wrong-key request failed');
      });
    });
  });
}

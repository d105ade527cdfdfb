// The IoT Hub dynamic providers (device identities, the at-scale edge deployment) driven through
// create/read/update/delete/diff against a loopback HTTPS server playing the hub's REST API, with real
// requests carrying real Entra tokens from DefaultAzureCredential (issued by a loopback token endpoint;
// the hub checks signature, audience and expiry). The providers are run twice: as imported, and after the
// round trip through Pulumi's closure serialisation (what `pulumi up` actually stores and runs).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as pulumi from '@pulumi/pulumi';
import { buildEdgeManifest, edgeDeploymentId } from '../../infra/edge-manifest';
import { deviceProvider, type DeviceInputs, type DeviceOutputs } from '../../infra/iothub-device';
import { edgeDeploymentProvider, type EdgeDeploymentInputs, type EdgeDeploymentOutputs } from '../../infra/iothub-edge-deployment';
import { FakeEntra } from './fake-entra';
import { FakeIotHub, IOT_HUB_AUDIENCE } from './fake-iothub';
import { inTrustingProcess } from './tls';

type Provider = pulumi.dynamic.ResourceProvider;

/** Serialises a provider the way pulumi.dynamic.Resource does and loads it the way the provider host does. */
async function roundTrip(provider: Provider): Promise<Provider> {
  const serialized = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
  const requireFromString = createRequire(require.resolve('@pulumi/pulumi/package.json'))('require-from-string') as (code: string) => { handler(): Provider };
  return requireFromString(serialized.text).handler();
}

const cert = inTrustingProcess(__filename);
if (cert) {
  const entra = new FakeEntra(cert);
  before(async () => {
    await entra.start();
    entra.useInProcess();
  });
  after(() => entra.stop());

  describe('the fake hub refuses what IoT Hub refuses (so the passes below mean something)', () => {
    const hub = new FakeIotHub(cert, entra);
    before(() => hub.start());
    after(() => hub.stop());
    const get = (auth?: string) => fetch(`https://${hub.hostName}/devices/x?api-version=2021-04-12`, { headers: auth ? { Authorization: auth } : {} });

    test('no token, a token for another audience (ARM) or a forged token: 401', async () => {
      assert.equal((await get()).status, 401);
      assert.equal((await get(`Bearer ${entra.issue('https://management.azure.com')}`)).status, 401);
      const forged = entra.issue(IOT_HUB_AUDIENCE).replace(/\.[\w-]+$/, '.AAAA');
      assert.equal((await get(`Bearer ${forged}`)).status, 401);
      assert.equal((await get(`Bearer ${entra.issue(IOT_HUB_AUDIENCE)}`)).status, 404, 'a good token reaches the registry');
      assert.deepEqual(hub.authFailures, ['no bearer token', `audience https://management.azure.com is not ${IOT_HUB_AUDIENCE}`, 'bad signature']);
    });
  });

for (const variant of ['as imported', 'after Pulumi serialisation'] as const) {
  describe(`IoT Hub providers ${variant}`, () => {
    const hub = new FakeIotHub(cert, entra);
    let devices: Provider;
    let deployments: Provider;
    let access: { hostName: string };

    before(async () => {
      const hostName = await hub.start();
      access = { hostName };
      devices = variant === 'as imported' ? deviceProvider : await roundTrip(deviceProvider);
      deployments = variant === 'as imported' ? edgeDeploymentProvider : await roundTrip(edgeDeploymentProvider);
    });
    after(() => hub.stop());

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

      test('a refused token fails with the hub\'s reason and without the token', async () => {
        hub.denyNext(1);
        const error = await devices.read!('edge-dev-01', created).then(
          () => assert.fail('read with a refused token succeeded'),
          (e: Error) => e,
        );
        assert.match(error.message, /IoT Hub: reading device edge-dev-01 failed with HTTP 401: ErrorCode:IotHubUnauthorizedAccess/);
        assert.ok(!/Bearer|eyJ/.test(error.message), error.message);
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

      test('create waits while the deployer\'s new data-plane role propagates (401s), then succeeds', async () => {
        hub.denyNext(1);
        const i = inputs(9);
        await deployments.create!(i);
        assert.ok(hub.configurations.has(i.configurationId));
        await deployments.delete!(i.configurationId, { ...i, etag: '', createdTimeUtc: '' });
      });

      test('every request carried a valid IoT Hub token and used api-version 2021-04-12; tokens came from the Entra endpoint', () => {
        assert.ok(hub.requests.length > 10);
        assert.ok(hub.requests.every((q) => q.query['api-version'] === '2021-04-12'));
        assert.deepEqual(hub.authFailures, ['role not propagated yet', 'role not propagated yet'], 'only the deliberate refusals');
        assert.ok(entra.requests.length >= 1);
        assert.ok(entra.requests.every((r) => r.resource === IOT_HUB_AUDIENCE && r.headerOk), JSON.stringify(entra.requests));
      });
    });
  });
}
}

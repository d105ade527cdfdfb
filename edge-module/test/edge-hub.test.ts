// The edgeHub stand-in itself, with the real SDK in-process: it checks the SAS token and serves its
// certificate for the names it was given (the container tests rely on both).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import iotDevice from 'azure-iot-device';
import { Mqtt } from 'azure-iot-device-mqtt';
import { readFileSync } from 'node:fs';
import { EdgeHub } from './support/edge-hub.js';

async function connect(connectionString: string, ca: string): Promise<InstanceType<typeof iotDevice.ModuleClient>> {
  const client = iotDevice.ModuleClient.fromConnectionString(connectionString, Mqtt);
  await client.setOptions({ ca });
  await client.open();
  return client;
}

describe('edgeHub stand-in', () => {
  let hub: EdgeHub;
  before(async () => {
    hub = await EdgeHub.start({ listenHost: '0.0.0.0', altNames: ['127.0.0.2', 'edge-hub.test'], desired: { topK: 2 } });
  });
  after(async () => hub.close());

  it('accepts the module key, answers the twin and carries inputs and outputs', async () => {
    const client = await connect(hub.connectionString(), readFileSync(hub.caFile, 'utf8'));
    try {
      const twin = await client.getTwin();
      assert.equal(twin.properties.desired.topK, 2);
      const received = new Promise<string>((resolve) => client.on('inputMessage', (_input: string, m: { data: Buffer }) => resolve(m.data.toString())));
      twin.on('properties.desired', () => undefined);
      client.onMethod('noop', (_req, res) => void res?.send(200));
      await hub.waitForModule();
      await hub.sendImage('ping', { messageId: 'p1' });
      assert.equal(await received, 'ping');
      const out = new iotDevice.Message('{"ok":true}');
      out.correlationId = 'p1';
      await client.sendOutputEvent('predictions', out);
      const [message] = await hub.waitForOutputs('predictions', 1);
      assert.equal(message!.correlationId, 'p1');
      assert.deepEqual(message!.json, { ok: true });
    } finally {
      await client.close();
    }
  });

  it('refuses a wrong key', async () => {
    const failures = hub.authFailures;
    const wrong = hub.connectionString().replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`);
    await assert.rejects(connect(wrong, readFileSync(hub.caFile, 'utf8')));
    assert.equal(hub.authFailures, failures + 1);
  });

  it('serves its certificate for the extra names, and only for them', async () => {
    const ca = readFileSync(hub.caFile, 'utf8');
    const client = await connect(hub.connectionString('127.0.0.2'), ca);
    await client.close();
    const failures = hub.authFailures;
    await assert.rejects(connect(hub.connectionString('127.0.0.3'), ca));
    assert.equal(hub.authFailures, failures, 'refused by TLS, before any token was checked');
  });

  it('gives the module process its environment', () => {
    const env = hub.moduleEnv({ gatewayHost: 'edge-hub.test', caFile: '/certs/ca.pem' });
    assert.match(env.EdgeHubConnectionString!, new RegExp(`GatewayHostName=edge-hub\\.test:${hub.port};DeviceId=edge-device;ModuleId=classifier;`));
    assert.equal(env.EdgeModuleCACertificateFile, '/certs/ca.pem');
  });
});

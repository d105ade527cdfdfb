// The tapped transport with the real SDK and mqtt.js against the edgeHub stand-in: input deliveries go
// to the tap only (the SDK does not parse them a second time), everything else still reaches the SDK.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import iotDevice from 'azure-iot-device';
import { tappedMqttTransport } from '../src/mqtt-transport.js';
import { EdgeHub } from './support/edge-hub.js';

describe('tapped MQTT transport', () => {
  let hub: EdgeHub;
  before(async () => {
    hub = await EdgeHub.start({ desired: { topK: 3 } });
  });
  after(async () => hub.close());

  it('hands input deliveries to the tap alone; twin and methods still reach the SDK', async () => {
    const tapped: Array<{ topic: string; payload: Buffer }> = [];
    let bothTapped: () => void = () => undefined;
    const twoDeliveries = new Promise<void>((resolve) => (bothTapped = resolve));
    const transport = tappedMqttTransport((topic, payload, ack) => {
      tapped.push({ topic, payload });
      ack();
      if (tapped.length === 2) bothTapped();
    });
    const client = iotDevice.ModuleClient.fromConnectionString(hub.connectionString(), transport);
    await client.setOptions({ ca: readFileSync(hub.caFile, 'utf8') });
    let sdkInputs = 0;
    client.on('inputMessage', () => sdkInputs++);
    await client.open();
    try {
      client.onMethod('ping', (_request, response) => void response?.send(200, { pong: true }));
      const twin = await client.getTwin();
      twin.on('properties.desired', () => undefined);
      await hub.waitForModule();

      await hub.sendImage(Buffer.from('image bytes'), { messageId: 'm-1', properties: { fileName: 'a.png' } });
      await hub.sendImage(Buffer.from('more bytes'), { messageId: 'm-2' });
      await twoDeliveries;
      assert.deepEqual(tapped.map((t) => t.payload.toString()), ['image bytes', 'more bytes']);
      assert.match(tapped[0]!.topic, /^devices\/edge-device\/modules\/classifier\/inputs\/images\/.*%24\.mid=m-1/);

      // Twin answers and method calls are deliveries too, on other topics: the SDK must still get them.
      assert.equal(twin.properties.desired.topK, 3);
      const answer = await hub.invokeMethod('ping', {});
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.payload, { pong: true });
      assert.equal(sdkInputs, 0, 'the SDK emitted no inputMessage for deliveries the tap took');
    } finally {
      await client.close();
    }
  });
});

/**
 * The SDK's MQTT transport with one addition: a tap on module-input deliveries that runs BEFORE the
 * PUBACK goes to edgeHub.
 *
 * Why: over MQTT the SDK acknowledges a QoS-1 delivery as it arrives (`complete()` is a no-op), so a crash
 * between the acknowledgement and the prediction loses the message. mqtt.js sends the PUBACK for a QoS-1
 * publish only when its documented hook `MqttClient#handleMessage(packet, callback)` calls back, and
 * azure-iot-mqtt-base lets the transport take an mqtt.js "provider" (`new MqttBase(provider)`,
 * `new Mqtt(authProvider, mqttBase)`). So the provider below installs `handleMessage` on each client it
 * creates, and the tap journals the delivery before letting the acknowledgement go.
 *
 * Those deliveries are not emitted to the SDK as well (its copy had no listener and cost per message).
 *
 * mqtt.js handles incoming packets one at a time and waits for that callback, so the tap must call back
 * quickly and must never wait for anything that itself needs incoming packets (such as the PUBACKs of the
 * module's own outputs) — that would deadlock the connection.
 */
import { createRequire } from 'node:module';
import type { AuthenticationProvider } from 'azure-iot-common';
import { Mqtt } from 'azure-iot-device-mqtt';
import { MqttBase } from 'azure-iot-mqtt-base';
import { isInputTopic } from './input-record.js';

/** Receives each QoS>0 module-input delivery; the broker gets its PUBACK when `ack()` is called (not at all after `ack(error)`). */
export type DeliveryTap = (topic: string, payload: Buffer, ack: (error?: Error) => void) => void;

interface MqttJsPacket {
  cmd: string;
  topic: string;
  payload: Buffer;
  qos: number;
}

interface MqttJsClient {
  handleMessage: (packet: MqttJsPacket, callback: (error?: Error) => void) => void;
  emit: (event: string | symbol, ...args: unknown[]) => boolean;
  stream?: { setNoDelay?: (noDelay: boolean) => unknown };
}

interface MqttJs {
  connect(uri: string, options: unknown): MqttJsClient;
}

// The very mqtt.js that azure-iot-mqtt-base would load itself (resolved from its own location).
const requireFromMqttBase = createRequire(createRequire(import.meta.url).resolve('azure-iot-mqtt-base'));
const mqttJs = requireFromMqttBase('mqtt') as MqttJs;

export type TransportConstructor = new (authenticationProvider: AuthenticationProvider) => Mqtt;

/** A transport constructor for `ModuleClient.fromEnvironment` / `fromConnectionString` whose input deliveries go through `tap`. */
export function tappedMqttTransport(tap: DeliveryTap): TransportConstructor {
  const provider: MqttJs = {
    connect(uri, options) {
      const client = mqttJs.connect(uri, options);
      // PUBACKs and outputs are small packets: with Nagle's algorithm each could wait for the peer's
      // delayed ACK (up to 40 ms) before leaving.
      client.stream?.setNoDelay?.(true);
      if (typeof client.handleMessage !== 'function') {
        throw new Error('mqtt.js has no handleMessage hook: this version cannot hold acknowledgements until inputs are journaled');
      }
      const tapped = (packet: MqttJsPacket | undefined): boolean => packet?.cmd === 'publish' && packet.qos > 0 && isInputTopic(packet.topic);
      client.handleMessage = (packet, callback) => {
        if (tapped(packet)) tap(packet.topic, packet.payload, callback);
        else callback();
      };
      // A delivery the tap has is not handed to the SDK as well: nothing listens to the SDK's copy, and
      // making it costs per message a debug line that JSON-encodes the payload as text (evaluated even
      // with debugging off), a Message and the topic's properties parsed a second time.
      const emit = client.emit.bind(client);
      client.emit = (event, ...args) => (event === 'message' && tapped(args[2] as MqttJsPacket | undefined) ? false : emit(event, ...args));
      return client;
    },
  };
  return class TappedMqtt extends Mqtt {
    constructor(authenticationProvider: AuthenticationProvider) {
      super(authenticationProvider, new MqttBase(provider));
    }
  };
}

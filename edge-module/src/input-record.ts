/**
 * One input message as the module keeps it in its journal: the system properties, the application
 * properties and the body. It is built either from the raw MQTT delivery (topic + payload, before the
 * delivery is acknowledged) or from an SDK Message (transports without the tap, tests).
 */
import type { Message } from 'azure-iot-common';

export interface InputRecord {
  /** Input name, e.g. "images". */
  inputName: string;
  messageId?: string;
  correlationId?: string;
  contentType?: string;
  contentEncoding?: string;
  /** Application properties in arrival order (keys may repeat, as in the SDK's Properties). */
  properties: Array<[string, string]>;
  body: Buffer;
  /** When the module received it (ms since the epoch). */
  receivedAt: number;
}

// Same shape the SDK accepts for module inputs (azure-iot-device-mqtt `_topics.inputMessage`): a delivery
// without a segment after the input name is dropped by the SDK, so it is not journaled either.
const INPUT_TOPIC = /^devices\/.*\/modules\/.*\/inputs\/.*\/.*$/;

export function isInputTopic(topic: string): boolean {
  return INPUT_TOPIC.test(topic);
}

/**
 * Parses `devices/<d>/modules/<m>/inputs/<input>/<props>` exactly as the SDK's MQTT transport does
 * (`_onInputMessage` + `_extractPropertiesFromTopicPart`: split on "/", decodeURIComponent each key and value).
 * Returns undefined for topics that are not module inputs.
 */
export function recordFromDelivery(topic: string, payload: Buffer, receivedAt = Date.now()): InputRecord | undefined {
  if (!isInputTopic(topic)) return undefined;
  const parts = topic.split('/');
  const record: InputRecord = { inputName: parts[5] ?? '', properties: [], body: payload, receivedAt };
  const segment = parts[6];
  if (segment) {
    for (const pair of segment.split('&')) {
      const [rawKey = '', rawValue] = pair.split('=');
      const key = safeDecode(rawKey);
      const value = safeDecode(rawValue ?? 'undefined');
      switch (key) {
        case '$.mid': record.messageId = value; break;
        case '$.cid': record.correlationId = value; break;
        case '$.ct': record.contentType = value; break;
        case '$.ce': record.contentEncoding = value; break;
        case '$.to': case '$.exp': case '$.uid': break;
        default: record.properties.push([key, value]);
      }
    }
  }
  return record;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Builds the record from an SDK Message (the path used when the transport tap is not installed). */
export function recordFromMessage(inputName: string, message: Message, receivedAt = Date.now()): InputRecord {
  const record: InputRecord = {
    inputName,
    properties: [],
    body: Buffer.isBuffer(message.data) ? message.data : Buffer.from(message.getBytes()),
    receivedAt,
  };
  if (message.messageId) record.messageId = message.messageId;
  if (message.correlationId) record.correlationId = message.correlationId;
  if (message.contentType) record.contentType = message.contentType;
  if (message.contentEncoding) record.contentEncoding = message.contentEncoding;
  const list = message.properties.propertyList as Array<{ key: string; value: string }>;
  for (const { key, value } of list) record.properties.push([key, String(value)]);
  return record;
}

/** First value of an application property, if present. */
export function property(record: InputRecord, key: string): string | undefined {
  return record.properties.find(([k]) => k === key)?.[1];
}

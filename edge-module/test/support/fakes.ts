// In-process stand-ins for unit tests of the module wiring: a module client that records what the module
// sends (and can hold or fail the acknowledgements), a twin, a classifier and a logger.
import { EventEmitter } from 'node:events';
import iotCommon from 'azure-iot-common';
import type { Message } from 'azure-iot-common';
import type { DeviceMethodRequest, DeviceMethodResponse } from 'azure-iot-device';
import { InvalidImageError, OverloadedError, type Prediction } from '@model-deploy/inference';
import type { EdgeClassifier, ModuleClientLike, ModuleLogger, TwinLike } from '../../src/module.js';
import type { DeliveryTap } from '../../src/mqtt-transport.js';

export const LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export class FakeTwin extends EventEmitter implements TwinLike {
  readonly reportedPatches: Array<Record<string, unknown>> = [];
  readonly properties: TwinLike['properties'];

  constructor(desired: Record<string, unknown>) {
    super();
    this.properties = {
      desired: { ...desired },
      reported: { update: (patch, done) => {
        this.reportedPatches.push(structuredClone(patch));
        setImmediate(() => done());
      } },
    };
  }

  /** As the SDK does for a desired-properties patch: merge, then fire. */
  patch(patch: Record<string, unknown>): void {
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete this.properties.desired[key];
      else this.properties.desired[key] = value;
    }
    this.emit('properties.desired', patch);
  }

  get lastReported(): Record<string, unknown> {
    return Object.assign({}, ...this.reportedPatches) as Record<string, unknown>;
  }
}

export interface SentOutput {
  output: string;
  message: Message;
  body: Record<string, unknown>;
}

type AckMode = 'ack' | 'hold' | { failTimes: number };

export class FakeModuleClient extends EventEmitter implements ModuleClientLike {
  readonly sent: SentOutput[] = [];
  readonly attempts: SentOutput[] = [];
  readonly twin: FakeTwin;
  ackMode: AckMode = 'ack';
  openFailures = 0;
  opens = 0;
  closed = false;
  private readonly held: Array<() => void> = [];
  /** The module's transport tap, which a real client's MQTT transport calls (see useTap). */
  private tap: DeliveryTap | undefined;
  private readonly methods = new Map<string, (request: DeviceMethodRequest, response: DeviceMethodResponse) => void>();

  constructor(desired: Record<string, unknown> = { $version: 1 }) {
    super();
    this.twin = new FakeTwin(desired);
  }

  async open(): Promise<unknown> {
    this.opens++;
    if (this.openFailures > 0) {
      this.openFailures--;
      throw new Error('UnauthorizedError: nothing listening');
    }
    return {};
  }

  async close(): Promise<unknown> {
    this.closed = true;
    return {};
  }

  sendOutputEvent(output: string, message: Message): Promise<unknown> {
    const item = { output, message, body: JSON.parse(String(message.data)) as Record<string, unknown> };
    this.attempts.push(item);
    const mode = this.ackMode;
    if (typeof mode === 'object' && mode.failTimes > 0) {
      mode.failTimes--;
      return Promise.reject(new Error('NotConnectedError: connection lost'));
    }
    if (mode === 'hold') {
      return new Promise((resolve) => this.held.push(() => {
        this.sent.push(item);
        resolve({});
      }));
    }
    this.sent.push(item);
    return Promise.resolve({});
  }

  releaseHeld(): void {
    for (const release of this.held.splice(0)) release();
  }

  get heldCount(): number {
    return this.held.length;
  }

  async getTwin(): Promise<TwinLike> {
    return this.twin;
  }

  onMethod(name: string, callback: (request: DeviceMethodRequest, response: DeviceMethodResponse) => void): void {
    this.methods.set(name, callback);
  }

  /** Invokes a registered direct method like IoT Hub would; resolves with what the module sent back. */
  invoke(name: string, payload: unknown): Promise<{ status: number; payload: unknown }> {
    const handler = this.methods.get(name);
    if (!handler) return Promise.reject(new Error(`no handler for method ${name}`));
    return new Promise((resolve) => {
      const response = {
        send: (status: number, body?: unknown) => {
          resolve({ status, payload: body });
          return Promise.resolve();
        },
      } as unknown as DeviceMethodResponse;
      handler({ methodName: name, payload } as unknown as DeviceMethodRequest, response);
    });
  }

  /** Input deliveries go to `tap`, as the tapped MQTT transport (mqtt-transport.ts) hands them to the module. */
  useTap(tap: DeliveryTap): void {
    this.tap = tap;
  }

  /**
   * Delivers an input message as edgeHub and the SDK would: the MQTT delivery (topic with its properties,
   * payload) through the tap before the acknowledgement, then the SDK's inputMessage event.
   */
  deliver(input: string, body: Buffer | string, props: { messageId?: string; contentType?: string; properties?: Record<string, string> } = {}): void {
    const payload = typeof body === 'string' ? Buffer.from(body) : body;
    const pairs: Array<[string, string]> = [];
    if (props.messageId) pairs.push(['$.mid', props.messageId]);
    if (props.contentType) pairs.push(['$.ct', props.contentType]);
    pairs.push(...Object.entries(props.properties ?? {}));
    const segment = pairs.map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join('&');
    if (!this.tap) throw new Error('FakeModuleClient.deliver: call useTap(module.tap) first');
    this.tap(`devices/dev/modules/classifier/inputs/${input}/${segment}`, payload, () => undefined);
    const message = new iotCommon.Message(payload);
    if (props.messageId) message.messageId = props.messageId;
    if (props.contentType) message.contentType = props.contentType as 'application/json';
    for (const [key, value] of Object.entries(props.properties ?? {})) message.properties.add(key, value);
    this.emit('inputMessage', input, message);
  }

  outputsOn(output: string): SentOutput[] {
    return this.sent.filter((s) => s.output === output);
  }
}

/**
 * A classifier that needs no model: an image is any buffer starting with "IMG", its label is picked by
 * its last byte; anything else is an invalid image. `overloadTimes` makes the next calls fail as overloaded.
 */
export class FakeClassifier implements EdgeClassifier {
  readonly card = { name: 'fake-model', version: '9.9.9', sha256: 'ab'.repeat(32), labels: LABELS } as unknown as EdgeClassifier['card'];
  readonly ready = true;
  queueDepth = 0;
  calls = 0;
  overloadTimes = 0;
  /** Resolve classification only when released (to hold inputs "in the classifier"). */
  gate: Promise<void> | undefined;

  async classifyAll(images: Uint8Array[], options?: { topK?: number }): ReturnType<EdgeClassifier['classifyAll']> {
    this.calls++;
    if (this.overloadTimes > 0) {
      this.overloadTimes--;
      throw new OverloadedError('overloaded', 0.001);
    }
    if (this.gate) await this.gate;
    return images.map((bytes) => {
      const buffer = Buffer.from(bytes);
      if (buffer.subarray(0, 3).toString() !== 'IMG') return { ok: false as const, error: new InvalidImageError('unsupported image format: expected PNG, JPEG, GIF, WebP, AVIF or TIFF') };
      const index = buffer[buffer.length - 1]! % LABELS.length;
      const probabilities = new Float32Array(LABELS.length).fill(0.02);
      probabilities[index] = 0.82;
      const top = [...probabilities].map((p, i) => ({ label: LABELS[i]!, probability: p }))
        .sort((a, b) => b.probability - a.probability).slice(0, options?.topK ?? 1);
      const prediction: Prediction = { label: LABELS[index]!, index, confidence: probabilities[index]!, top, probabilities };
      return { ok: true as const, prediction };
    });
  }
}

export function image(labelIndex: number): Buffer {
  return Buffer.concat([Buffer.from('IMG'), Buffer.from([labelIndex])]);
}

export class MemoryLogger implements ModuleLogger {
  level = 'info';
  readonly lines: Array<{ level: string; msg: string; obj: object }> = [];
  error(obj: object, msg: string): void { this.lines.push({ level: 'error', msg, obj }); }
  warn(obj: object, msg: string): void { this.lines.push({ level: 'warn', msg, obj }); }
  info(obj: object, msg: string): void { this.lines.push({ level: 'info', msg, obj }); }
  debug(obj: object, msg: string): void { this.lines.push({ level: 'debug', msg, obj }); }
}

/**
 * What the module needs from outside, typed structurally so tests can inject stand-ins: the SDK's
 * ModuleClient and Twin, the inference core's classifier, and a pino-shaped logger.
 */
import type { Message } from 'azure-iot-common';
import type { DeviceMethodRequest, DeviceMethodResponse } from 'azure-iot-device';
import type { Classifier } from '@model-deploy/inference';

/** What the module needs of the inference core's Classifier. */
export type EdgeClassifier = Pick<Classifier, 'card' | 'ready' | 'classifyAll' | 'queueDepth'>;

/** The part of the module twin the module uses (azure-iot-device's Twin fits). */
export interface TwinLike {
  properties: {
    desired: Record<string, unknown>;
    reported: { update(patch: Record<string, unknown>, done: (error?: Error) => void): void };
  };
  on(event: 'properties.desired', listener: (patch: Record<string, unknown>) => void): unknown;
}

/** The part of the SDK's ModuleClient the module uses (azure-iot-device's ModuleClient fits). */
export interface ModuleClientLike {
  on(event: 'inputMessage', listener: (inputName: string, message: Message) => void): unknown;
  on(event: 'error' | 'disconnect', listener: (error?: Error) => void): unknown;
  on(event: 'connect', listener: () => void): unknown;
  open(): Promise<unknown>;
  close(): Promise<unknown>;
  sendOutputEvent(outputName: string, message: Message): Promise<unknown>;
  getTwin(): Promise<TwinLike>;
  onMethod(methodName: string, callback: (request: DeviceMethodRequest, response: DeviceMethodResponse) => void): void;
}

/** pino-shaped logger (Fastify's `app.log` fits); `level` is changed by the twin's logLevel. */
export interface ModuleLogger {
  level: string;
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** Answers the `score` direct method exactly as `POST /score` would (status + JSON body). */
export type ScoreHandler = (payload: unknown, topK: number) => Promise<{ status: number; body: unknown }>;

/** Names the underlying cause: the SDK reports every connection failure as UnauthorizedError. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const inner = (error as { transportError?: unknown; innerError?: unknown }).transportError ?? (error as { innerError?: unknown }).innerError;
  const base = `${error.name}: ${error.message}`;
  return inner instanceof Error && inner.message !== error.message ? `${base} (${inner.name}: ${inner.message})` : base;
}

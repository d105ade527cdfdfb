/**
 * Output messages: one per image on `predictions` or `errors`, each sent until edgeHub acknowledges it.
 */
import iotCommon from 'azure-iot-common';
import type { Message } from 'azure-iot-common';
import { retryWithBackOff } from './back-off.js';
import type { InputRecord } from './input-record.js';
import type { ModuleClientLike } from './module-client.js';
import type { ModuleState } from './module-state.js';

const { Message: IotMessage } = iotCommon;

export const OUTPUT_PREDICTIONS = 'predictions';
export const OUTPUT_ERRORS = 'errors';

export interface Outgoing {
  output: typeof OUTPUT_PREDICTIONS | typeof OUTPUT_ERRORS;
  body: Record<string, unknown>;
  messageId: string;
  properties: Array<[string, string]>;
}

function toMessage(out: Outgoing, record: InputRecord): Message {
  const message = new IotMessage(JSON.stringify(out.body));
  message.contentType = 'application/json';
  message.contentEncoding = 'utf-8';
  message.messageId = out.messageId;
  if (record.messageId) message.correlationId = record.messageId;
  for (const [key, value] of out.properties) message.properties.add(key, value);
  return message;
}

/** Sends one output until edgeHub acknowledges it (the SDK's promise resolves on the PUBACK). */
export async function sendUntilAcknowledged(client: ModuleClientLike, state: ModuleState, out: Outgoing, record: InputRecord): Promise<void> {
  const attempts = await retryWithBackOff(
    async (attempt) => {
      await client.sendOutputEvent(out.output, toMessage(out, record));
      return attempt;
    },
    {
      backOff: state.backOff,
      signal: state.signal,
      onFailure: (error, attempt, delayMs) => {
        if (state.closed) throw new Error('module stopped before the output was acknowledged; the input stays journaled');
        state.counters.sendRetries++;
        state.noteError(`sending to output ${out.output} failed (attempt ${attempt}); retrying in ${delayMs} ms`, error, 'warn');
      },
    },
  );
  if (attempts > 1) state.log.info({ output: out.output, attempts }, 'output sent after retrying');
}

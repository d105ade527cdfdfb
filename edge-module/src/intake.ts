/**
 * The module's one input path: the transport tap (mqtt-transport.ts) sees every input delivery before
 * edgeHub gets its PUBACK, journals it, queues it, and lets the acknowledgement go — after an fdatasync
 * when the journal's fsync mode is "always", and only while the backlog of inputs waiting for the
 * classifier is below maxBacklog (held acknowledgements slow edgeHub down instead of the module
 * growing without bound). At start the journal's leftovers from the previous run are queued first.
 */
import type { BufferPool } from '@model-deploy/codecs';
import { recordFromDelivery } from './input-record.js';
import type { Journal, JournalEntry } from './journal.js';
import type { ModuleState } from './module-state.js';
import type { DeliveryTap } from './mqtt-transport.js';
import type { Work, WorkQueue } from './work-queue.js';

export interface IntakeOptions {
  journal: Journal;
  state: ModuleState;
  queue: WorkQueue;
  /** Above this many inputs waiting for the classifier, acknowledgements of new deliveries wait. */
  maxBacklog: number;
  /** Photo-sized payloads are copied into these; the work queue gives each back once its entry is retired. */
  payloadBuffers: BufferPool;
}

export class Intake {
  /** Message ids of the inputs replayed from the journal: a redelivery of one of them is not processed twice. */
  private readonly replayedIds = new Set<string>();
  private readonly heldAcks: Array<() => void> = [];
  private backlog = 0;
  /** Sequence numbers for inputs the journal could not take (negative, so they never meet the journal's). */
  private nextLocalSeq = -1;

  constructor(private readonly options: IntakeOptions) {}

  readonly tap: DeliveryTap = (topic, payload, ack) => {
    const { journal, state, queue, maxBacklog } = this.options;
    if (state.stopping) {
      // Not acknowledged: edgeHub keeps the message and delivers it again after the restart.
      ack(new Error('module is stopping'));
      return;
    }
    const record = recordFromDelivery(topic, payload);
    if (!record) {
      ack();
      return;
    }
    if (record.messageId !== undefined && this.replayedIds.delete(record.messageId)) {
      // edgeHub never got the PUBACK of a delivery the previous run had journaled, and sends it again:
      // the journal's copy is being processed already.
      state.counters.redeliveriesSkipped++;
      ack();
      return;
    }
    // A photo's payload (~250 KB) is copied into a reused buffer and the MQTT client's copy dropped at
    // once: a fresh Buffer per photo that stays alive until its outputs are acknowledged is off-heap
    // memory only a full collection frees, and photo loads ran one every ~100 messages (bench/README.md).
    // The module's pool is over SharedArrayBuffers, so the preprocessing thread reads these same bytes
    // (a plain Buffer would be copied again into a fresh one in that thread, for its collector to free).
    const pooled = this.options.payloadBuffers.take(payload.length);
    if (pooled) {
      payload.copy(pooled);
      record.body = pooled.subarray(0, payload.length);
    }
    let entry: JournalEntry;
    try {
      entry = journal.append(record);
    } catch (error) {
      // Without a journal entry the PUBACK is withheld, so edgeHub redelivers it after a reconnect; it is still processed now
      // (its pooled buffer, if any, is never given back: nothing retires it, and the collector frees it).
      state.noteError(`journal append failed: ${(error as Error).message}`, error);
      this.accept({ entry: undefined, record, seq: this.nextLocalSeq--, replayed: false });
      ack(error as Error);
      return;
    }
    this.accept({ entry, record, seq: entry.seq, replayed: false, pooled });
    const release = (): void => {
      if (journal.fsyncMode === 'always') {
        journal.durable().then(() => ack(), (error: Error) => {
          state.noteError(`journal fdatasync failed: ${error.message}`, error);
          ack(error);
        });
      } else ack();
    };
    // Never hold before processing has started: the twin's answer travels behind this delivery on the same connection.
    if (queue.running && this.backlog > maxBacklog) this.heldAcks.push(release);
    else release();
  };

  /** Queues the inputs the previous run journaled and did not finish; answers how many. */
  replay(): number {
    const { journal, state } = this.options;
    for (const entry of journal.recovered) {
      state.counters.replayed++;
      if (entry.record.messageId !== undefined) this.replayedIds.add(entry.record.messageId);
      this.accept({ entry, record: entry.record, seq: entry.seq, replayed: true });
    }
    return journal.recovered.length;
  }

  /** An input left the classification stage: once the backlog has halved, held acknowledgements go. */
  classified(): void {
    this.backlog--;
    if (this.heldAcks.length > 0 && this.backlog <= this.options.maxBacklog / 2) this.releaseHeldAcks();
  }

  releaseHeldAcks(): void {
    for (const release of this.heldAcks.splice(0)) release();
  }

  private accept(work: Work): void {
    if (!work.replayed) this.options.state.counters.received++;
    this.backlog++;
    this.options.queue.push(work);
  }
}

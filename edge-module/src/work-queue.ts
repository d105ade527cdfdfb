/**
 * The queue of journaled inputs and their processing: decode the message, classify its images (waiting
 * out a busy classifier), send one output per image until edgeHub acknowledges it, then retire the
 * input from the journal. At most `maxImagesInFlight` images are with the classifier at once.
 */
import { setTimeout as wait } from 'node:timers/promises';
import type { BufferPool } from '@model-deploy/codecs';
import { OverloadedError } from '@model-deploy/inference';
import { retryWithBackOff, type BackOff } from './back-off.js';
import type { InputRecord } from './input-record.js';
import type { Journal, JournalEntry } from './journal.js';
import { decodeImagesInput, errorBody, isTransient, predictionBody, problemOf, type InputProblem, type PredictionContext } from './messages.js';
import type { EdgeClassifier, ModuleClientLike } from './module-client.js';
import type { ModuleState } from './module-state.js';
import { OUTPUT_ERRORS, OUTPUT_PREDICTIONS, sendUntilAcknowledged, type Outgoing } from './outputs.js';
import type { ModuleSettings } from './settings.js';

export const INPUT_IMAGES = 'images';

/** A busy classifier is shared with HTTP traffic and frees up within a batch: retry soon, never slower than 1 s. */
const CLASSIFIER_BACK_OFF: BackOff = { initialMs: 5, maxMs: 1000 };

/** One input on its way: its journal entry (none if the append failed), the record, and whether it was replayed at start. */
export interface Work {
  entry: JournalEntry | undefined;
  record: InputRecord;
  seq: number;
  replayed: boolean;
  /** The reused buffer `record.body` is a view of (intake.ts): given back once the entry is retired, when nothing reads it any more. */
  pooled?: Buffer;
}

export interface WorkQueueOptions {
  client: ModuleClientLike;
  classifier: EdgeClassifier;
  journal: Journal;
  state: ModuleState;
  /** The live settings (the twin may change them between inputs). */
  settings: () => ModuleSettings;
  maxImagesInFlight: number;
  /** Called exactly once per input when it leaves the classification stage (the intake's backlog). */
  onClassified: () => void;
  /** Where a retired input's pooled payload buffer goes back. */
  payloadBuffers: BufferPool;
}

type Outcomes = Awaited<ReturnType<EdgeClassifier['classifyAll']>>;

export class WorkQueue {
  private readonly queue: Work[] = [];
  private imagesInFlight = 0;
  private readonly active = new Set<Promise<void>>();
  private started = false;

  constructor(private readonly options: WorkQueueOptions) {}

  /** True once processing has started (after the twin was read, so the first inputs use its settings). */
  get running(): boolean {
    return this.started;
  }

  get stats(): { queued: number; imagesInFlight: number } {
    return { queued: this.queue.length, imagesInFlight: this.imagesInFlight };
  }

  get inProgress(): number {
    return this.active.size;
  }

  push(work: Work): void {
    this.queue.push(work);
    this.pump();
  }

  start(): void {
    this.started = true;
    this.pump();
  }

  /** Waits until nothing is in progress or the deadline passes; answers how many inputs are still in progress. */
  async settle(deadline: number): Promise<number> {
    while (this.active.size > 0 && Date.now() < deadline) {
      const grace = new AbortController();
      await Promise.race([Promise.allSettled([...this.active]), wait(Math.max(1, deadline - Date.now()), undefined, { signal: grace.signal }).catch(() => undefined)]);
      grace.abort();
    }
    return this.active.size;
  }

  private pump(): void {
    if (!this.started) return;
    const { state, maxImagesInFlight } = this.options;
    while (this.queue.length > 0 && this.imagesInFlight < maxImagesInFlight) {
      const work = this.queue.shift()!;
      const task = this.process(work).catch((error: unknown) => {
        // After stop() the input stays journaled for the next start; anything else is a bug worth a log line.
        if (!state.closed) state.noteError('processing an input failed', error);
      });
      this.active.add(task);
      void task.finally(() => this.active.delete(task));
    }
  }

  private async process(work: Work): Promise<void> {
    const { classifier, client, journal, state } = this.options;
    const { record, seq } = work;
    const settings = this.options.settings();
    const card = classifier.card;
    const base = { model: { name: card.name, version: card.version }, record, replayed: work.replayed };
    const outgoing: Outgoing[] = [];
    // Deterministic, so an output sent again after a restart keeps its id: receiving time and journal
    // sequence number stand in for a missing input message id.
    const idBase = record.messageId ?? `${record.receivedAt.toString(36)}-${seq}`;

    const fail = (problem: InputProblem, name: string | undefined, index: number, count: number): void => {
      outgoing.push({
        output: OUTPUT_ERRORS,
        body: errorBody(problem, name, { ...base, index, count }),
        messageId: `${idBase}:error:${index}`,
        properties: [['error', problem.code]],
      });
    };

    // Leaving the classification stage must be counted exactly once, whatever happens (the backlog gates acknowledgements).
    let left = false;
    const leaveClassification = (): void => {
      if (left) return;
      left = true;
      this.options.onClassified();
    };
    try {
      if (record.inputName !== INPUT_IMAGES) {
        fail({ code: 'unknown_input', message: `input ${JSON.stringify(record.inputName)} is not handled: send images to input "${INPUT_IMAGES}"` }, undefined, 0, 1);
      } else {
        const decoded = decodeImagesInput(record, seq, settings);
        if (!decoded.ok) {
          fail(decoded.problem, undefined, 0, 1);
        } else {
          const images = decoded.images;
          const valid = images.flatMap((image, index) => ('bytes' in image ? [{ index, bytes: image.bytes }] : []));
          this.imagesInFlight += valid.length;
          let outcomes: Outcomes = [];
          try {
            outcomes = valid.length > 0 ? await this.classify(valid.map((v) => v.bytes), settings.topK) : [];
          } finally {
            this.imagesInFlight -= valid.length;
            leaveClassification();
            this.pump();
          }
          const byIndex = new Map(valid.map((v, i) => [v.index, outcomes[i]]));
          images.forEach((image, index) => {
            const ctx: PredictionContext = { ...base, index, count: images.length };
            if ('problem' in image) return fail(image.problem, image.name, index, images.length);
            const outcome = byIndex.get(index);
            if (!outcome || !outcome.ok) return fail(problemOf(outcome?.error), image.name, index, images.length);
            const body = predictionBody(image.name, outcome.prediction, settings, card.labels, ctx);
            outgoing.push({
              output: OUTPUT_PREDICTIONS,
              body,
              messageId: `${idBase}:${index}`,
              // Property values travel in the MQTT topic: a client-chosen name is shortened there (the body keeps it whole).
              properties: [['fileName', image.name.slice(0, 200)], ['label', String(body.label)]],
            });
          });
        }
      }
    } finally {
      leaveClassification();
    }

    await Promise.all(outgoing.map((out) => sendUntilAcknowledged(client, state, out, record)));
    for (const out of outgoing) {
      if (out.output === OUTPUT_PREDICTIONS) state.counters.predicted++;
      else state.counters.errors++;
    }
    if (work.entry) {
      journal.retire(work.entry.seq);
      // Retired: the journal no longer holds the frame (a rotation writes live frames synchronously), the
      // classifier has answered for every image, and the outputs carry predictions, not the payload.
      if (work.pooled) this.options.payloadBuffers.give(work.pooled);
    }
  }

  /** classifyAll, waiting out "overloaded" and "model not ready" (the core is shared with HTTP traffic; not the input's fault). */
  private classify(images: Buffer[], topK: number): Promise<Outcomes> {
    const { classifier, state } = this.options;
    return retryWithBackOff(() => classifier.classifyAll(images, { topK }), {
      backOff: CLASSIFIER_BACK_OFF,
      signal: state.signal,
      onFailure: async (error, _attempt, delayMs) => {
        if (!isTransient(error) || (state.stopping && error.code === 'model_not_ready')) throw error;
        // An overloaded core says when to come back; the back-off's own wait counts towards it.
        const retryAfterMs = error instanceof OverloadedError ? Math.min(error.retryAfterSeconds * 1000, CLASSIFIER_BACK_OFF.maxMs) : 0;
        if (retryAfterMs > delayMs) await wait(retryAfterMs - delayMs, undefined, { signal: state.signal });
      },
    });
  }
}

/**
 * Direct methods: `score` answers exactly what `POST /score` answers (status + JSON body), through the
 * same codecs and without HTTP (IoT Hub has authorised the caller already); `getStatus` answers the
 * module's state.
 */
import type { DeviceMethodRequest, DeviceMethodResponse } from 'azure-iot-device';
import { coreTopK, decodeScoreRequest, encodeScoreAnswer, INTERNAL_PROBLEM, problemOf, scorePredictions } from '@model-deploy/codecs';
import { describeError, type EdgeClassifier, type ModuleClientLike, type ScoreHandler } from './module-client.js';
import type { ModuleState } from './module-state.js';

/** The `score` method over the seed contract; the twin's topK above 1 answers as `?top_k=` would. */
export function scoreMethod(classifier: EdgeClassifier, maxImagesPerRequest: number): ScoreHandler {
  return async (payload, topK) => {
    try {
      const { names, images } = decodeScoreRequest(payload, maxImagesPerRequest);
      const k = topK > 1 ? coreTopK(topK, classifier.card.labels.length) : undefined;
      const outcomes = await classifier.classifyAll(images, { topK: k });
      return { status: 200, body: JSON.parse(encodeScoreAnswer(names, scorePredictions(names, outcomes), k)) as unknown };
    } catch (error) {
      const problem = problemOf(error);
      // An internal failure is the module's to log (registerDirectMethods); the caller learns only that it failed.
      if (problem === undefined || problem.code === 'internal_error') throw error;
      return { status: problem.status, body: { error: problem.message, code: problem.code } };
    }
  };
}

export interface DirectMethodsOptions {
  state: ModuleState;
  /** The `score` method; without it the method answers 501. */
  score: ScoreHandler | undefined;
  /** The twin's current topK. */
  topK(): number;
  /** What getStatus answers. */
  status(): Record<string, unknown>;
}

export function registerDirectMethods(client: ModuleClientLike, options: DirectMethodsOptions): void {
  const { state } = options;
  client.onMethod('score', (request, response) => void answerScore(request, response, options));
  client.onMethod('getStatus', (_request, response) => {
    response.send(200, options.status()).catch((error: Error) => state.log.warn({ err: describeError(error) }, 'could not answer getStatus'));
  });
}

async function answerScore(request: DeviceMethodRequest, response: DeviceMethodResponse, options: DirectMethodsOptions): Promise<void> {
  const { state } = options;
  let status = 501;
  let body: unknown = { error: 'the score method is not available in this module' };
  if (options.score) {
    try {
      ({ status, body } = await options.score(request.payload, options.topK()));
    } catch (error) {
      state.noteError('the score method failed', error);
      status = INTERNAL_PROBLEM.status;
      body = { error: INTERNAL_PROBLEM.message, code: INTERNAL_PROBLEM.code };
    }
  }
  await response.send(status, body).catch((error: Error) => state.log.warn({ err: describeError(error) }, 'could not answer the score method'));
}

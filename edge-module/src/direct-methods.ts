/**
 * Direct methods: `score` answers exactly what `POST /score` answers (status + JSON body), through the
 * same codecs and without HTTP (IoT Hub has authorised the caller already); `getStatus` answers the
 * module's state.
 */
import { coreTopK, decodeScoreRequest, encodeScoreAnswer, INTERNAL_PROBLEM, problemOf, scorePredictions } from '@model-deploy/codecs';
import type { EdgeClassifier, ScoreHandler } from './module.js';

/** The `score` method over the seed contract; the twin's topK above 1 answers as `?top_k=` would. */
export function scoreMethod(classifier: EdgeClassifier, maxImagesPerRequest: number): ScoreHandler {
  return async (payload, topK) => {
    try {
      const { names, images } = decodeScoreRequest(payload, maxImagesPerRequest);
      const k = topK > 1 ? coreTopK(topK, classifier.card.labels.length) : undefined;
      const outcomes = await classifier.classifyAll(images, { topK: k });
      return { status: 200, body: JSON.parse(encodeScoreAnswer(names, scorePredictions(names, outcomes), k)) as unknown };
    } catch (error) {
      const problem = problemOf(error) ?? INTERNAL_PROBLEM;
      return { status: problem.status, body: { error: problem.message, code: problem.code } };
    }
  };
}

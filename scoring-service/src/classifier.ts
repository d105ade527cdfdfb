/**
 * The part of the inference core's Classifier that the HTTP adapter uses. Typed structurally so tests
 * can stand in a fake (a failing or slow classifier) without loading a model.
 */
import type { Classifier } from '@model-deploy/inference';

export type ScoringClassifier = Pick<
  Classifier,
  'card' | 'ready' | 'queueDepth' | 'classifyAll' | 'classifyTensor'
>;

export type ClassifierSource = ScoringClassifier | Promise<ScoringClassifier>;

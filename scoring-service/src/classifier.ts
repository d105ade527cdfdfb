/**
 * The part of the inference core's Classifier that the HTTP adapter uses (typed structurally so tests
 * can stand in a fake, a failing or slow classifier, without loading a model), and how a process
 * configured like the service hosts the core.
 */
import { Classifier, WorkerClassifier, type ClassifierObserver, type HostedClassifier } from '@model-deploy/inference';
import type { ServiceConfig } from './config.js';

export type ScoringClassifier = Pick<
  Classifier,
  'card' | 'ready' | 'queueDepth' | 'classifyAll' | 'classifyTensor'
>;

export type ClassifierSource = ScoringClassifier | Promise<ScoringClassifier>;

/**
 * Loads the model the configuration names, in-process or, with INFERENCE_WORKER=true, in a worker
 * thread (`onCrash` then hears of the thread's death; the process should exit to be restarted).
 */
export function loadClassifier(config: ServiceConfig, observer: ClassifierObserver, onCrash: (error: Error) => void): Promise<HostedClassifier> {
  const options = {
    modelDir: config.modelDir,
    ...(config.modelName === undefined ? {} : { modelName: config.modelName }),
    ...config.inference,
    observer,
  };
  return config.inferenceWorker ? WorkerClassifier.load({ ...options, onCrash }) : Classifier.load(options);
}

/**
 * Holds the classifier (possibly still loading) and the service's readiness. Readiness means: the
 * model is loaded, checksum-verified and warmed (the core's `ready`), and the service is not draining
 * for shutdown.
 */
import fp from 'fastify-plugin';
import type { FastifyPluginCallback } from 'fastify';
import type { ClassifierSource, ScoringClassifier } from '../classifier.js';
import { ModelNotReadyError } from '@model-deploy/inference';

export interface ScoringState {
  /** The classifier once loaded; undefined while loading (or if loading failed). */
  readonly classifier: ScoringClassifier | undefined;
  /** The classifier, or a 503 model_not_ready error for the client. */
  require(): ScoringClassifier;
  /** True once the model is loaded, verified and warmed, until drain() or the classifier closes. */
  isReady(): boolean;
  /** Turns readiness false for good (SIGTERM); requests are still served until the app closes. */
  drain(): void;
  readonly draining: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    scoring: ScoringState;
  }
}

export interface ScoringStateOptions {
  classifier: ClassifierSource;
  /** Called once the classifier has loaded (e.g. to point metrics at it). */
  onLoaded?(classifier: ScoringClassifier): void;
}

const plugin: FastifyPluginCallback<ScoringStateOptions> = (app, options, done) => {
  let loaded: ScoringClassifier | undefined;
  let draining = false;
  const notLoaded = (): ModelNotReadyError => new ModelNotReadyError('the model is not loaded yet; retry shortly');

  const state: ScoringState = {
    get classifier() {
      return loaded;
    },
    require() {
      if (loaded === undefined) throw notLoaded();
      return loaded;
    },
    isReady() {
      return !draining && loaded !== undefined && loaded.ready;
    },
    drain() {
      draining = true;
    },
    get draining() {
      return draining;
    },
  };

  const source = options.classifier;
  const settle = (c: ScoringClassifier): void => {
    loaded = c;
    options.onLoaded?.(c);
  };
  if (source instanceof Promise) {
    // A failed load leaves the service unready; whoever owns the promise (server.ts) reports and exits.
    source.then(settle, () => undefined);
  } else {
    settle(source);
  }
  app.decorate('scoring', state);
  // While draining, answers ask keep-alive clients to reconnect, which lands them on a ready replica
  // and lets the server close without waiting for idle connections to time out.
  app.addHook('onSend', (_request, reply, payload, next) => {
    if (draining) reply.header('connection', 'close');
    next(null, payload);
  });
  done();
};

export const scoringStatePlugin = fp(plugin, { name: 'scoring-state', fastify: '5.x' });

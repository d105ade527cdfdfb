/**
 * Bearer-key authentication for the scoring and V2 model routes. Routes opt in with
 * `onRequest: app.requireApiKey`; with auth disabled the hook is a no-op that is never attached.
 */
import fp from 'fastify-plugin';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { KeyRing } from '../key-ring.js';
import { HttpError } from '../errors.js';
import type { ServiceMetrics } from '../metrics.js';

/** How the protected routes authenticate. */
export type AuthSettings =
  /** No authentication (only with SCORING_AUTH=disabled, or a local run with no key configured). */
  | { mode: 'disabled' }
  /** `Authorization: Bearer <key>` must match one of the ring's keys. */
  | { mode: 'bearer'; keys: KeyRing };

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hooks for protected routes (empty when auth is disabled). */
    requireApiKey: onRequestHookHandler[];
  }
}

export interface AuthPluginOptions {
  auth: AuthSettings;
  metrics: ServiceMetrics;
}

const CHALLENGE = 'Bearer realm="scoring"';

const plugin: FastifyPluginCallback<AuthPluginOptions> = (app, { auth, metrics }, done) => {
  if (auth.mode === 'disabled') {
    app.decorate('requireApiKey', []);
    done();
    return;
  }
  const ring = auth.keys;
  const check = (request: FastifyRequest, _reply: FastifyReply, next: (err?: Error) => void): void => {
    const header = request.headers.authorization;
    // RFC 6750: the scheme is case-insensitive.
    if (header === undefined || header.length < 8 || header.slice(0, 7).toLowerCase() !== 'bearer ') {
      metrics.countAuth('rejected');
      next(
        new HttpError(401, 'unauthorized', 'missing API key: send the header Authorization: Bearer <key>', {
          'www-authenticate': CHALLENGE,
        }),
      );
      return;
    }
    const slot = ring.match(header.slice(7).trim());
    if (slot === undefined) {
      metrics.countAuth('rejected');
      next(
        new HttpError(401, 'unauthorized', 'invalid API key', {
          'www-authenticate': `${CHALLENGE}, error="invalid_token"`,
        }),
      );
      return;
    }
    metrics.countAuth(slot);
    next();
  };
  app.decorate('requireApiKey', [check]);
  done();
};

export const authPlugin = fp(plugin, { name: 'auth', fastify: '5.x' });

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
const SEND = 'send the header Authorization: Bearer <key>';
// Schemes other clients commonly send; only these are named back, since anything else in the header
// may be (part of) a key and must not be echoed.
const KNOWN_SCHEMES = new Map(['Basic', 'Digest', 'Token', 'ApiKey', 'Key', 'Negotiate', 'NTLM', 'OAuth'].map((s) => [s.toLowerCase(), s]));

/** Why a present-but-unusable Authorization header (or an absent one) is refused, without echoing it. */
function malformedMessage(header: string | undefined): string {
  const value = header?.trim() ?? '';
  if (value === '') return `missing API key: ${SEND}`;
  if (value.toLowerCase() === 'bearer') return `the Authorization header has the Bearer scheme but no key: ${SEND}`;
  const space = value.search(/\s/);
  if (space === -1) {
    return `the Authorization header is missing its scheme: ${SEND} (the word Bearer and a space before the key)`;
  }
  const scheme = KNOWN_SCHEMES.get(value.slice(0, space).toLowerCase());
  return `the Authorization header uses ${scheme === undefined ? 'a scheme other than Bearer' : `the ${scheme} scheme`}: ${SEND}`;
}

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
      next(new HttpError(401, 'unauthorized', malformedMessage(header), { 'www-authenticate': CHALLENGE }));
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

/**
 * Open Inference Protocol health: live while the process runs, ready once the model is loaded,
 * verified and warmed (and until shutdown begins). Kubernetes probes point here. No auth.
 */
import type { FastifyPluginCallback } from 'fastify';

export const healthRoutes: FastifyPluginCallback = (app, _options, done) => {
  app.get(
    '/v2/health/live',
    {
      schema: {
        summary: 'Liveness (Open Inference Protocol)',
        tags: ['health'],
        response: { 200: { type: 'object', properties: { live: { type: 'boolean' } }, required: ['live'] } },
      },
    },
    async () => ({ live: true }),
  );

  app.get(
    '/v2/health/ready',
    {
      schema: {
        summary: 'Readiness (Open Inference Protocol)',
        description: '200 once the model is loaded, checksum-verified and warmed; 503 before that and while shutting down.',
        tags: ['health'],
        response: {
          200: { type: 'object', properties: { ready: { type: 'boolean' } }, required: ['ready'] },
          503: { type: 'object', properties: { ready: { type: 'boolean' } }, required: ['ready'] },
        },
      },
    },
    async (_request, reply) => {
      const ready = app.scoring.isReady();
      return reply.code(ready ? 200 : 503).send({ ready });
    },
  );
  done();
};

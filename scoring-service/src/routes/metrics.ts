/** Prometheus scrape endpoint (no auth: keep it off the public ingress). */
import type { FastifyPluginCallback } from 'fastify';
import type { ServiceMetrics } from '../metrics.js';

export const metricsRoutes: FastifyPluginCallback<{ metrics: ServiceMetrics }> = (app, { metrics }, done) => {
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics',
        description: 'Text exposition format: requests, latency, batch sizes, queue depth, rejections, images by label, process metrics.',
        tags: ['operations'],
        produces: ['text/plain'],
      },
    },
    async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );
  done();
};

/**
 * Open Inference Protocol (V2) REST: server metadata, model metadata and readiness, and inference.
 * Each route reads as decode → core → encode over @model-deploy/codecs v2.ts (as kserve's
 * v2_endpoints.py over its dataplane); the schemas are v2-schemas.ts. Errors are `{"error": "..."}` as
 * the protocol says (errors.ts).
 */
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import {
  checkModel,
  decodeInferRequest,
  encodeInferResponse,
  imagePredictions,
  modelMetadata,
  quoteName,
  serverMetadata,
  type InferBody,
  type ModelRef,
} from '@model-deploy/codecs';
import { HttpError } from '../errors.js';
import type { ServiceMetrics } from '../metrics.js';
import { inferSchema, modelMetadataSchema, modelReadySchema, serverMetadataSchema } from './v2-schemas.js';

export interface V2RoutesOptions {
  maxImagesPerRequest: number;
  metrics: ServiceMetrics;
  serverName: string;
  serverVersion: string;
}

// The protocol defines no query parameters; a client sending ?top_k=3 here expects an effect it
// will not get, so it is told where such options go instead.
function rejectQueryParameters(query: unknown): void {
  const names = Object.keys((query ?? {}) as object);
  if (names.length === 0) return;
  throw new HttpError(
    400,
    'invalid_request',
    `unknown query parameter ${quoteName(names[0]!)}: the Open Inference Protocol routes take no query parameters; ` +
      'inference options go in the request body ("parameters", "outputs")',
  );
}

const versioned = (path: string): string[] => [`/v2/models/:name${path}`, `/v2/models/:name/versions/:version${path}`];

export const v2Routes: FastifyPluginCallback<V2RoutesOptions> = (app, options, done) => {
  const { maxImagesPerRequest, metrics } = options;

  // Every /v2/models/<name>[/versions/<v>] route: authenticated, then the model checked (404, or 503
  // while it loads) before anything else, so a typo in the name is not answered with a body complaint.
  const modelRoute = {
    onRequest: app.requireApiKey,
    preValidation: (request: FastifyRequest<{ Params: ModelRef }>, _reply: FastifyReply, next: (err?: Error) => void): void => {
      try {
        checkModel(app.scoring.require().card, request.params);
        rejectQueryParameters(request.query);
        next();
      } catch (err) {
        next(err as Error);
      }
    },
  };

  app.get('/v2', { schema: serverMetadataSchema }, async () => serverMetadata(options.serverName, options.serverVersion));

  for (const url of versioned('')) {
    app.get<{ Params: ModelRef }>(url, { ...modelRoute, schema: modelMetadataSchema }, async () => modelMetadata(app.scoring.require().card));
  }

  for (const url of versioned('/ready')) {
    app.get<{ Params: ModelRef }>(url, { ...modelRoute, schema: modelReadySchema }, async (_request, reply) => {
      const ready = app.scoring.isReady();
      return reply.code(ready ? 200 : 503).send({ name: app.scoring.require().card.name, ready });
    });
  }

  for (const url of versioned('/infer')) {
    app.post<{ Params: ModelRef; Body: InferBody }>(url, { ...modelRoute, schema: inferSchema }, async (request) => {
      const classifier = app.scoring.require();
      const inference = decodeInferRequest(classifier.card, request.body, maxImagesPerRequest);
      const predictions =
        inference.kind === 'images'
          ? imagePredictions(await classifier.classifyAll(inference.images, { transfer: true })) // decoded from this body: handed over
          : await classifier.classifyTensor(inference.tensor, inference.count);
      for (const p of predictions) metrics.countImage(p.label);
      return encodeInferResponse(classifier.card, inference, predictions);
    });
  }

  done();
};

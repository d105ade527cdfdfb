/**
 * The seed's scoring contract, which users' apps depend on:
 *   POST /score  {"<file name>": "<base64 image>", ...}  →  200 [{"<file name>": "<label>"}, ...]
 * one entry per image, in request order. `?top_k=N` replaces each label with the N most probable
 * labels and their probabilities: [{"<file name>": [{"label": "...", "probability": 0.97}, ...]}].
 * A multi-label model answers each file with the list of labels at or above its threshold
 * (possibly empty): [{"<file name>": ["cat", "outdoor"]}].
 * GET / is the seed-era liveness route.
 */
import type { FastifyPluginCallback, FastifySchemaValidationError } from 'fastify';
import { HttpError, withContext } from '../errors.js';
import { decodeBase64Image, quoteName } from '../images.js';
import type { ServiceMetrics } from '../metrics.js';

export interface SeedRoutesOptions {
  maxImagesPerRequest: number;
  metrics: ServiceMetrics;
}

type ScoreBody = Record<string, string>;
interface ScoreQuery {
  top_k?: number;
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Names the problem in the seed's own terms instead of JSON Schema's. */
function scoreValidationError(
  max: number,
): (errors: FastifySchemaValidationError[], dataVar: string) => Error {
  return (errors, dataVar) => {
    const e = errors[0];
    if (dataVar === 'querystring') {
      if (e?.keyword === 'additionalProperties') {
        const name = String((e.params as { additionalProperty?: unknown }).additionalProperty ?? '');
        return new HttpError(
          400,
          'invalid_request',
          `unknown query parameter ${quoteName(name)}: POST /score accepts only top_k (e.g. ?top_k=3 for the 3 most probable labels)`,
        );
      }
      return new HttpError(400, 'invalid_request', 'top_k must be an integer of at least 1');
    }
    if (e?.keyword === 'minProperties') {
      return new HttpError(
        400,
        'no_image',
        'the request body holds no image: send {"<file name>": "<base64-encoded image>", ...}',
      );
    }
    if (e?.keyword === 'maxProperties') {
      return new HttpError(
        413,
        'too_many_images',
        `too many images in one request: at most ${max} (MAX_IMAGES_PER_REQUEST); split the request`,
      );
    }
    if (e?.keyword === 'type' && e.instancePath !== '') {
      const name = unescapePointer(e.instancePath.slice(1));
      return new HttpError(
        400,
        'invalid_request',
        `${quoteName(name)}: the value must be a string holding a base64-encoded image`,
      );
    }
    return new HttpError(
      400,
      'invalid_request',
      'the request body must be a JSON object mapping file names to base64-encoded images: {"<file name>": "<base64>", ...}',
    );
  };
}

// Labels are JSON-encoded once per label, not once per response.
const labelJson = new Map<string, string>();
function jsonLabel(label: string): string {
  let json = labelJson.get(label);
  if (json === undefined) {
    json = JSON.stringify(label);
    labelJson.set(label, json);
  }
  return json;
}

export const seedRoutes: FastifyPluginCallback<SeedRoutesOptions> = (app, { maxImagesPerRequest, metrics }, done) => {
  app.get(
    '/',
    {
      schema: {
        summary: 'Liveness (seed-era route)',
        description: 'Answers 200 while the process is up, whether or not the model is loaded.',
        tags: ['health'],
        response: {
          200: { type: 'object', properties: { status: { type: 'string', const: 'healthy' } }, required: ['status'] },
        },
      },
    },
    async () => ({ status: 'healthy' }),
  );

  app.post<{ Body: ScoreBody; Querystring: ScoreQuery }>(
    '/score',
    {
      onRequest: app.requireApiKey,
      schemaErrorFormatter: scoreValidationError(maxImagesPerRequest),
      schema: {
        summary: 'Classify images (the seed contract)',
        description:
          'Body: a JSON object mapping each file name to its base64-encoded image file (PNG, JPEG, WebP, GIF, TIFF; ' +
          'any size, preprocessed as the model description says). Answer: one object per image, in request order, mapping the ' +
          'file name to the predicted label (a multi-label model: the list of labels at or above its threshold). With `top_k`, each label is replaced by the `top_k` most probable ' +
          'labels with their probabilities. All images of all concurrent requests are batched together.',
        tags: ['scoring'],
        security: [{ bearerAuth: [] }],
        querystring: {
          type: 'object',
          // A misspelt ?topk=3 must not silently answer top-1.
          additionalProperties: false,
          properties: {
            top_k: {
              type: 'integer',
              minimum: 1,
              description: 'Answer the top_k most probable labels with probabilities (values above the number of classes give all classes).',
            },
          },
        },
        body: {
          type: 'object',
          minProperties: 1,
          maxProperties: maxImagesPerRequest,
          additionalProperties: { type: 'string', description: 'base64-encoded image file' },
          examples: [{ 'ankle-boot.png': 'iVBORw0KGgoAAAANSUhEUgAAABwAAAAcCAAAAABXZoBIAAAA…' }],
        },
        response: {
          200: {
            description: 'One entry per image, in request order.',
            type: 'array',
            items: {
              type: 'object',
              minProperties: 1,
              maxProperties: 1,
              additionalProperties: {
                oneOf: [
                  { type: 'string', description: 'the predicted label (default)' },
                  { type: 'array', description: 'multi-label models: the labels at or above the threshold, highest first', items: { type: 'string' } },
                  {
                    type: 'array',
                    description: 'with top_k: the most probable labels, most probable first',
                    items: {
                      type: 'object',
                      properties: { label: { type: 'string' }, probability: { type: 'number' } },
                      required: ['label', 'probability'],
                    },
                  },
                ],
              },
            },
            examples: [[{ 'ankle-boot.png': 'Ankle boot' }]],
          },
        },
      },
    },
    async (request, reply) => {
      const classifier = app.scoring.require();
      const body = request.body;
      const names = Object.keys(body);
      const images = new Array<Buffer>(names.length);
      for (let i = 0; i < names.length; i++) {
        const name = names[i] as string;
        images[i] = decodeBase64Image(body[name] as string, quoteName(name));
      }
      const topK = request.query.top_k;
      const outcomes = await classifier.classifyAll(images, topK === undefined ? undefined : { topK: Math.min(topK, classifier.card.labels.length) });

      // Built by hand: the default shape is a few string concatenations, cheaper than any serializer.
      let json = '[';
      for (let i = 0; i < outcomes.length; i++) {
        const outcome = outcomes[i]!;
        if (!outcome.ok) throw withContext(outcome.error, quoteName(names[i] as string));
        const prediction = outcome.prediction;
        metrics.countImage(prediction.label);
        const answer = topK !== undefined ? JSON.stringify(prediction.top) : prediction.labels ? JSON.stringify(prediction.labels) : jsonLabel(prediction.label);
        json += `${i === 0 ? '' : ','}{${JSON.stringify(names[i])}:${answer}}`;
      }
      json += ']';
      return reply.type('application/json; charset=utf-8').send(json);
    },
  );
  done();
};

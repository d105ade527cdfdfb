/**
 * The seed's scoring contract over HTTP (the format itself is @model-deploy/codecs score.ts):
 *   POST /score  {"<file name>": "<base64 image>", ...}  →  200 [{"<file name>": "<label>"}, ...]
 * one entry per image, in request order. `?top_k=N` replaces each label with the N most probable
 * labels and their probabilities: [{"<file name>": [{"label": "...", "probability": 0.97}, ...]}].
 * A multi-label model answers each file with the list of labels at or above its threshold
 * (possibly empty): [{"<file name>": ["cat", "outdoor"]}].
 * The body may also be one image file itself (Content-Type image/... or application/octet-stream;
 * image-body.ts), answered as [{"<name>": "<label>"}] with `?name=` (default "image").
 * GET / is the seed-era liveness route.
 */
import type { FastifyPluginCallback, FastifySchemaValidationError } from 'fastify';
import { coreTopK, decodeScoreRequest, encodeScoreAnswer, quoteName, SCORE_PROBLEMS, scorePredictions } from '@model-deploy/codecs';
import { HttpError } from '../errors.js';
import type { BufferPool } from '@model-deploy/codecs';
import { DOCUMENTED_IMAGE_TYPES, IMAGE_BODY_NAME, IMAGE_BODY_TYPES, claimImageBody, readImageBody, releaseImageBody } from '../image-body.js';
import { predecodedScoreRequest, releasePredecoded } from '../json-body.js';
import type { ServiceMetrics } from '../metrics.js';

export interface SeedRoutesOptions {
  maxImagesPerRequest: number;
  metrics: ServiceMetrics;
  /** The app's body limit and shared image buffers, for an image file sent as the body (image-body.ts). */
  bodyLimit: number;
  imageBuffers: BufferPool;
}

type ScoreBody = Record<string, string>;

/** Longest `?name=` (a file name, echoed in the answer). */
const MAX_NAME_LENGTH = 1024;

/** OpenAPI's word for a body of raw bytes; the app validates nothing against it (the core sniffs and checks the image). */
const imageBodySchema = { type: 'string', format: 'binary', description: 'the image file itself (sniffed: PNG, JPEG, WebP, AVIF, GIF or TIFF, whatever the declared type)' };
interface ScoreQuery {
  top_k?: number;
  name?: string;
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
          `unknown query parameter ${quoteName(name)}: POST /score accepts only top_k (e.g. ?top_k=3 for the 3 most probable labels) and, with an image file as the body, name`,
        );
      }
      if (e?.instancePath === '/name') return new HttpError(400, 'invalid_request', `name must be 1 to ${MAX_NAME_LENGTH} characters`);
      return new HttpError(400, 'invalid_request', 'top_k must be an integer of at least 1');
    }
    if (e?.keyword === 'minProperties') return SCORE_PROBLEMS.noImage();
    if (e?.keyword === 'maxProperties') return SCORE_PROBLEMS.tooManyImages(max);
    if (e?.keyword === 'type' && e.instancePath !== '') return SCORE_PROBLEMS.notAString(unescapePointer(e.instancePath.slice(1)));
    return SCORE_PROBLEMS.notAnObject();
  };
}

export const seedRoutes: FastifyPluginCallback<SeedRoutesOptions> = (app, { maxImagesPerRequest, metrics, bodyLimit, imageBuffers }, done) => {
  // Registered in this plugin's own context, so only these routes read an image file as the body; the
  // others (V2) answer Fastify's 415, which errors.ts words for the route.
  app.addContentTypeParser(IMAGE_BODY_TYPES, (request, payload, parsed) => readImageBody(request, payload, bodyLimit, imageBuffers, parsed));
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
          'Body: a JSON object mapping each file name to its base64-encoded image file (PNG, JPEG, WebP, AVIF, GIF, TIFF; ' +
          'any size, preprocessed as the model description says), or one image file itself (Content-Type image/... or ' +
          'application/octet-stream; the answer names it by `name`, default "image"). Answer: one object per image, in request order, mapping the ' +
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
            name: {
              type: 'string',
              minLength: 1,
              maxLength: MAX_NAME_LENGTH,
              description: `With an image file as the body: the name the answer gives it (default "${IMAGE_BODY_NAME}"). A JSON body names its images by its keys.`,
            },
          },
        },
        body: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                minProperties: 1,
                maxProperties: maxImagesPerRequest,
                additionalProperties: { type: 'string', description: 'base64-encoded image file' },
                examples: [{ 'ankle-boot.png': 'iVBORw0KGgoAAAANSUhEUgAAABwAAAAcCAAAAABXZoBIAAAA…' }],
              },
            },
            // Documented only: an image body is bytes (image-body.ts), which no JSON Schema validates.
            ...Object.fromEntries(DOCUMENTED_IMAGE_TYPES.map((type) => [type, { schema: imageBodySchema }])),
          },
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
      const topK = request.query.top_k;
      let names: string[];
      let outcomes;
      try {
        const classifier = app.scoring.require();
        // One image file as the body (image-body.ts), named by ?name=.
        const image = claimImageBody(request.body);
        if (!image && request.query.name !== undefined) {
          throw new HttpError(400, 'invalid_request', 'name applies to an image file sent as the body (Content-Type image/... or application/octet-stream); a JSON body names its images by its keys');
        }
        // A seed body the JSON parser took apart from its bytes arrives with its images decoded.
        const predecoded = image ? undefined : predecodedScoreRequest(request.body);
        const decoded = image
          ? { names: [request.query.name ?? IMAGE_BODY_NAME], images: [image.bytes] }
          : predecoded && predecoded.names.length <= maxImagesPerRequest
            ? predecoded
            : decodeScoreRequest(request.body, maxImagesPerRequest);
        names = decoded.names;
        // The images are this request's own, decoded from its body: handed over, not copied
        // (ClassifyOptions.transfer), and a photo the parser decoded into a shared pooled buffer is read
        // by a preprocessing thread in place.
        outcomes = await classifier.classifyAll(decoded.images, { topK: coreTopK(topK, classifier.card.labels.length), transfer: true });
      } finally {
        // Every image has been preprocessed (or refused) once classifyAll settles, or was never
        // handed over: nothing reads the predecoded images any more.
        releasePredecoded(request.body);
        releaseImageBody(request.body);
      }
      const predictions = scorePredictions(names, outcomes);
      for (const prediction of predictions) metrics.countImage(prediction.label);
      return reply.type('application/json; charset=utf-8').send(encodeScoreAnswer(names, predictions, topK));
    },
  );
  done();
};

/**
 * Open Inference Protocol (V2) REST: server metadata, model metadata and readiness, and inference.
 * The model takes either encoded image files as a BYTES input named "image" (base64 strings in JSON)
 * or an already-preprocessed tensor under the model's own input name, datatype and shape (from the
 * model description: NHWC stays NHWC, FP16 and UINT8 inputs are FP16 and UINT8). It answers the
 * scores after the activation (FP32 [N,classes]) and the labels (BYTES [N]: the predicted label, or
 * for a multi-label model a JSON array of the labels at or above the threshold). Errors are
 * `{"error": "..."}` as the protocol says.
 */
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import type { ScoringClassifier } from '../classifier.js';
import { HttpError, withContext } from '../errors.js';
import { decodeBase64Image, quoteName } from '../images.js';
import type { ServiceMetrics } from '../metrics.js';

/** Name of the BYTES input carrying encoded image files. */
export const IMAGE_INPUT = 'image';
/** Name of the BYTES output carrying the predicted labels. */
export const LABEL_OUTPUT = 'label';

export interface V2RoutesOptions {
  maxImagesPerRequest: number;
  metrics: ServiceMetrics;
  serverName: string;
  serverVersion: string;
}

interface ModelParams {
  name: string;
  version?: string;
}

interface InferInput {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Record<string, unknown>;
  data: unknown[];
}

interface InferBody {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: InferInput[];
  outputs?: Array<{ name: string; parameters?: Record<string, unknown> }>;
}

interface Prediction {
  label: string;
  labels?: string[];
  probabilities: Float32Array;
}

/** The protocol's datatype for each input dtype the core takes. */
const V2_DATATYPE = { float32: 'FP32', float16: 'FP16', uint8: 'UINT8' } as const;

const tensorMetadata = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    datatype: { type: 'string' },
    shape: { type: 'array', items: { type: 'integer' } },
  },
  required: ['name', 'datatype', 'shape'],
} as const;

const errorBody = {
  type: 'object',
  properties: { error: { type: 'string' } },
  required: ['error'],
} as const;

const modelParams = {
  type: 'object',
  properties: { name: { type: 'string' }, version: { type: 'string' } },
  required: ['name'],
} as const;

function checkModel(classifier: ScoringClassifier, params: ModelParams): void {
  const card = classifier.card;
  if (params.name !== card.name) {
    throw new HttpError(404, 'model_not_found', `model ${JSON.stringify(params.name.slice(0, 100))} not found; this server serves ${JSON.stringify(card.name)}`);
  }
  if (params.version !== undefined && params.version !== card.version) {
    throw new HttpError(
      404,
      'model_not_found',
      `version ${JSON.stringify(params.version.slice(0, 100))} of model ${JSON.stringify(card.name)} not found; this server serves version ${JSON.stringify(card.version)}`,
    );
  }
}

function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major flattening; V2 allows nested arrays as well as flat ones. */
function flatten(data: unknown[]): unknown[] {
  return data.some(Array.isArray) ? (data.flat(Infinity) as unknown[]) : data;
}

export const v2Routes: FastifyPluginCallback<V2RoutesOptions> = (app, options, done) => {
  const { maxImagesPerRequest, metrics } = options;
  // The protocol defines no query parameters; a client sending ?top_k=3 here expects an effect it
  // will not get, so it is told where such options go instead.
  const rejectQueryParameters = (query: unknown): void => {
    const names = Object.keys((query ?? {}) as object);
    if (names.length === 0) return;
    throw new HttpError(
      400,
      'invalid_request',
      `unknown query parameter ${quoteName(names[0]!)}: the Open Inference Protocol routes take no query parameters; ` +
        'inference options go in the request body ("parameters", "outputs")',
    );
  };

  // Every /v2/models/<name>[/versions/<v>] route: authenticated, then the model checked (404, or 503
  // while it loads) before anything else, so a typo in the name is not answered with a body complaint.
  const modelRoute = {
    onRequest: app.requireApiKey,
    preValidation: (request: FastifyRequest<{ Params: ModelParams }>, _reply: FastifyReply, next: (err?: Error) => void): void => {
      try {
        checkModel(app.scoring.require(), request.params);
        rejectQueryParameters(request.query);
        next();
      } catch (err) {
        next(err as Error);
      }
    },
  };

  app.get(
    '/v2',
    {
      schema: {
        summary: 'Server metadata (Open Inference Protocol)',
        tags: ['v2'],
        response: {
          200: {
            type: 'object',
            properties: {
              name: { type: 'string' },
              version: { type: 'string' },
              extensions: { type: 'array', items: { type: 'string' } },
            },
            required: ['name', 'version', 'extensions'],
          },
        },
      },
    },
    async () => ({ name: options.serverName, version: options.serverVersion, extensions: [] }),
  );

  const metadataSchema = {
    summary: 'Model metadata (Open Inference Protocol)',
    tags: ['v2'],
    security: [{ bearerAuth: [] }],
    params: modelParams,
    response: {
      200: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          versions: { type: 'array', items: { type: 'string' } },
          platform: { type: 'string' },
          inputs: { type: 'array', items: tensorMetadata },
          outputs: { type: 'array', items: tensorMetadata },
          parameters: {
            type: 'object',
            properties: {
              labels: { type: 'array', items: { type: 'string' } },
              sha256: { type: 'string' },
              task: { type: 'string' },
              threshold: { type: 'number' },
            },
          },
        },
        required: ['name', 'platform', 'inputs', 'outputs'],
      },
      404: errorBody,
    },
  };
  for (const url of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    app.get<{ Params: ModelParams }>(url, { ...modelRoute, schema: metadataSchema }, async () => {
      const card = app.scoring.require().card;
      return {
        name: card.name,
        versions: [card.version],
        platform: 'onnxruntime_onnx',
        inputs: [
          { name: IMAGE_INPUT, datatype: 'BYTES', shape: [-1] },
          { name: card.input.name, datatype: V2_DATATYPE[card.input.dtype], shape: [...card.input.shape] },
        ],
        outputs: [
          { name: card.output.name, datatype: 'FP32', shape: [-1, card.labels.length] },
          { name: LABEL_OUTPUT, datatype: 'BYTES', shape: [-1] },
        ],
        parameters: {
          labels: [...card.labels],
          sha256: card.sha256,
          task: card.output.task,
          ...(card.output.task === 'multi-label' ? { threshold: card.output.threshold } : {}),
        },
      };
    });
  }

  const readySchema = {
    summary: 'Model readiness (Open Inference Protocol)',
    tags: ['v2'],
    security: [{ bearerAuth: [] }],
    params: modelParams,
    response: {
      200: { type: 'object', properties: { name: { type: 'string' }, ready: { type: 'boolean' } }, required: ['name', 'ready'] },
      503: { type: 'object', properties: { name: { type: 'string' }, ready: { type: 'boolean' } }, required: ['name', 'ready'] },
    },
  };
  for (const url of ['/v2/models/:name/ready', '/v2/models/:name/versions/:version/ready']) {
    app.get<{ Params: ModelParams }>(url, { ...modelRoute, schema: readySchema }, async (_request, reply) => {
      const classifier = app.scoring.require();
      const ready = app.scoring.isReady();
      return reply.code(ready ? 200 : 503).send({ name: classifier.card.name, ready });
    });
  }

  const inferSchema = {
    summary: 'Inference (Open Inference Protocol)',
    description:
      `One input: either "${IMAGE_INPUT}" (datatype BYTES, shape [N], data = N base64-encoded image files) or the ` +
      `model's tensor input (its name, datatype and shape are in the model metadata; data = the preprocessed values ` +
      'in row-major order, flat or nested). Outputs: the scores after the activation (FP32 [N,classes], ' +
      `labels in model-metadata order) and "${LABEL_OUTPUT}" (BYTES [N]: the label, or for a multi-label model a JSON ` +
      'array of the labels at or above the threshold); list `outputs` to get only some.',
    tags: ['v2'],
    security: [{ bearerAuth: [] }],
    params: modelParams,
    body: {
      type: 'object',
      required: ['inputs'],
      properties: {
        id: { type: 'string' },
        parameters: { type: 'object' },
        inputs: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            required: ['name', 'shape', 'datatype', 'data'],
            properties: {
              name: { type: 'string' },
              shape: { type: 'array', items: { type: 'integer', minimum: 0 } },
              datatype: { type: 'string' },
              parameters: { type: 'object' },
              data: { type: 'array' },
            },
          },
        },
        outputs: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name'],
            properties: { name: { type: 'string' }, parameters: { type: 'object' } },
          },
        },
      },
      examples: [
        { id: '42', inputs: [{ name: IMAGE_INPUT, shape: [1], datatype: 'BYTES', data: ['iVBORw0KGgoAAAANSUhEUgAAABwAAAAc…'] }] },
      ],
    },
    response: {
      200: {
        type: 'object',
        properties: {
          model_name: { type: 'string' },
          model_version: { type: 'string' },
          id: { type: 'string' },
          outputs: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                name: { type: 'string' },
                datatype: { type: 'string' },
                shape: { type: 'array', items: { type: 'integer' } },
                data: { type: 'array', items: { anyOf: [{ type: 'number' }, { type: 'string' }] } },
              },
              required: ['name', 'datatype', 'shape', 'data'],
            },
          },
        },
        required: ['model_name', 'outputs'],
      },
      400: errorBody,
      404: errorBody,
      413: errorBody,
      503: errorBody,
    },
  };

  for (const url of ['/v2/models/:name/infer', '/v2/models/:name/versions/:version/infer']) {
    app.post<{ Params: ModelParams; Body: InferBody }>(url, { ...modelRoute, schema: inferSchema }, async (request) => {
      const classifier = app.scoring.require();
      const card = classifier.card;
      const body = request.body;

      const wanted = new Set<string>();
      for (const output of body.outputs ?? []) {
        if (output.name !== card.output.name && output.name !== LABEL_OUTPUT) {
          throw new HttpError(
            400,
            'invalid_request',
            `unknown output ${JSON.stringify(output.name.slice(0, 100))}; this model has "${card.output.name}" and "${LABEL_OUTPUT}"`,
          );
        }
        wanted.add(output.name);
      }
      if (wanted.size === 0) {
        wanted.add(card.output.name);
        wanted.add(LABEL_OUTPUT);
      }

      if (body.inputs.length !== 1) {
        throw new HttpError(
          400,
          'invalid_request',
          `expected exactly one input ("${IMAGE_INPUT}" or "${card.input.name}"), got ${body.inputs.length}`,
        );
      }
      const input = body.inputs[0] as InferInput;
      let predictions: Prediction[];
      // A model may name its own input "image" too: then BYTES means image files, anything else the tensor.
      if (input.name === IMAGE_INPUT && (input.datatype === 'BYTES' || card.input.name !== IMAGE_INPUT)) {
        predictions = await inferImages(classifier, input);
      } else if (input.name === card.input.name) {
        predictions = await inferTensor(classifier, input);
      } else {
        throw new HttpError(
          400,
          'invalid_request',
          `unknown input ${JSON.stringify(input.name.slice(0, 100))}; this model takes "${IMAGE_INPUT}" (BYTES, base64 image files) or "${card.input.name}" (${V2_DATATYPE[card.input.dtype]} tensor)`,
        );
      }

      const n = predictions.length;
      const classes = card.labels.length;
      const outputs: Array<{ name: string; datatype: string; shape: number[]; data: Array<number | string> }> = [];
      if (wanted.has(card.output.name)) {
        const data = new Array<number>(n * classes);
        for (let i = 0; i < n; i++) {
          const p = (predictions[i] as Prediction).probabilities;
          for (let j = 0; j < classes; j++) data[i * classes + j] = p[j] as number;
        }
        outputs.push({ name: card.output.name, datatype: 'FP32', shape: [n, classes], data });
      }
      if (wanted.has(LABEL_OUTPUT)) {
        outputs.push({ name: LABEL_OUTPUT, datatype: 'BYTES', shape: [n], data: predictions.map((p) => (p.labels ? JSON.stringify(p.labels) : p.label)) });
      }
      for (const p of predictions) metrics.countImage(p.label);
      return {
        model_name: card.name,
        model_version: card.version,
        ...(body.id === undefined ? {} : { id: body.id }),
        outputs,
      };
    });
  }

  async function inferImages(classifier: ScoringClassifier, input: InferInput): Promise<Prediction[]> {
    if (input.datatype !== 'BYTES') {
      throw new HttpError(400, 'invalid_request', `input "${IMAGE_INPUT}" must have datatype BYTES, got ${JSON.stringify(String(input.datatype).slice(0, 20))}`);
    }
    const data = flatten(input.data);
    const n = data.length;
    const shapeOk = (input.shape.length === 1 || (input.shape.length === 2 && input.shape[1] === 1)) && input.shape[0] === n;
    if (!shapeOk) {
      throw new HttpError(400, 'invalid_request', `input "${IMAGE_INPUT}": shape ${JSON.stringify(input.shape)} does not match ${n} data elements (expected [${n}])`);
    }
    if (n === 0) throw new HttpError(400, 'no_image', `input "${IMAGE_INPUT}" holds no image`);
    if (n > maxImagesPerRequest) {
      throw new HttpError(413, 'too_many_images', `too many images in one request: at most ${maxImagesPerRequest} (MAX_IMAGES_PER_REQUEST); split the request`);
    }
    const images = new Array<Buffer>(n);
    for (let i = 0; i < n; i++) {
      const value = data[i];
      const what = `input "${IMAGE_INPUT}" element ${i}`;
      if (typeof value !== 'string') throw new HttpError(400, 'invalid_request', `${what}: must be a string holding a base64-encoded image`);
      images[i] = decodeBase64Image(value, what);
    }
    const outcomes = await classifier.classifyAll(images);
    return outcomes.map((outcome, i) => {
      if (!outcome.ok) throw withContext(outcome.error, `input "${IMAGE_INPUT}" element ${i}`);
      return outcome.prediction;
    });
  }

  async function inferTensor(classifier: ScoringClassifier, input: InferInput): Promise<Prediction[]> {
    const card = classifier.card;
    const name = card.input.name;
    const datatype = V2_DATATYPE[card.input.dtype];
    if (input.datatype !== datatype) {
      throw new HttpError(400, 'invalid_request', `input "${name}" must have datatype ${datatype}, got ${JSON.stringify(String(input.datatype).slice(0, 20))}`);
    }
    const expected = card.input.shape;
    const shape = input.shape;
    const shapeOk = shape.length === expected.length && expected.every((d, i) => d < 0 || d === shape[i]);
    if (!shapeOk) {
      throw new HttpError(400, 'invalid_request', `input "${name}": shape ${JSON.stringify(shape)} does not match the model's ${JSON.stringify(expected)}`);
    }
    const n = shape[0] as number;
    if (n === 0) throw new HttpError(400, 'no_image', `input "${name}" holds no image`);
    if (n > maxImagesPerRequest) {
      throw new HttpError(413, 'too_many_images', `too many images in one request: at most ${maxImagesPerRequest} (MAX_IMAGES_PER_REQUEST); split the request`);
    }
    const data = flatten(input.data);
    if (data.length !== product(shape)) {
      throw new HttpError(400, 'invalid_request', `input "${name}": shape ${JSON.stringify(shape)} needs ${product(shape)} values, got ${data.length}`);
    }
    const tensor = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (typeof v !== 'number') throw new HttpError(400, 'invalid_tensor', `input "${name}" element ${i}: must be a number`);
      tensor[i] = v;
    }
    return classifier.classifyTensor(tensor, n);
  }

  done();
};

/**
 * JSON Schemas of the Open Inference Protocol (V2) routes: Fastify validates requests with them and
 * @fastify/swagger documents them. Only the HTTP shape lives here; what the fields mean is
 * @model-deploy/codecs v2.ts.
 */
import { IMAGE_INPUT, LABEL_OUTPUT } from '@model-deploy/codecs';

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

const readiness = { type: 'object', properties: { name: { type: 'string' }, ready: { type: 'boolean' } }, required: ['name', 'ready'] } as const;

export const serverMetadataSchema = {
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
};

export const modelMetadataSchema = {
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

export const modelReadySchema = {
  summary: 'Model readiness (Open Inference Protocol)',
  tags: ['v2'],
  security: [{ bearerAuth: [] }],
  params: modelParams,
  response: { 200: readiness, 503: readiness },
};

export const inferSchema = {
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

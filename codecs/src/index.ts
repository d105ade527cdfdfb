/**
 * @model-deploy/codecs — the contract both adapters speak, with no HTTP server and no IoT in it:
 * parse a request into the core's inputs, encode predictions into the answer, and map the core's
 * typed errors to statuses. The scoring service's routes and the edge module's message and
 * direct-method handlers call it; the dependency rule is core ← codecs ← service / edge module.
 */
export { decodeBase64Image, quoteName } from './base64.js';
export { BufferPool, MIN_POOLED_BYTES, POOLED_BUFFER_BYTES, type BufferPoolOptions } from './buffer-pool.js';
export {
  HTTP_STATUS,
  INTERNAL_PROBLEM,
  predictionsOf,
  problemOf,
  RequestError,
  tooManyImages,
  tooManyImagesInRequest,
  withContext,
} from './problems.js';
export type { Problem, ProblemCode, RequestErrorCode } from './problems.js';
export { readSeedBody } from './seed-body.js';
export type { SeedBody } from './seed-body.js';
export { coreTopK, decodeScoreEntries, decodeScoreRequest, encodeScoreAnswer, SCORE_PROBLEMS, scorePredictions } from './score.js';
export type { ScoreEntry, ScoreRequest } from './score.js';
export {
  checkModel,
  decodeInferRequest,
  encodeInferResponse,
  IMAGE_INPUT,
  imagePredictions,
  LABEL_OUTPUT,
  modelMetadata,
  serverMetadata,
  V2_DATATYPE,
} from './v2.js';
export type { InferBody, InferInput, InferOutput, InferRequest, ModelRef } from './v2.js';

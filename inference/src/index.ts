/**
 * @model-deploy/inference — the one inference core: load a verified ONNX model described by its
 * card, decode and preprocess images as the model was trained, batch callers together, predict.
 * No HTTP and no IoT here: the scoring service and the edge module are thin adapters over this.
 */
export { Classifier, DEFAULTS } from './classifier.js';
export { describeModel } from './model-session.js';
export type { ClassifierObserver, ClassifierOptions, ClassifyOptions, ClassifyResult, Prediction } from './classifier.js';
export {
  ImageTooLargeError,
  InferenceError,
  inferenceErrorFrom,
  InferenceFailedError,
  InvalidImageError,
  isInferenceErrorCode,
  InvalidModelCardError,
  InvalidTensorError,
  ModelIntegrityError,
  ModelNotReadyError,
  OverloadedError,
} from './errors.js';
export type { InferenceErrorCode } from './errors.js';
export { ImagePreprocessor, sniffFormat } from './image.js';
export { jpegDecoder } from './turbojpeg.js';
export { pngDecoder, spng } from './spng.js';
export type { DecodedPixels, ImageFormat, ImageLimits } from './image.js';
export { INTERPOLATIONS, PILLOW_RESAMPLE } from './filters.js';
// Whether the resample runs in WebAssembly here, or why it fell back to JavaScript (for a start-up log line).
export { resampleWasmStatus } from './resample-wasm.js';
export type { Interpolation } from './filters.js';
export { inputGeometry, parseModelCard } from './model-card.js';
export type { InputGeometry, ModelCardV1 } from './model-card.js';
export { imageSize } from './model-description.js';
export type { Activation, Colour, CropRounding, Dtype, Layout, ModelDescription, ResizeMode, ResizeSpec, Task } from './model-description.js';
/** The description a served model carries (kept under its v1 name for the adapters). */
export type { ModelDescription as ModelCard } from './model-description.js';
/** The description a folder resolves to (loads the model's metadata); kept under its v1 name. */
export { describeModel as readModelCard } from './model-session.js';
// The core hosted in a worker thread (INFERENCE_WORKER=true): the same calls as Classifier.
export { WorkerClassifier } from './worker-classifier.js';
export type { HostedClassifier, WorkerClassifierOptions } from './worker-classifier.js';

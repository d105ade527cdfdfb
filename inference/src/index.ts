/**
 * @model-deploy/inference — the one inference core: load a verified ONNX model described by its
 * card, decode and preprocess images as the model was trained, batch callers together, predict.
 * No HTTP and no IoT here: the scoring service and the edge module are thin adapters over this.
 */
export { Classifier, DEFAULTS } from './classifier.js';
export type { ClassifierObserver, ClassifierOptions, ClassifyOptions, ClassifyResult, Prediction } from './classifier.js';
export {
  ImageTooLargeError,
  InferenceError,
  InferenceFailedError,
  InvalidImageError,
  InvalidModelCardError,
  InvalidTensorError,
  ModelIntegrityError,
  ModelNotReadyError,
  OverloadedError,
} from './errors.js';
export type { InferenceErrorCode } from './errors.js';
export { ImagePreprocessor, sniffFormat } from './image.js';
export type { ImageFormat, ImageLimits } from './image.js';
export { inputGeometry, parseModelCard, readModelCard } from './model-card.js';
export type { InputGeometry, ModelCard } from './model-card.js';

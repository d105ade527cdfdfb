/**
 * Descriptions of other people's models, for tests and benches that need their preprocessing but not
 * their weights. Type-only imports: the benches pass descriptions read by the built package, the tests
 * ones read from src/.
 */
import type { Interpolation, ModelDescription } from '../../src/index.js';

/**
 * The shape of most 224-px ImageNet classifiers, made from any RGB description (the timm fixture's):
 * shortest edge 256, centre crop 224 (floor, as Hugging Face's processors), mean/std 0.5. Bilinear is
 * Hugging Face's MobileNetV2 and ResNet; bicubic timm's and ConvNeXt's.
 */
export function imagenetLike(base: ModelDescription, interpolation: Interpolation = 'bilinear'): ModelDescription {
  return {
    ...base,
    input: { ...base.input, height: 224, width: 224, shape: [-1, 3, 224, 224] },
    preprocessing: { colour: 'rgb', resize: { mode: 'shortest-edge', interpolation, crop: 'floor', shortestEdge: 256 }, rescale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], invert: false },
  };
}

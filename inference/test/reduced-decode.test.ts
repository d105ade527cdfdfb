/**
 * The reduced decode against the exact path for every resize mode and every filter of description v2:
 * the box the decoder keeps pixels for comes from geometry.ts, so a mode whose box or output size is
 * computed differently (shortest edge, letterbox, stretch + crop) must reduce exactly as far as its own
 * region needs, and the description's filter still does the last step. Nearest and box are never
 * reduced (their pixels stay identical to the exact path).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ImagePreprocessor, type ModelDescription } from '../src/index.js';
import { INTERPOLATIONS } from '../src/filters.js';
import { photoLikeJpeg } from './support/photo-like.js';

const limits = { maxImageBytes: 32 << 20, maxImagePixels: 40e6 };

function description(resize: ModelDescription['preprocessing']['resize']): ModelDescription {
  return {
    schemaVersion: 2,
    name: 'reduced',
    version: '1',
    file: 'model.onnx',
    sha256: '0'.repeat(64),
    labels: ['a', 'b'],
    input: { name: 'x', dtype: 'uint8', layout: 'NHWC', channels: 3, height: 32, width: 32, shape: [-1, 32, 32, 3] },
    output: { name: 'y', shape: [-1, 2], activation: 'softmax', task: 'single-label', threshold: 0.5 },
    preprocessing: { colour: 'rgb', resize, rescale: 1, mean: [0, 0, 0], std: [1, 1, 1], invert: false },
    source: { format: 'card-v2', files: [] },
  };
}

const MODES: Array<[string, Omit<ModelDescription['preprocessing']['resize'], 'interpolation'>]> = [
  ['fit', { mode: 'fit' }],
  ['stretch', { mode: 'stretch' }],
  ['stretch 40x36 + centre crop', { mode: 'stretch', width: 40, height: 36, crop: 'floor' }],
  ['shortest-edge 36, Hugging Face crop', { mode: 'shortest-edge', shortestEdge: 36, crop: 'floor' }],
  ['shortest-edge 36, torchvision crop', { mode: 'shortest-edge', shortestEdge: 36, crop: 'round' }],
  ['letterbox', { mode: 'letterbox', fill: [114, 114, 114] }],
];

describe('reduced decode: every resize mode x filter stays within a level of the exact path', () => {
  let photo: Buffer;
  before(async () => {
    photo = await photoLikeJpeg(1920, 1080, 7);
  });

  for (const [name, spec] of MODES) {
    for (const interpolation of INTERPOLATIONS) {
      it(`${name}, ${interpolation}`, async () => {
        const d = description({ ...spec, interpolation } as ModelDescription['preprocessing']['resize']);
        const fast = new ImagePreprocessor(d, limits);
        const exact = new ImagePreprocessor(d, limits, { exact: true });
        const decoded = await fast.decode(photo);
        assert.deepEqual(decoded.source, { width: 1920, height: 1080 });
        const a = await fast.preprocess(photo);
        const b = await exact.preprocess(photo);
        if (interpolation === 'nearest' || interpolation === 'box') {
          // These read single pixels or exact areas: a decoder's prefilter would change them (10 and
          // 2.3 levels mean at 4x), so they are never reduced.
          assert.equal(decoded.width, 1920);
          assert.deepEqual(a, b);
          return;
        }
        assert.ok(decoded.width <= 1920 / 4, `decoded at ${decoded.width}x${decoded.height}: not reduced`);
        let sum = 0;
        let max = 0;
        for (let i = 0; i < a.length; i++) {
          const diff = Math.abs(a[i]! - b[i]!);
          sum += diff;
          max = Math.max(max, diff);
        }
        assert.ok(sum / a.length <= 1, `mean difference ${(sum / a.length).toFixed(3)} levels`);
        assert.ok(max <= 8, `max difference ${max} levels`);
      });
    }
  }
});

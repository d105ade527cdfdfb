/**
 * Where each resize mode puts the image: the size it is resized to (and from which source box),
 * then the centre crop or the padding that brings it to the model's size. Each mode follows the
 * library whose users trained with it, to the pixel — including how that library rounds.
 */
import type { Box } from './resample.js';
import { fitBox } from './resample.js';
import type { ResizeSpec } from './model-description.js';

export interface Placement {
  /** Size of the resized image. */
  width: number;
  height: number;
  /** Source region resized (Pillow's `box`). */
  box: Box;
  /** Offset of the model's window in the resized image (crop), or of the resized image in the model's window (pad). */
  left: number;
  top: number;
  kind: 'crop' | 'pad';
}

/** Python 3's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

function centre(big: number, small: number, rounding: ResizeSpec['crop']): number {
  // Hugging Face: (h - crop) // 2; torchvision: int(round((h - crop) / 2.0)).
  return rounding === 'round' ? roundHalfEven((big - small) / 2) : Math.floor((big - small) / 2);
}

export function place(spec: ResizeSpec, imageWidth: number, imageHeight: number, outWidth: number, outHeight: number): Placement {
  const full: Box = [0, 0, imageWidth, imageHeight];
  switch (spec.mode) {
    case 'fit':
      // Pillow's ImageOps.fit: crop box in floats, resized straight to the model's size.
      return { width: outWidth, height: outHeight, box: fitBox(imageWidth, imageHeight, outWidth, outHeight), left: 0, top: 0, kind: 'crop' };
    case 'stretch': {
      const width = spec.width ?? outWidth;
      const height = spec.height ?? outHeight;
      return { width, height, box: full, left: centre(width, outWidth, spec.crop), top: centre(height, outHeight, spec.crop), kind: 'crop' };
    }
    case 'shortest-edge': {
      // Hugging Face's get_resize_output_image_size and torchvision's Resize(int) agree: the long
      // side is int(size * long / short), truncated.
      const s = spec.shortestEdge!;
      const [width, height] =
        imageWidth <= imageHeight ? [s, Math.trunc((s * imageHeight) / imageWidth)] : [Math.trunc((s * imageWidth) / imageHeight), s];
      return { width, height, box: full, left: centre(width, outWidth, spec.crop), top: centre(height, outHeight, spec.crop), kind: 'crop' };
    }
    case 'letterbox': {
      // Pillow's ImageOps.pad (contain, then paste centred), with its Python rounding.
      const imRatio = imageWidth / imageHeight;
      const destRatio = outWidth / outHeight;
      let width = outWidth;
      let height = outHeight;
      if (imRatio > destRatio) height = roundHalfEven((imageHeight / imageWidth) * outWidth);
      else if (imRatio < destRatio) width = roundHalfEven((imageWidth / imageHeight) * outHeight);
      const left = width !== outWidth ? roundHalfEven((outWidth - width) * 0.5) : 0;
      const top = width === outWidth && height !== outHeight ? roundHalfEven((outHeight - height) * 0.5) : 0;
      return { width: Math.max(1, width), height: Math.max(1, height), box: full, left, top, kind: 'pad' };
    }
  }
}

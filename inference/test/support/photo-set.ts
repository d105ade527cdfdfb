/**
 * The real-photo set (scripts/photo-set/build.sh: Debian's scikit-image and matplotlib photographs,
 * upscaled by Pillow to camera sizes) and the fidelity measure of the reduced decode against the
 * exact path, shared by photo-fidelity.test.ts and bench/photos.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';

export const PHOTO_DIR = join(repoRoot, '.cache/photos');

export interface Photo {
  file: string;
  size: string;
  width: number;
  height: number;
  /** The photograph it was made from. */
  source: string;
  bytes: Buffer;
}

/**
 * Builds the set if needed; returns undefined with the reason when it cannot be built here. `tiled` are
 * the tiled frames (build.py): photographs repeated at their own pixels to fill 1920x1080 and 12 MP.
 */
export function loadPhotoSet(): { photos: Photo[]; tiled: Photo[] } | { unavailable: string } {
  const manifest = join(PHOTO_DIR, 'manifest.json');
  const tiled = join(PHOTO_DIR, 'tiled.json');
  if (!existsSync(manifest) || !existsSync(tiled)) {
    const built = spawnSync('sh', [join(repoRoot, 'scripts/photo-set/build.sh')], { encoding: 'utf8' });
    if (built.status !== 0 || !existsSync(manifest) || !existsSync(tiled)) return { unavailable: `scripts/photo-set/build.sh failed: ${(built.stderr || built.error?.message || '').trim()}` };
  }
  const read = (file: string): Photo[] =>
    (JSON.parse(readFileSync(file, 'utf8')) as Array<Omit<Photo, 'bytes'>>).map((e) => ({ ...e, bytes: readFileSync(join(PHOTO_DIR, e.file)) }));
  return { photos: read(manifest), tiled: read(tiled) };
}

export interface Fidelity {
  photos: number;
  /** Largest |difference| on any pixel of any photo, in grey levels. */
  maxLevels: number;
  /** Mean |difference| over all pixels of all photos. */
  meanLevels: number;
  /** Largest per-photo mean |difference|. */
  worstPhotoMeanLevels: number;
  /** Photos whose top-1 label is the same on both paths. */
  sameTop1: number;
  /** Photos whose tensors are identical. */
  identical: number;
  /** Photos whose top-1 differs, with the exact path's margin between its first and second label. */
  disagreements: Array<{ file: string; margin: number }>;
  /** Photos the model decides on the exact path: its top two probabilities at least NEAR_TIE apart. */
  decided: number;
  /** Of those, how many keep their top-1. */
  sameTop1Decided: number;
}

/** Top-two margin under which a prediction is a near-tie that any perturbation can flip. */
export const NEAR_TIE = 0.01;

type Preprocess = (bytes: Uint8Array) => Promise<Float32Array>;
/** Each tensor's top-1 label index and the probability margin to the second label. */
type Top1 = (tensors: Float32Array[]) => Promise<Array<{ index: number; margin: number }>>;

/** Compares two preprocessing paths on the photos, in grey levels (tensor * 255 / (scale * 255)). */
export async function measureFidelity(photos: Photo[], exact: Preprocess, fast: Preprocess, scale: number, top1: Top1): Promise<Fidelity> {
  let maxLevels = 0;
  let sum = 0;
  let count = 0;
  let worstPhotoMeanLevels = 0;
  let identical = 0;
  const exactTensors: Float32Array[] = [];
  const fastTensors: Float32Array[] = [];
  for (const photo of photos) {
    const a = await exact(photo.bytes);
    const b = await fast(photo.bytes);
    let photoSum = 0;
    let same = true;
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(Math.round(a[i]! / scale) - Math.round(b[i]! / scale));
      if (d !== 0) same = false;
      maxLevels = Math.max(maxLevels, d);
      photoSum += d;
    }
    if (same) identical++;
    sum += photoSum;
    count += a.length;
    worstPhotoMeanLevels = Math.max(worstPhotoMeanLevels, photoSum / a.length);
    exactTensors.push(a);
    fastTensors.push(b);
  }
  const [labelsExact, labelsFast] = [await top1(exactTensors), await top1(fastTensors)];
  const disagreements = photos
    .map((p, i) => ({ file: p.file, margin: labelsExact[i]!.margin, same: labelsExact[i]!.index === labelsFast[i]!.index }))
    .filter((d) => !d.same)
    .map(({ file, margin }) => ({ file, margin }));
  const decided = labelsExact.filter((l) => l.margin >= NEAR_TIE).length;
  const sameTop1Decided = decided - disagreements.filter((d) => d.margin >= NEAR_TIE).length;
  return {
    photos: photos.length, maxLevels, meanLevels: sum / count, worstPhotoMeanLevels,
    sameTop1: photos.length - disagreements.length, identical, disagreements, decided, sameTop1Decided,
  };
}

/**
 * Child process of preprocess-pool.test.ts: preprocesses one 12-megapixel photo (on this thread,
 * `fast`, `progressive` (fast, on a progressive JPEG) or `exact` as argv[2]) and prints how much the resident set grew and libvips' own peak of
 * tracked pixel memory, as JSON.
 */
import sharp from 'sharp';
import { ImagePreprocessor, readModelCard } from '../../src/index.js';
import { modelDir } from '../helpers.js';
import { photoLikeJpeg } from './photo-like.js';

const exact = process.argv[2] === 'exact';
const card = await readModelCard(modelDir);
const baseline = await photoLikeJpeg(4032, 3024);
// A progressive JPEG makes libjpeg keep every DCT coefficient until the last scan (2 bytes per sample).
const photo = process.argv[2] === 'progressive' ? await sharp(baseline).jpeg({ progressive: true, quality: 90 }).toBuffer() : baseline;
const preprocessor = new ImagePreprocessor(card, { maxImageBytes: 32 << 20, maxImagePixels: 40e6 }, { exact });
// Warm up the code paths on a small image first, so their one-time allocations are not counted.
await preprocessor.preprocess(await photoLikeJpeg(640, 480));
const before = process.memoryUsage().rss;
await preprocessor.preprocess(photo);
const rssGrowthMb = (process.memoryUsage().rss - before) / 1e6;
process.stdout.write(JSON.stringify({ rssGrowthMb: Number(rssGrowthMb.toFixed(1)), libvipsHighMb: sharp.cache().memory.high }));

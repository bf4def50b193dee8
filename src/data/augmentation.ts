/**
 * Data augmentation of CIFAR images: the random transforms (a left–right mirror and a shift by whole pixels; the
 * transform itself is kernels/image-transform.ts) and the padding for the pixels a shift uncovers. `fill` is the
 * training mean of each position rounded to a byte (fillFromMean), so uncovered pixels are ≈ 0 once normalised, as
 * when shifting normalised images with zero padding.
 */
import type { Rng } from '../util/rng.js';
import type { ImageTransform } from '../kernels/image-transform.js';

export { SIDE, transformImage, type ImageTransform } from '../kernels/image-transform.js';

/** The padding image: the per-position training mean (values in [0, 1]) as bytes. */
export function fillFromMean(mean: Float32Array): Uint8Array {
  return Uint8Array.from(mean, (v) => Math.max(0, Math.min(255, Math.round(v * 255))));
}

/** A random transform: mirrored with probability 1/2 when `flip`, dx and dy uniform in [−translate, translate]. */
export function drawTransform(rng: Rng, flip: boolean, translate: number): ImageTransform {
  return {
    flip: flip && rng.int(0, 1) === 1,
    dx: translate > 0 ? rng.int(-translate, translate) : 0,
    dy: translate > 0 ? rng.int(-translate, translate) : 0,
  };
}

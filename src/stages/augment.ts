/**
 * Augment stage: the mini-batch's training images, mirrored and shifted at random (src/data/augmentation.ts), into
 * one uint8 buffer the normalize stage reads instead of the training records. The transforms of step s are drawn
 * from a generator seeded by (seed, s) alone, so a resumed run augments exactly as an uninterrupted one. The buffer
 * is reused every step: the stream holds one step at a time.
 */
import { map, type MonoTypeOperatorFunction } from 'rxjs';
import { PIXELS, type Dataset } from '../data/cifar.js';
import { drawTransform, transformImage } from '../data/augmentation.js';
import { deriveSeed, Rng } from '../util/rng.js';
import type { BatchPlan } from './types.js';

export interface AugmentPlan {
  flip: boolean;
  /** Largest shift in pixels (0 = none). */
  translate: number;
  seed: number;
  /** The padding image (fillFromMean of the training statistics). */
  fill: Uint8Array;
}

/** The generator of step `step`'s transforms. */
export const augmentRng = (seed: number, step: number) => new Rng(deriveSeed(seed, `augment:${step}`));

export function augment(data: Dataset, plan: AugmentPlan, batchSize: number): MonoTypeOperatorFunction<BatchPlan> {
  const images = new Uint8Array(batchSize * PIXELS);
  return map((batch) => {
    const rng = augmentRng(plan.seed, batch.step);
    const { rows } = batch;
    for (let r = 0; r < rows.length; r++) {
      transformImage(data.pixels, rows[r] * PIXELS, images, r * PIXELS, drawTransform(rng, plan.flip, plan.translate), plan.fill);
    }
    return { ...batch, images };
  });
}

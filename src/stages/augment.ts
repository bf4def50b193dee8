/**
 * Augment stage: the mini-batch's training images, mirrored and shifted at random (src/data/augmentation.ts). It
 * draws each row's transform (and the next step's, for a gather ahead); the normalize stage has them applied where
 * the batch is assembled: on the gather helper thread when the backend gathers ahead, else on this thread
 * (AugmentedRows.images). The transforms of step s are drawn from a generator seeded by (seed, s) alone, so a
 * resumed run augments exactly as an uninterrupted one, and a batch gathered ahead is the one made here. The images
 * buffer is reused every step: the stream holds one step at a time.
 */
import { map, type MonoTypeOperatorFunction } from 'rxjs';
import { PIXELS, type Dataset } from '../data/cifar.js';
import { drawTransform } from '../data/augmentation.js';
import { packTransform, transformRows } from '../kernels/image-transform.js';
import { deriveSeed, Rng } from '../util/rng.js';
import type { AugmentedRows, BatchPlan } from './types.js';

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
  const draw = (step: number, rows: number) => {
    const rng = augmentRng(plan.seed, step);
    return Int32Array.from({ length: rows }, () => packTransform(drawTransform(rng, plan.flip, plan.translate)));
  };
  return map((batch) => {
    const own = draw(batch.step, batch.rows.length);
    let made = false;
    const augmented: AugmentedRows = {
      codes: own,
      ...(batch.next ? { next: draw(batch.step + 1, batch.next.length) } : {}),
      fill: plan.fill,
      images: () => {
        if (!made) transformRows(data.pixels, batch.rows, 0, 0, batch.rows.length, own, 0, plan.fill, images);
        made = true;
        return images.subarray(0, batch.rows.length * PIXELS);
      },
    };
    return { ...batch, augment: augmented };
  });
}

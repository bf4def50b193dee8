/**
 * Shuffle stage: step index → the training rows of its mini-batch. The permutation of epoch e is
 * drawn from a seed derived from (seed, e) alone, so any step's batch can be recomputed (resume).
 */
import { map, type OperatorFunction } from 'rxjs';
import { deriveSeed, Rng } from '../util/rng.js';
import type { BatchPlan } from './types.js';

export function shuffle(seed: number, records: number, batchSize: number): OperatorFunction<number, BatchPlan> {
  const stepsPerEpoch = Math.floor(records / batchSize);
  const order = new Int32Array(records);
  let epochInOrder = -1;
  return map((step) => {
    const epoch = Math.floor(step / stepsPerEpoch);
    if (epoch !== epochInOrder) {
      for (let i = 0; i < records; i++) order[i] = i;
      new Rng(deriveSeed(seed, `shuffle:${epoch}`)).shuffle(order);
      epochInOrder = epoch;
    }
    const start = (step % stepsPerEpoch) * batchSize;
    return { step, epoch, rows: order.subarray(start, start + batchSize) };
  });
}

/**
 * Shuffle stage: step index → the training rows of its mini-batch, and those of the step after it (so that the
 * next batch can be gathered ahead). The permutation of epoch e is drawn from a seed derived from (seed, e) alone,
 * so any step's batch can be recomputed (resume).
 */
import { map, type OperatorFunction } from 'rxjs';
import { deriveSeed, Rng } from '../util/rng.js';
import type { BatchPlan } from './types.js';

export function shuffle(seed: number, records: number, batchSize: number): OperatorFunction<number, BatchPlan> {
  const stepsPerEpoch = Math.floor(records / batchSize);
  // two epochs' permutations: a step's, and at an epoch's last step the next epoch's (for `next`)
  const orders = [new Int32Array(records), new Int32Array(records)];
  const epochIn = [-1, -1];
  const order = (epoch: number) => {
    const slot = epoch & 1, o = orders[slot];
    if (epochIn[slot] !== epoch) {
      for (let i = 0; i < records; i++) o[i] = i;
      new Rng(deriveSeed(seed, `shuffle:${epoch}`)).shuffle(o);
      epochIn[slot] = epoch;
    }
    return o;
  };
  const rowsOf = (step: number) => {
    const start = (step % stepsPerEpoch) * batchSize;
    return order(Math.floor(step / stepsPerEpoch)).subarray(start, start + batchSize);
  };
  return map((step) => ({ step, epoch: Math.floor(step / stepsPerEpoch), rows: rowsOf(step), next: rowsOf(step + 1) }));
}

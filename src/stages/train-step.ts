/** Train-step stage: one mini-batch gradient-descent update at the step's learning rate. */
import { concatMap, type OperatorFunction } from 'rxjs';
import type { Network } from '../model/network.js';
import type { Batch, StepResult } from './types.js';

export class DivergedError extends Error {
  override name = 'DivergedError';
  constructor(readonly step: number, readonly value: number) {
    super(`training diverged at step ${step}: batch loss is ${value}`);
  }
}

export interface TrainStepPlan {
  /** The learning rate of update step `step` (0-based). */
  etaAt: (step: number) => number;
  lambda: number;
  stepsPerEpoch: number;
  /** Dropout on the hidden layer: keep probability and the mask seed of each step. */
  dropout?: { keep: number; seedAt: (step: number) => number };
  /** Label smoothing eps (0 or absent: one-hot targets). */
  labelSmoothing?: number;
}

export function trainStep(net: Network, plan: TrainStepPlan): OperatorFunction<Batch, StepResult> {
  return concatMap(async (batch) => {
    const eta = plan.etaAt(batch.step);
    const dropout = plan.dropout ? { keep: plan.dropout.keep, seed: plan.dropout.seedAt(batch.step) } : undefined;
    const { lossSum } = await net.trainStep(batch.X, batch.labels, { eta, lambda: plan.lambda, dropout, labelSmoothing: plan.labelSmoothing, t: batch.step + 1 });
    const batchLoss = lossSum / batch.X.rows;
    if (!Number.isFinite(batchLoss)) throw new DivergedError(batch.step + 1, batchLoss);
    return { step: batch.step + 1, epoch: (batch.step + 1) / plan.stepsPerEpoch, eta, batchLoss };
  });
}

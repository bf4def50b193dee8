/** Train-step stage: one mini-batch gradient-descent update with the cyclical learning rate. */
import { concatMap, type OperatorFunction } from 'rxjs';
import type { Network } from '../model/network.js';
import { cyclicalEta, type CyclicalSchedule } from '../model/schedule.js';
import type { Batch, StepResult } from './types.js';

export class DivergedError extends Error {
  override name = 'DivergedError';
  constructor(readonly step: number, readonly value: number) {
    super(`training diverged at step ${step}: batch loss is ${value}`);
  }
}

export function trainStep(net: Network, schedule: CyclicalSchedule, lambda: number, stepsPerEpoch: number): OperatorFunction<Batch, StepResult> {
  return concatMap(async (batch) => {
    const eta = cyclicalEta(schedule, batch.step);
    const { lossSum } = await net.trainStep(batch.X, batch.labels, eta, lambda);
    const batchLoss = lossSum / batch.X.rows;
    if (!Number.isFinite(batchLoss)) throw new DivergedError(batch.step + 1, batchLoss);
    return { step: batch.step + 1, epoch: (batch.step + 1) / stepsPerEpoch, eta, batchLoss };
  });
}

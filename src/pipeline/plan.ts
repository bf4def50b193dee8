/** Run length and evaluation points derived from a training config and the training split's size. */
import { UsageError } from '../config/errors.js';
import type { TrainConfig } from '../config/schema.js';

export interface RunPlan {
  stepsPerEpoch: number;
  totalSteps: number;
  evalEvery: number;
}

export function planRun(config: TrainConfig, trainRecords: number): RunPlan {
  const { batchSize } = config.train;
  if (batchSize > trainRecords) {
    throw new UsageError(`config: train.batchSize: ${batchSize} is larger than the training split (${trainRecords} records)`);
  }
  const { ns, cycles, epochs } = config.schedule;
  const stepsPerEpoch = Math.floor(trainRecords / batchSize);
  const totalSteps = epochs !== undefined ? Math.round(epochs * stepsPerEpoch) : Math.round((cycles ?? 1) * 2 * ns);
  if (totalSteps < 1) throw new UsageError('config: schedule: the run has no update step (cycles or epochs too small)');
  const evalEvery = config.eval.every ?? Math.max(1, Math.round((2 * ns) / config.eval.pointsPerCycle));
  return { stepsPerEpoch, totalSteps, evalEvery };
}

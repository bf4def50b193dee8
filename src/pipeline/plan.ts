/** Run length and evaluation points derived from a training config and the training split's size. */
import { ConfigError } from '../config/errors.js';
import type { TrainConfig } from '../config/schema.js';
import type { Splits } from '../data/splits.js';

export interface RunPlan {
  stepsPerEpoch: number;
  totalSteps: number;
  evalEvery: number;
}

/**
 * The plan of a run, or a ConfigError with one line per problem naming the field (`source`: the config file):
 * the mini-batch must fit in the training split and the run must have between 1 and 2^53 − 1 update steps.
 */
export function planRun(config: TrainConfig, trainRecords: number, source = 'config'): RunPlan {
  const { batchSize } = config.train;
  if (batchSize > trainRecords) {
    throw new ConfigError([`${source}: train.batchSize: ${batchSize} is larger than the training split (${trainRecords} records)`]);
  }
  const { ns, cycles, epochs } = config.schedule;
  const stepsPerEpoch = Math.floor(trainRecords / batchSize);
  const totalSteps = epochs !== undefined ? Math.round(epochs * stepsPerEpoch) : Math.round((cycles ?? 1) * 2 * ns);
  const field = epochs !== undefined ? `schedule.epochs: ${epochs} epochs of ${stepsPerEpoch} steps` : `schedule.cycles: ${cycles ?? 1} cycles of 2 × ${ns} steps`;
  if (totalSteps < 1) throw new ConfigError([`${source}: ${field} make no update step`]);
  if (!Number.isSafeInteger(totalSteps)) throw new ConfigError([`${source}: ${field} make ${totalSteps} update steps, more than 2^53 − 1`]);
  const evalEvery = config.eval.every ?? Math.max(1, Math.round((2 * ns) / config.eval.pointsPerCycle));
  return { stepsPerEpoch, totalSteps, evalEvery };
}

/**
 * The plan of a run on these splits, checked before anything is written: planRun's checks, and a validation split
 * that is not empty. One line per problem naming the field and value.
 */
export function checkSplitsFit(config: TrainConfig, splits: Splits, source = 'config'): RunPlan {
  const problems: string[] = [];
  let plan: RunPlan | null = null;
  try {
    plan = planRun(config, splits.train.count, source);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
  }
  if (splits.val.count === 0) {
    problems.push(`${source}: data.validation: ${JSON.stringify(config.data.validation ?? [])} gives an empty validation split`);
  }
  if (problems.length || !plan) throw new ConfigError(problems);
  return plan;
}

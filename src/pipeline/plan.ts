/** Run length and evaluation points derived from a training config and the training split's size. */
import { availableParallelism } from 'node:os';
import { ConfigError } from '../util/errors.js';
import type { TrainConfig } from '../config/schema.js';
import type { Splits } from '../data/splits.js';
import { MAX_MODEL_BYTES, modelFileBytes } from '../formats/model-file.js';
import { configuredOptimizer, configuredShape, configuredWidths } from '../model/shape.js';
import { cyclicalEta } from '../model/schedule.js';

export interface RunPlan {
  stepsPerEpoch: number;
  totalSteps: number;
  evalEvery: number;
  /** Steps after which the network is kept for the snapshot ensemble (the last ensemble.snapshots cycle ends). */
  snapshotSteps: number[];
}

/**
 * The plan of a run, or a ConfigError with one line per problem naming the field (`source`: the config file):
 * the mini-batch must fit in the training split, the run must have between 1 and 2^53 − 1 update steps, reach as
 * many cycle ends as it keeps snapshots, and keep a model file within MAX_MODEL_BYTES.
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
  const { snapshots, members } = config.ensemble;
  const cycleEnds = Math.floor(totalSteps / (2 * ns));
  if (snapshots > cycleEnds) {
    throw new ConfigError([`${source}: ensemble.snapshots: ${snapshots} snapshots asked, but the run of ${totalSteps} steps has ${cycleEnds} cycle end${cycleEnds === 1 ? '' : 's'} (every 2 × ${ns} steps)`]);
  }
  // model.json holds the trained network (and its velocities) and the snapshots; an ensemble run's holds every member's.
  const optimizer = configuredOptimizer(config.train), states = optimizer ? ('beta1' in optimizer ? 2 : 1) : 0;
  const networks = Math.max(members * Math.max(1, snapshots), 1 + states + snapshots);
  const bytes = modelFileBytes(configuredShape(config.model), networks);
  if (bytes > MAX_MODEL_BYTES) {
    throw new ConfigError([`${source}: ensemble: model.json would hold ${networks} networks of ${configuredWidths(config.model).join('+')} hidden units, ` +
      `about ${Math.round(bytes / 2 ** 20)} MiB, more than the ${MAX_MODEL_BYTES / 2 ** 20} MiB a model file may take`]);
  }
  const snapshotSteps = Array.from({ length: snapshots }, (_, i) => (cycleEnds - snapshots + 1 + i) * 2 * ns);
  return { stepsPerEpoch, totalSteps, evalEvery, snapshotSteps };
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

/**
 * The kernel threads of a run, from `kernels.threads`: the value itself when it is set (≥ 1); 0 = the cores of the
 * machine it runs on, shared evenly by the `sharing` runs there at once (a search's trials), at least 1 each.
 */
export function kernelThreads(requested: number, sharing = 1, cores = availableParallelism()): number {
  return requested > 0 ? requested : Math.max(1, Math.floor(Math.max(1, cores) / Math.max(1, sharing)));
}

/**
 * Null when the run ends on a cycle end (eta back at etaMin, where the cyclical schedule is meant to stop); else where
 * it ends and the setting that would end it on one.
 */
export function cycleEndNote(config: TrainConfig, plan: RunPlan): string | null {
  const { ns, epochs } = config.schedule;
  const cycle = 2 * ns, total = plan.totalSteps;
  if (total % cycle === 0) return null;
  const cycles = Math.max(1, Math.round(total / cycle));
  const nsFitting = total % (2 * cycles) === 0 ? total / (2 * cycles) : null;
  const settings = [
    `schedule.cycles: ${cycles}${epochs !== undefined ? ` in place of schedule.epochs: ${epochs}` : ''} (${cycles * cycle} steps)`,
    ...(epochs !== undefined && nsFitting !== null ? [`schedule.ns: ${nsFitting} (${cycles} cycles in the same ${total} steps)`] : []),
  ];
  return `the run ends at step ${total}, ${(total / cycle).toFixed(2)} cycles of 2 × ${ns} steps: away from a cycle end ` +
    `(eta ${cyclicalEta(config.schedule, total).toPrecision(2)} there, not etaMin); ${settings.join(' or ')} ends on one`;
}

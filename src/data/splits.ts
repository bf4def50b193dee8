/** The train / validation / test splits a config asks for, read once into shared memory. */
import { ConfigError } from '../config/errors.js';
import type { TrainConfig } from '../config/schema.js';
import { batchPath, readBatches, slice, type Dataset } from './cifar.js';

export interface Splits {
  train: Dataset;
  val: Dataset;
  test: Dataset;
}

export function validationFiles(data: TrainConfig['data']): string[] {
  return data.validation ?? (data.holdout > 0 ? [] : ['data_batch_2']);
}

/**
 * Reads the splits; a config that asks for more records than the files hold is a ConfigError naming the field
 * (`source`: the config file, for the message). Data problems are DataErrors naming the file.
 */
export function loadSplits(data: TrainConfig['data'], dir: string, source = 'config'): Splits {
  const pool = readBatches(data.train.map((n) => batchPath(dir, n)));
  let train = pool, val: Dataset;
  if (data.holdout > 0) {
    if (data.holdout >= pool.count) {
      throw new ConfigError([`${source}: data.holdout: ${data.holdout} held-out records leave no training data (the training files hold ${pool.count})`]);
    }
    train = slice(pool, 0, pool.count - data.holdout);
    val = slice(pool, pool.count - data.holdout, pool.count);
  } else {
    val = readBatches(validationFiles(data).map((n) => batchPath(dir, n)));
  }
  if (data.trainLimit !== undefined) {
    if (data.trainLimit > train.count) {
      throw new ConfigError([`${source}: data.trainLimit: ${data.trainLimit} is more than the ${train.count} training records`]);
    }
    train = slice(train, 0, data.trainLimit);
  }
  const test = data.test.length ? readBatches(data.test.map((n) => batchPath(dir, n))) : slice(val, 0, 0);
  return { train, val, test };
}

/**
 * Checks what only the data's size can tell (call before anything is written): the mini-batch fits in the
 * training split, the validation split is not empty. One line per problem naming the field and value.
 */
export function checkSplitsFit(config: TrainConfig, splits: Splits, source = 'config'): void {
  const problems: string[] = [];
  if (config.train.batchSize > splits.train.count) {
    problems.push(`${source}: train.batchSize: ${config.train.batchSize} is larger than the training split (${splits.train.count} records)`);
  }
  const { epochs, cycles, ns } = config.schedule;
  const stepsPerEpoch = Math.floor(splits.train.count / config.train.batchSize);
  if (epochs !== undefined && stepsPerEpoch > 0 && Math.round(epochs * stepsPerEpoch) < 1) {
    problems.push(`${source}: schedule.epochs: ${epochs} epochs of ${stepsPerEpoch} steps make no update step`);
  }
  if (cycles !== undefined && Math.round(cycles * 2 * ns) < 1) {
    problems.push(`${source}: schedule.cycles: ${cycles} cycles of 2 × ${ns} steps make no update step`);
  }
  if (splits.val.count === 0) {
    problems.push(`${source}: data.validation: ${JSON.stringify(config.data.validation ?? [])} gives an empty validation split`);
  }
  if (problems.length) throw new ConfigError(problems);
}

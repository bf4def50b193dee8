/** The train / validation / test splits a config asks for, read once into shared memory. */
import { ConfigError } from '../util/errors.js';
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

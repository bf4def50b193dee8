/**
 * The data of a run and what only the data tell (the plan's fit, normalisation), and the kernel backend chosen for
 * the run's step shapes: prepared once, before anything is written.
 */
import type { TrainConfig } from '../config/schema.js';
import { acquireDataDir } from '../data/acquire.js';
import { stepShapeOf } from '../model/shape.js';
import { computeNormalization, type Normalization } from '../data/normalization.js';
import { loadSplits, type Splits } from '../data/splits.js';
import type { DataCounts } from '../formats/model-file.js';
import { selectBackendOrExplain } from '../model/speed-probe.js';
import type { Selection } from '../kernels/select.js';
import { checkSplitsFit, kernelThreads, type RunPlan } from '../pipeline/plan.js';
import { configSource, type FolderRunOptions } from './options.js';

export interface PreparedData {
  dataDir: string;
  splits: Splits;
  plan: RunPlan;
  counts: DataCounts;
  normalization: Normalization;
}

/**
 * The data of `config`, checked against its plan. A resumed run reads the data it was trained on (`trainedOn`,
 * recorded in its checkpoint) unless `opts.data` says otherwise.
 */
export async function prepareData(config: TrainConfig, opts: FolderRunOptions, trainedOn?: string): Promise<PreparedData> {
  const source = configSource(opts);
  const dataDir = await acquireDataDir({
    cliDir: opts.data ?? trainedOn, configPath: opts.configPath, data: config.data, signal: opts.signal, log: opts.log,
    downloadProgress: opts.downloadProgress,
  });
  const splits = loadSplits(config.data, dataDir, source);
  const plan = checkSplitsFit(config, splits, source);
  const counts = { train: splits.train.count, val: splits.val.count, test: splits.test.count };
  const normalization = computeNormalization(splits.train);
  return { dataDir, splits, plan, counts, normalization };
}

/** The backend a run of `config` trains on, chosen (and, for `auto`, timed) at the run's own step shapes. */
export function chooseBackend(config: TrainConfig): Promise<Selection> {
  return selectBackendOrExplain(config.kernels.backend, kernelThreads(config.kernels.threads),
    stepShapeOf(config.train, config.model));
}

/**
 * A training config into its output folder: what `cifar-mlp run <train config>` and the library's `train()` both do
 * (they differ only in how they report). One network (single-run.ts), or with ensemble.members > 1 several trained
 * one after the other (ensemble-run.ts).
 */
import type { TrainConfig } from '../config/schema.js';
import type { Summary } from '../formats/run-summary.js';
import { ensembleRun } from './ensemble-run.js';
import { runInFolder } from './folder-run.js';
import { singleRun } from './single-run.js';
import type { TrainFolderOptions } from './train-options.js';

export interface TrainFolderResult {
  summary: Summary;
  outDir: string;
}

/**
 * Trains `config` into its output folder. Resolves with the run's summary (whatever its status) and folder, or with
 * null when the signal was aborted before anything was written. Rejects with a UsageError (bad input: nothing
 * written) or another error (a file that cannot be written…).
 */
export async function trainIntoFolder(config: TrainConfig, opts: TrainFolderOptions): Promise<TrainFolderResult | null> {
  const done = config.ensemble.members > 1 ? await runInFolder(ensembleRun(config, opts), opts) : await runInFolder(singleRun(config, opts), opts);
  return done && { summary: done.result, outDir: done.outDir };
}

/** `train()`: one training run into a folder, as `cifar-mlp run <train config>` does it. */
import type { TrainConfig } from '../config/schema.js';
import type { Summary } from '../formats/run-summary.js';
import { chosenFields, chosenFieldsComment } from '../formats/search-summary.js';
import { trainIntoFolder } from '../experiment/train-run.js';
import type { SplitMetrics } from '../model/split-metrics.js';
import { abortedBeforeStart } from './abort.js';
import { configOfKind, type ConfigSource } from './config.js';
import type { FolderOptions } from './folder-options.js';
import { checkArgument, trainOptionsArgument } from './arguments.js';

export interface TrainOptions extends FolderOptions {
  /** With `resume`: continue on another backend than the run trained on (refused otherwise; recorded in summary.json). */
  switchBackend?: boolean;
  /**
   * A finished search's folder: train with the searched fields of the trial it chose (e.g. train.lambda), as
   * `cifar-mlp run CONFIG --from DIR` does; they are told through `log` and recorded in the run's config.yaml.
   */
  from?: string;
  /** Called after every update step, and at step 0 of a fresh run (keep it cheap: it runs on the training loop). */
  onProgress?: (progress: TrainProgress) => void;
}

/** Where a training run is after one update step. */
export interface TrainProgress {
  /** The network being trained: the config's name, or "<name> member-<i>/<n>" in an ensemble run (ensemble.members). */
  label: string;
  /** Update steps done, of `totalSteps`; 0 (once, at the start of a fresh run) is the untrained network's evaluation. */
  step: number;
  totalSteps: number;
  /** Epochs done (fractional). */
  epoch: number;
  /** The learning rate (eta) of this step. */
  lr: number;
  /** Mean cross-entropy of this step's mini-batch, before the update (NaN at step 0). */
  batchLoss: number;
  /** At evaluation points only (the rows of metrics.csv): loss, cost (loss + lambda·‖W‖²) and accuracy. */
  metrics?: { train: SplitMetrics; val: SplitMetrics };
}

/**
 * Trains the network a training config describes (a validated config, a plain object of its fields, or the path of a
 * YAML file) into `options.out`, and resolves with its summary (also written as summary.json): `status` completed,
 * diverged, interrupted (the signal) or failed, and `final.{train,val,test}.{loss,cost,accuracy}` (fractions).
 * Rejects with a ConfigError/UsageError on bad input (nothing written), with an AbortError when the signal was
 * aborted before the run started.
 */
export async function train(config: TrainConfig | ConfigSource, options: TrainOptions): Promise<Summary> {
  checkArgument('train(): options', trainOptionsArgument, options);
  const chosen = options.from === undefined ? null : chosenFields(options.from);
  const { config: resolved, configPath } = configOfKind(config, 'train', 'train', chosen?.sets);
  if (chosen) options.log?.(`cifar-mlp: --from ${chosen.dir}: trial ${chosen.trial}: ${chosen.sets.join(', ')}`);
  const onProgress = options.onProgress;
  const result = await trainIntoFolder(resolved, {
    data: options.data, out: options.out, force: options.force, resume: options.resume, switchBackend: options.switchBackend, configPath,
    ...(chosen ? { configComment: chosenFieldsComment(chosen) } : {}),
    signal: options.signal ?? new AbortController().signal,
    log: options.log ?? (() => {}),
    downloadProgress: false,
    ...(onProgress ? {
      progress: (label: string) => ({
        update: (s, plan) => onProgress({
          label, step: s.step, totalSteps: plan.totalSteps, epoch: s.epoch, lr: s.eta, batchLoss: s.batchLoss,
          ...(s.metrics ? { metrics: { train: s.metrics.train, val: s.metrics.val } } : {}),
        }),
        stop: () => {},
      }),
    } : {}),
  });
  if (!result) throw abortedBeforeStart('train()');
  return result.summary;
}

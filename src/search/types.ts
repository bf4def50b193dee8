/** What flows between the search logic and a trial executor. Plain data: it crosses threads (and, later, machines). */
import type { TrainConfig } from '../config/schema.js';
import type { SplitMetrics } from '../stages/types.js';

/** One trial of a search: which lambda, with which training config, written where. */
export interface TrialTask {
  /** 1-based trial number. */
  trial: number;
  /** l = log10(lambda). */
  l: number;
  lambda: number;
  /** The complete training config of this trial (train.lambda = lambda, name and threads set). */
  config: TrainConfig;
  /** Where runTraining writes the trial's metrics.csv, summary.json and config.yaml. */
  outDir: string;
  /**
   * The CIFAR-10 folder the splits were read from. The local pool ignores it (it hands every worker the
   * splits already in shared memory); an executor on other machines would read the data there itself.
   */
  dataDir: string;
}

/** How a trial ended. `interrupted`: stopped by the search's stop signal (not a result: it runs again on resume). */
export type TrialStatus = 'completed' | 'diverged' | 'failed' | 'interrupted';

export interface TrialResult {
  trial: number;
  status: TrialStatus;
  /** Final metrics on the three splits (completed trials only). */
  final: { train: SplitMetrics; val: SplitMetrics; test: SplitMetrics } | null;
  /** Update steps done (NaN when unknown: the worker died). */
  steps: number;
  /** Wall time of the trial, seconds. */
  seconds: number;
  /** Kernel backend that ran it, e.g. "wasm-simd". */
  backend: string;
  /** Kernel threads it used. */
  threads: number;
  /** Why it did not complete (diverged, failed, worker died). */
  reason?: string;
}

/** What flows between the search logic and a trial executor. Plain data: it crosses threads (and, later, machines). */
import type { TrialParams } from '../config/search-schema.js';
import type { TrainConfig } from '../config/schema.js';
import type { SplitMetrics } from '../model/split-metrics.js';

/** One trial of a search: which parameter values, with which training config, written where. */
export interface TrialTask {
  /** 1-based trial number. */
  trial: number;
  /** The searched fields' values by config path (e.g. "base.train.lambda"): already set in `config`; for logs only. */
  params: TrialParams;
  /** The complete training config of this trial (the searched fields set, name and threads set). */
  config: TrainConfig;
  /** Where runTraining writes the trial's metrics.csv, summary.json and config.yaml. */
  outDir: string;
  /**
   * The CIFAR-10 folder the splits were read from. The local pool ignores it (it hands every worker the
   * splits already in shared memory); an executor on other machines would read the data there itself.
   */
  dataDir: string;
  /**
   * Successive-halving rungs: update steps (ascending) at which the trial reports its validation accuracy through
   * the executor's `onRung` hook, which may prune it there. Absent: the trial runs to its end.
   */
  rungs?: number[];
  /** Save the trained network as `<outDir>/model.json` when the trial completes (the search keeps the best k). */
  saveModel?: boolean;
}

/**
 * How a trial ended. `pruned`: stopped at a rung by the search's pruner (a result: its rung accuracy counts).
 * `interrupted`: stopped by the search's stop signal (not a result: it runs again on resume).
 */
export type TrialStatus = 'completed' | 'diverged' | 'pruned' | 'failed' | 'interrupted';

export interface TrialResult {
  trial: number;
  status: TrialStatus;
  /**
   * Final metrics (completed trials only). A search trial is not evaluated on the test split (test: null): only the
   * chosen trial's test accuracy is measured, from its model.json, after the search.
   */
  final: { train: SplitMetrics; val: SplitMetrics; test: SplitMetrics | null } | null;
  /** Update steps done (NaN when unknown: the worker died). */
  steps: number;
  /** Update steps of the whole run (what it costs unpruned), when known. */
  totalSteps?: number;
  /** Wall time of the trial, seconds. */
  seconds: number;
  /** Kernel backend that ran it, e.g. "wasm-simd". */
  backend: string;
  /** Kernel threads it used. */
  threads: number;
  /** Why it did not complete (diverged, pruned, failed, worker died). */
  reason?: string;
  /** A pruned trial: the rung step and its validation accuracy there. */
  pruned?: { step: number; valAccuracy: number };
  /**
   * A result file of the trial that could not be written (one line naming the file and the errno): the disk the search
   * writes to is full or failing, so the search stops instead of ranking what it could not record.
   */
  writeError?: string;
}

/** A trial at a rung: its validation accuracy after `step` update steps. */
export interface RungReport {
  trial: number;
  step: number;
  valAccuracy: number;
}

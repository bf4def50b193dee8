/**
 * The seam between the search logic and whatever runs trials. The search asks an executor to run one
 * trial at a time, never more than `slots` at once, and decides everything else itself (which trials,
 * what to record, when to stop). `LocalPoolExecutor` (local-pool.ts) runs trials on a Piscina pool of
 * worker threads of this process; an executor on a job-queue engine would implement the same interface.
 */
import type { RungDecision } from '../formats/rungs-csv.js';
import type { RungReport, TrialResult, TrialTask } from './types.js';

/** What a running trial tells the search while it runs (each optional; an executor forwards what it can). */
export interface TrialHooks {
  /**
   * Update steps done so far, of the trial's total, its latest validation accuracy where known, and, where the trial
   * started again (its worker died) or waited in a queue, how long its current attempt has run (progress display and
   * time estimates; called often, keep it cheap).
   */
  onProgress?: (p: TrialProgress) => void;
  /** The trial reached one of its task's rungs: the pruner's decision (the trial waits for it). */
  onRung?: (report: RungReport) => Promise<RungDecision> | RungDecision;
}

/** How far a running trial is: update steps done of its total, and its latest validation accuracy (once evaluated). */
export interface TrialProgress {
  steps: number;
  totalSteps: number;
  valAccuracy?: number;
  /** Seconds the current attempt has run (when the executor knows it): time estimates project from it. */
  attemptSeconds?: number;
}

export interface TrialExecutor {
  /** How many trials it runs at once (the search keeps this many in flight). */
  readonly slots: number;
  /** Kernel threads each trial uses (for logs and the summary). */
  readonly threadsPerTrial: number;
  /**
   * Runs one trial. When `signal` aborts, the trial must stop soon: resolve with status 'interrupted'
   * (or reject); either way the search treats it as not run. A rejection otherwise means the trial
   * failed (e.g. its worker died): the search records the error message as the reason.
   * `hooks.onProgress`, when given, hears now and then how many steps the trial has done (for time estimates);
   * an executor that cannot tell may never call it.
   */
  run(task: TrialTask, signal: AbortSignal, hooks?: TrialHooks): Promise<TrialResult>;
  /** Releases workers; waits for nothing that is still running to finish (the search aborts those first). */
  close(): Promise<void>;
}

/**
 * The executor with every trial's progress sent to `onProgress` (for callers, such as the search loop, that run
 * trials without a progress callback of their own).
 */
export function withTrialProgress(executor: TrialExecutor, onProgress: (trial: number, p: TrialProgress) => void): TrialExecutor {
  return {
    get slots() { return executor.slots; },
    get threadsPerTrial() { return executor.threadsPerTrial; },
    run: (task, signal, hooks) => executor.run(task, signal, {
      ...hooks,
      onProgress: (p) => {
        onProgress(task.trial, p);
        hooks?.onProgress?.(p);
      },
    }),
    close: () => executor.close(),
  };
}

/**
 * The seam between the search logic and whatever runs trials. The search asks an executor to run one
 * trial at a time, never more than `slots` at once, and decides everything else itself (which trials,
 * what to record, when to stop). `LocalPoolExecutor` (local-pool.ts) runs trials on a Piscina pool of
 * worker threads of this process; an executor on a job-queue engine would implement the same interface.
 */
import type { TrialResult, TrialTask } from './types.js';

export interface TrialExecutor {
  /** How many trials it runs at once (the search keeps this many in flight). */
  readonly slots: number;
  /** Kernel threads each trial uses (for logs and the summary). */
  readonly threadsPerTrial: number;
  /**
   * Runs one trial. When `signal` aborts, the trial must stop soon: resolve with status 'interrupted'
   * (or reject); either way the search treats it as not run. A rejection otherwise means the trial
   * failed (e.g. its worker died): the search records the error message as the reason.
   */
  run(task: TrialTask, signal: AbortSignal): Promise<TrialResult>;
  /** Releases workers; waits for nothing that is still running to finish (the search aborts those first). */
  close(): Promise<void>;
}

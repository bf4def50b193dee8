/** One trial, wherever it runs: runTraining on a kernel backend with the given threads, into the trial's folder. */
import type { Normalization } from '../data/normalization.js';
import type { Splits } from '../data/splits.js';
import { selectBackend } from '../kernels/select.js';
import type { KernelBackend } from '../kernels/backend.js';
import { runTraining } from '../pipeline/train.js';
import type { TrialResult, TrialTask } from './types.js';

export interface TrialData {
  splits: Splits;
  normalization: Normalization;
}

export interface RunTrialOptions {
  /** Kernel threads (≥ 1). */
  threads: number;
  /**
   * The backend to run on, kept by the caller from trial to trial: the trial frees its matrices (releaseAll)
   * instead of disposing it. Default: a new backend for this trial, disposed after it.
   */
  backend?: KernelBackend;
  /** Stops the training after the current step (the trial then reports 'interrupted'). */
  signal?: AbortSignal;
  /** Called after every update step with the steps done and the run's total (e.g. to poll a stop flag, report progress). */
  onStep?: (steps: number, totalSteps: number) => void;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function runTrial(task: TrialTask, data: TrialData, opts: RunTrialOptions): Promise<TrialResult> {
  const started = Date.now();
  const failed = (reason: string, backend = 'none', threads = 0): TrialResult => ({
    trial: task.trial, status: 'failed', final: null, steps: 0, seconds: (Date.now() - started) / 1000, backend, threads, reason,
  });
  let backend: KernelBackend;
  try {
    backend = opts.backend ?? (await selectBackend(task.config.kernels.backend, opts.threads)).backend;
  } catch (e) {
    return failed(message(e));
  }
  try {
    if (opts.signal?.aborted) return { ...failed('stopped before it started', backend.name, backend.threads + 1), status: 'interrupted' };
    const { summary } = await runTraining({
      config: task.config,
      splits: data.splits,
      normalization: data.normalization,
      backend,
      outDir: task.outDir,
      signal: opts.signal,
      onStep: opts.onStep ? (s, plan) => opts.onStep!(s.step, plan.totalSteps) : undefined,
    });
    return {
      trial: task.trial,
      status: summary.status,
      final: summary.final,
      steps: summary.steps,
      seconds: summary.seconds,
      backend: summary.backend,
      threads: summary.threads,
      ...(summary.error !== undefined ? { reason: summary.error } : {}),
    };
  } catch (e) {
    return failed(message(e), backend.name, backend.threads + 1);
  } finally {
    if (opts.backend) backend.releaseAll();
    else await Promise.resolve(backend.dispose()).catch(() => {});
  }
}

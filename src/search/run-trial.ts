/**
 * One trial, wherever it runs: runTraining on a kernel backend with the given threads, into the trial's folder, without
 * a test evaluation (only the search's chosen trial is tested); a completed trial of a task with `saveModel` leaves
 * its network in model.json.
 */
import type { Normalization } from '../data/normalization.js';
import type { Splits } from '../data/splits.js';
import { stepShapeOf } from '../model/shape.js';
import { selectTrainingBackend } from '../model/speed-probe.js';
import type { KernelBackend } from '../kernels/backend.js';
import { trainNetwork } from '../pipeline/network-run.js';
import { FileWriteError } from '../util/errno.js';
import type { RungDecision } from '../formats/rungs-csv.js';
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
  /** Called after every update step with the steps done, the run's total and the latest validation accuracy (e.g. to poll a stop flag). */
  onStep?: (stepsDone: number, totalSteps: number, valAccuracy?: number) => void;
  /** The pruner's decision at each of the task's rungs (without it the trial runs to its end). */
  onRung?: (step: number, valAccuracy: number) => Promise<RungDecision> | RungDecision;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function runTrial(task: TrialTask, data: TrialData, opts: RunTrialOptions): Promise<TrialResult> {
  const started = Date.now();
  const failed = (reason: string, backend = 'none', threads = 0): TrialResult => ({
    trial: task.trial, status: 'failed', final: null, steps: 0, seconds: (Date.now() - started) / 1000, backend, threads, reason,
  });
  let backend: KernelBackend;
  try {
    backend = opts.backend ?? (await selectTrainingBackend(task.config.kernels.backend, opts.threads, stepShapeOf(task.config.train, task.config.model))).backend;
  } catch (e) {
    return failed(message(e));
  }
  try {
    if (opts.signal?.aborted) return { ...failed('stopped before it started', backend.name, backend.threads), status: 'interrupted' };
    const { summary, writeError } = await trainNetwork({
      config: task.config, splits: data.splits, normalization: data.normalization, dataDir: task.dataDir, backend, dir: task.outDir,
      signal: opts.signal, testFinal: false, model: task.saveModel ? 'final' : 'none',
      ...(opts.onStep ? { onStep: opts.onStep } : {}),
      ...(task.rungs?.length && opts.onRung ? { rungs: { steps: task.rungs, decide: opts.onRung } } : {}),
    });
    return {
      trial: task.trial,
      status: summary.status === 'running' ? 'failed' : summary.status,
      final: summary.final,
      steps: summary.steps,
      totalSteps: summary.totalSteps,
      seconds: summary.seconds,
      backend: summary.backend,
      threads: summary.threads,
      ...(summary.error !== undefined ? { reason: summary.error } : {}),
      ...(summary.pruned ? { pruned: summary.pruned, reason: `pruned at step ${summary.pruned.step}` } : {}),
      ...(writeError ? { writeError: writeError.message } : {}),
    };
  } catch (e) {
    return { ...failed(message(e), backend.name, backend.threads), ...(e instanceof FileWriteError ? { writeError: e.message } : {}) };
  } finally {
    if (opts.backend) backend.releaseAll();
    else await Promise.resolve(backend.dispose()).catch(() => {});
  }
}

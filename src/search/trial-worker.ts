/**
 * The Piscina worker entry (bundled as dist/trial-worker.js): runs one trial per task.
 * The splits and the normalisation arrive in shared memory (SharedArrayBuffer views are shared across
 * threads, not copied). The stop flag is a shared Int32Array that the main thread sets to 1 to stop
 * the trial: it is polled after every update step and turned into the AbortSignal runTraining takes,
 * so an interrupted trial ends cleanly with its summary.json saying so. The optional progress array tells the
 * main thread how many steps the trial has done.
 * A worker keeps one kernel backend from trial to trial (its memory and kernel threads are reused; each trial
 * frees its matrices), and makes a new one after a failed trial, which may have left it broken.
 */
import type { BackendName } from '../kernels/names.js';
import type { KernelBackend } from '../kernels/backend.js';
import { selectTrainingBackend } from '../model/speed-probe.js';
import { runTrial, type TrialData } from './run-trial.js';
import type { MessagePort } from 'node:worker_threads';
import type { RungDecision } from '../formats/rungs-csv.js';
import type { TrialResult, TrialTask } from './types.js';

export interface WorkerTask {
  task: TrialTask;
  data: TrialData;
  threads: number;
  /** Shared Int32Array(1): 1 = stop. */
  stop: Int32Array;
  /** For a task with rungs: posts { step, valAccuracy } at each rung and receives the decision ('continue' | 'prune'). */
  rungPort?: MessagePort;
  /**
   * Shared Int32Array(3), when given: [update steps done, total steps, latest validation accuracy in millionths
   * (−1 before the first evaluation)], set after every step.
   */
  progress?: Int32Array;
}

/** Asks the search across the port and waits for its answer. */
function askOver(port: MessagePort): (step: number, valAccuracy: number) => Promise<RungDecision> {
  return (step, valAccuracy) => new Promise((resolve) => {
    port.once('message', (decision: RungDecision) => resolve(decision));
    port.postMessage({ step, valAccuracy });
  });
}

let held: { key: string; backend: KernelBackend } | undefined;

async function dropBackend(): Promise<void> {
  const old = held;
  held = undefined;
  await Promise.resolve(old?.backend.dispose()).catch(() => {});
}

/** This worker's backend for the choice and thread count (undefined when it does not load: runTrial then reports why). */
async function heldBackend(choice: BackendName, threads: number): Promise<KernelBackend | undefined> {
  const key = `${choice}/${threads}`;
  if (held?.key === key) return held.backend;
  await dropBackend();
  try {
    held = { key, backend: (await selectTrainingBackend(choice, threads)).backend };
    return held.backend;
  } catch {
    return undefined;
  }
}

export default async function trialWorker({ task, data, threads, stop, rungPort, progress }: WorkerTask): Promise<TrialResult> {
  const controller = new AbortController();
  const poll = () => {
    if (!controller.signal.aborted && Atomics.load(stop, 0) !== 0) controller.abort();
  };
  const onStep = (steps: number, totalSteps: number, valAccuracy?: number) => {
    if (progress) {
      Atomics.store(progress, 2, valAccuracy === undefined ? -1 : Math.round(valAccuracy * 1e6));
      Atomics.store(progress, 1, totalSteps);
      Atomics.store(progress, 0, steps);
    }
    poll();
  };
  poll();
  const backend = await heldBackend(task.config.kernels.backend, threads);
  try {
    const result = await runTrial(task, data, { threads, backend, signal: controller.signal, onStep, ...(rungPort ? { onRung: askOver(rungPort) } : {}) });
    if (result.status === 'failed') await dropBackend();
    return result;
  } finally {
    rungPort?.close();
  }
}

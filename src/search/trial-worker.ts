/**
 * The Piscina worker entry (bundled as dist/trial-worker.js): runs one trial per task.
 * The splits and the normalisation arrive in shared memory (SharedArrayBuffer views are shared across
 * threads, not copied). The stop flag is a shared Int32Array that the main thread sets to 1 to stop
 * the trial: it is polled after every update step and turned into the AbortSignal runTraining takes,
 * so an interrupted trial ends cleanly with its summary.json saying so.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { runTrial, type TrialData } from './run-trial.js';
import type { TrialResult, TrialTask } from './types.js';

export interface WorkerTask {
  task: TrialTask;
  data: TrialData;
  threads: number;
  /** Shared Int32Array(1): 1 = stop. */
  stop: Int32Array;
}

let gc: (() => void) | null | undefined;
/**
 * A full garbage collection. Each trial's kernel backend lives in its own WebAssembly memory, which V8 does
 * not count towards its heap: without this, the memories of finished trials pile up in a long-lived worker
 * until some unrelated collection happens (tens of MB per trial).
 */
function collectGarbage(): void {
  if (gc === undefined) {
    try {
      gc = (globalThis as { gc?: () => void }).gc ?? (setFlagsFromString('--expose-gc'), runInNewContext('gc') as () => void);
    } catch {
      gc = null;
    }
  }
  gc?.();
}

export default async function trialWorker({ task, data, threads, stop }: WorkerTask): Promise<TrialResult> {
  const controller = new AbortController();
  const poll = () => {
    if (!controller.signal.aborted && Atomics.load(stop, 0) !== 0) controller.abort();
  };
  poll();
  const result = await runTrial(task, data, { threads, signal: controller.signal, onStep: poll });
  collectGarbage();
  return result;
}

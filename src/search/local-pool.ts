/**
 * Trials on a Piscina pool of worker threads in this process. The splits (SharedArrayBuffer-backed)
 * and the normalisation (copied once into shared memory here) go with every task and are shared, not
 * copied: the dataset exists once however many workers run.
 *
 * Stopping: the search's signal sets the task's shared stop flag, so the trial stops after its current
 * step and returns 'interrupted'; should it not return within `graceMs`, the Piscina abort signal
 * terminates its worker.
 */
import { Piscina } from 'piscina';
import type { Normalization } from '../data/normalization.js';
import type { Splits } from '../data/splits.js';
import { MessageChannel, SHARE_ENV } from 'node:worker_threads';
import type { TrialExecutor, TrialHooks } from './executor.js';
import type { TrialData } from './run-trial.js';
import type { WorkerTask } from './trial-worker.js';
import type { TrialResult, TrialTask } from './types.js';
import { workerFile } from '../util/worker-file.js';

/** The worker file: dist/trial-worker.js (see workerFile). */
export function defaultWorkerFile(): string {
  return workerFile('trial-worker');
}

/** The normalisation in shared memory, so every task shares one copy. */
export function shareNormalization(n: Normalization): Normalization {
  const share = (a: Float32Array) => {
    if (a.buffer instanceof SharedArrayBuffer) return a;
    const s = new Float32Array(new SharedArrayBuffer(a.byteLength));
    s.set(a);
    return s;
  };
  return { mean: share(n.mean), invStd: share(n.invStd) };
}

export interface LocalPoolOptions {
  splits: Splits;
  normalization: Normalization;
  /** Trials at once (threads of the pool). */
  workers: number;
  /** Kernel threads per trial. */
  threadsPerTrial: number;
  /** The worker module (default: defaultWorkerFile()). */
  filename?: string;
  /** How long a stopped trial may take to return before its worker is terminated (default 15 s). */
  graceMs?: number;
  /** How often a running trial's step count is read for `run`'s onProgress (default 500 ms). */
  progressMs?: number;
}

export class LocalPoolExecutor implements TrialExecutor {
  readonly slots: number;
  readonly threadsPerTrial: number;
  private readonly pool: Piscina<WorkerTask, TrialResult>;
  private readonly data: TrialData;
  private readonly graceMs: number;
  private readonly progressMs: number;

  constructor(opts: LocalPoolOptions) {
    this.slots = Math.max(1, opts.workers);
    this.threadsPerTrial = Math.max(1, opts.threadsPerTrial);
    this.graceMs = opts.graceMs ?? 15_000;
    this.progressMs = opts.progressMs ?? 500;
    this.data = { splits: opts.splits, normalization: shareNormalization(opts.normalization) };
    for (const [name, ds] of Object.entries(opts.splits)) {
      if (!(ds.pixels.buffer instanceof SharedArrayBuffer)) throw new Error(`search: the ${name} split is not in shared memory`);
    }
    this.pool = new Piscina<WorkerTask, TrialResult>({
      filename: opts.filename ?? defaultWorkerFile(),
      minThreads: this.slots,
      maxThreads: this.slots,
      concurrentTasksPerWorker: 1,
      idleTimeout: 60_000,
      atomics: 'disabled',
      // the process's environment, not a copy: the BLAS reads its defaults from it when a worker loads it (blas-library.ts)
      env: SHARE_ENV,
    });
  }

  async run(task: TrialTask, signal: AbortSignal, hooks: TrialHooks = {}): Promise<TrialResult> {
    const stop = new Int32Array(new SharedArrayBuffer(4));
    // The worker writes [steps done, total steps, val accuracy × 1e6] after every step; read here a few times a second.
    const onProgress = hooks.onProgress;
    const progress = onProgress ? new Int32Array(new SharedArrayBuffer(12)) : undefined;
    let reported = 0;
    const report = () => {
      const steps = Atomics.load(progress!, 0);
      const val = Atomics.load(progress!, 2);
      if (steps !== reported) onProgress!({ steps: (reported = steps), totalSteps: Atomics.load(progress!, 1), ...(val >= 0 ? { valAccuracy: val / 1e6 } : {}) });
    };
    const reader = progress ? setInterval(report, this.progressMs) : undefined;
    reader?.unref();
    const kill = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const onStop = () => {
      Atomics.store(stop, 0, 1);
      timer = setTimeout(() => kill.abort(new Error(`trial ${task.trial} did not stop within ${this.graceMs / 1000}s: worker terminated`)), this.graceMs);
    };
    if (signal.aborted) onStop();
    else signal.addEventListener('abort', onStop, { once: true });
    // Rung reports cross the thread boundary on a MessageChannel: the worker waits for each decision.
    const channel = task.rungs?.length && hooks.onRung ? new MessageChannel() : null;
    channel?.port1.on('message', async ({ step, valAccuracy }: { step: number; valAccuracy: number }) => {
      const decision = await hooks.onRung!({ trial: task.trial, step, valAccuracy });
      channel.port1.postMessage(decision);
    });
    try {
      const workerTask: WorkerTask = { task, data: this.data, threads: this.threadsPerTrial, stop, ...(channel ? { rungPort: channel.port2 } : {}), ...(progress ? { progress } : {}) };
      return await this.pool.run(workerTask, { signal: kill.signal, ...(channel ? { transferList: [channel.port2] } : {}) });
    } finally {
      if (reader) clearInterval(reader);
      signal.removeEventListener('abort', onStop);
      if (timer) clearTimeout(timer);
      channel?.port1.close();
    }
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

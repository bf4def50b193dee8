/**
 * The learning-rate range test (Smith 2015, §3.3): one short run of the training stream whose learning rate grows
 * exponentially from lrFind.etaMin to lrFind.etaMax, recording the batch loss of every step; it stops once the
 * smoothed loss has blown up (lrFind.stopFactor × its lowest value) or diverged. Suggested range for a cyclical
 * schedule: etaMin where the smoothed loss starts to fall (it has fallen by lrFind.startDrop of its whole fall),
 * etaMax the learning rate of the lowest smoothed loss divided by lrFind.maxDivisor.
 *
 * It is the ordinary training pipeline (runTraining) with another etaAt, no evaluation and no checkpoints.
 */
import type { TrainConfig } from '../config/schema.js';
import type { Normalization } from '../data/normalization.js';
import type { Splits } from '../data/splits.js';
import type { KernelBackend } from '../kernels/backend.js';
import type { LrFindPoint, LrSuggestion } from '../formats/lr-find.js';
import { runTraining, type RunStatus } from './train.js';

export interface LrFindResult {
  status: RunStatus;
  /** Why the sweep ended before its last step (blown up, diverged, interrupted), else null. */
  stopped: string | null;
  points: LrFindPoint[];
  /** null when the loss never fell. */
  suggestion: LrSuggestion | null;
  seconds: number;
}

/** eta of step t of an n-step sweep: etaMin (etaMax / etaMin)^(t / (n − 1)). */
export function sweepEta(etaMin: number, etaMax: number, steps: number): (step: number) => number {
  const ratio = Math.log(etaMax / etaMin) / Math.max(1, steps - 1);
  return (step) => etaMin * Math.exp(ratio * step);
}

/** Exponential moving average with bias correction (the average of the first values is not pulled towards 0). */
export function smoother(beta: number): (value: number) => number {
  let avg = 0, n = 0;
  return (value) => {
    n++;
    avg = beta * avg + (1 - beta) * value;
    return beta === 0 ? value : avg / (1 - beta ** n);
  };
}

/** The suggested range from the recorded points (see the file comment); null when the loss never fell. */
export function suggestRange(points: readonly LrFindPoint[], startDrop: number, maxDivisor: number): LrSuggestion | null {
  const finite = points.filter((p) => Number.isFinite(p.smoothed));
  if (finite.length < 2) return null;
  let lowest = finite[0];
  for (const p of finite) if (p.smoothed < lowest.smoothed) lowest = p;
  const start = finite[0].smoothed, fall = start - lowest.smoothed;
  if (!(fall > 0) || lowest === finite[0]) return null;
  const begins = finite.find((p) => p.smoothed <= start - startDrop * fall)!;
  return {
    etaMin: begins.eta,
    etaMax: Math.max(begins.eta, lowest.eta / maxDivisor),
    lowest: { step: lowest.step, eta: lowest.eta, smoothed: lowest.smoothed },
  };
}

/** The config the sweep runs: the given one, lrFind.steps long, one network, without snapshots or checkpoints. */
export function lrFindConfig(config: TrainConfig): TrainConfig {
  const { steps } = config.lrFind;
  return {
    ...config,
    name: `${config.name}-lr-find`,
    schedule: { ...config.schedule, epochs: undefined, cycles: steps / (2 * config.schedule.ns) },
    ensemble: { ...config.ensemble, snapshots: 0, members: 1 },
    checkpoint: { every: 0 },
  };
}

export interface LrFindOptions {
  config: TrainConfig;
  splits: Splits;
  backend: KernelBackend;
  outDir: string;
  normalization?: Normalization;
  signal?: AbortSignal;
  onPoint?: (p: LrFindPoint, total: number) => void;
}

export async function runLrFind(opts: LrFindOptions): Promise<LrFindResult> {
  const { etaMin, etaMax, steps, smoothing, stopFactor, startDrop, maxDivisor } = opts.config.lrFind;
  const etaAt = sweepEta(etaMin, etaMax, steps);
  const smooth = smoother(smoothing);
  const points: LrFindPoint[] = [];
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  let lowest = Infinity, stopped: string | null = null;
  const started = performance.now();
  const { summary } = await runTraining({
    config: lrFindConfig(opts.config), splits: opts.splits, backend: opts.backend, outDir: opts.outDir,
    normalization: opts.normalization, signal, etaAt, evaluate: false,
    onStep: (s) => {
      if (s.step === 0) return; // the untrained network's record
      const p = { step: s.step - 1, eta: s.eta, loss: s.batchLoss, smoothed: smooth(s.batchLoss) };
      points.push(p);
      opts.onPoint?.(p, steps);
      lowest = Math.min(lowest, p.smoothed);
      if (p.smoothed > stopFactor * lowest && !stop.signal.aborted) {
        stopped = `the smoothed loss blew up (${p.smoothed.toPrecision(3)} > ${stopFactor} × ${lowest.toPrecision(3)}) at eta ${p.eta.toPrecision(3)}`;
        stop.abort();
      }
    },
  });
  // Blowing up and diverging are how a range test ends: only the user's stop interrupts it.
  let status = summary.status;
  if (status === 'diverged') {
    stopped = `the loss diverged at step ${summary.divergedAtStep} (eta ${etaAt((summary.divergedAtStep ?? 1) - 1).toPrecision(3)})`;
    status = 'completed';
  } else if (status === 'interrupted') {
    if (opts.signal?.aborted) stopped = 'interrupted';
    else status = 'completed';
  } else if (status === 'failed') {
    stopped = summary.error ?? 'failed';
  }
  return {
    status,
    stopped,
    points,
    suggestion: suggestRange(points, startDrop, maxDivisor),
    seconds: (performance.now() - started) / 1000,
  };
}

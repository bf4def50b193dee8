/**
 * Asynchronous successive halving (ASHA; Li et al., "A system for massively parallel hyperparameter tuning", MLSys
 * 2020), in its stopping form: rungs at minSteps × eta^k update steps; a trial reaching a rung reports its validation
 * accuracy there, and continues when that accuracy is at least the (1 − 1/eta) quantile of every accuracy reported at
 * that rung so far, its own included; otherwise it stops there (pruned). The decision is made at once from what the
 * rung holds: no trial ever waits for a rung to fill. The first trials at a rung therefore continue more easily than
 * later ones; over many trials about 1/eta of them pass each rung.
 *
 * A validation accuracy p measured on n records is noisy (standard error sqrt(p(1 − p)/n), about 0.7 points for
 * n = 5000 near 50%), and early in training the trials' differences are often of that size. With `tolerance` z > 0 a
 * trial continues when it falls short of the cutoff by at most z standard errors of its own accuracy (z = 1.96:
 * only trials whose 95% noise interval lies wholly below the cutoff stop); z = 0 is plain ASHA.
 *
 * The decisions are the search's, not an executor's: executors only forward rung reports (TrialHooks.onRung). Every
 * decision is recorded (rungs.csv); a pruner built from those records decides a repeated report (a trial that runs
 * again after an interruption) as it did before, and counts no accuracy twice.
 */
import type { RungRecord } from '../formats/rungs-csv.js';

export interface AshaOptions {
  minSteps: number;
  eta: number;
  maxRungs: number;
  /** Standard errors of a trial's accuracy it may fall short of the cutoff (default 0). */
  tolerance?: number;
  /** Validation records (for the standard error; needed when tolerance > 0). */
  valRecords?: number | null;
}

/** The q-quantile of values, interpolating linearly between order statistics (numpy's default). */
export function quantile(values: number[], q: number): number {
  return quantileSorted([...values].sort((a, b) => a - b), q);
}

function quantileSorted(v: number[], q: number): number {
  if (v.length === 0) return NaN;
  const pos = q * (v.length - 1);
  const lo = Math.floor(pos), frac = pos - lo;
  return lo + 1 < v.length ? v[lo] + (v[lo + 1] - v[lo]) * frac : v[lo];
}

export class AshaPruner {
  /** Every rung's step, ascending. */
  readonly ladder: number[];
  private readonly atRung = new Map<number, number[]>();
  private readonly decided = new Map<string, RungRecord>();
  private readonly log: RungRecord[] = [];

  constructor(readonly opts: AshaOptions, past: Iterable<RungRecord> = []) {
    this.ladder = Array.from({ length: opts.maxRungs }, (_, k) => opts.minSteps * opts.eta ** k).filter(Number.isSafeInteger);
    for (const r of past) this.remember(r);
  }

  private remember(r: RungRecord): void {
    const key = `${r.trial}@${r.step}`;
    if (this.decided.has(key)) return;
    this.decided.set(key, r);
    this.log.push(r);
    // kept sorted: each decision costs one insertion, not a sort
    const list = this.atRung.get(r.step) ?? [];
    let i = list.length;
    while (i > 0 && list[i - 1] > r.valAccuracy) i--;
    list.splice(i, 0, r.valAccuracy);
    this.atRung.set(r.step, list);
  }

  /** The rungs of a trial of `totalSteps` steps: those before its end (all of them when the length is unknown). */
  rungsFor(totalSteps?: number): number[] {
    return totalSteps === undefined || !Number.isFinite(totalSteps) ? [...this.ladder] : this.ladder.filter((s) => s < totalSteps);
  }

  /**
   * The decision for a trial at a rung step. `fresh` is false when this trial's report at this step was decided
   * before (the earlier record is returned unchanged).
   */
  decide(trial: number, step: number, valAccuracy: number): { record: RungRecord; fresh: boolean } {
    const earlier = this.decided.get(`${trial}@${step}`);
    if (earlier) return { record: earlier, fresh: false };
    const rung = this.ladder.indexOf(step);
    const held = this.atRung.get(step) ?? [];
    let i = held.length;
    while (i > 0 && held[i - 1] > valAccuracy) i--;
    const values = [...held.slice(0, i), valAccuracy, ...held.slice(i)];
    const cutoff = quantileSorted(values, 1 - 1 / this.opts.eta);
    const margin = this.marginOf(valAccuracy);
    const record: RungRecord = {
      trial, rung: rung < 0 ? NaN : rung, step, valAccuracy, cutoff, margin, reported: values.length,
      decision: rung < 0 || valAccuracy + margin >= cutoff ? 'continue' : 'prune',
    };
    this.remember(record);
    return { record, fresh: true };
  }

  private marginOf(p: number): number {
    const z = this.opts.tolerance ?? 0, n = this.opts.valRecords ?? 0;
    return z > 0 && n > 0 ? z * Math.sqrt(Math.max(0, p * (1 - p)) / n) : 0;
  }

  /** Every decision so far, in the order made. */
  records(): RungRecord[] {
    return [...this.log];
  }
}

/** What a search's rows add up to: the latest row of each trial, the ranking, the budget, what a model-based sampler learns. */
import type { RankedTrial } from '../formats/search-summary.js';
import type { TrialRow } from '../formats/trials-csv.js';
import type { Observation } from './samplers.js';

/** The latest row of every trial (a trial that ran again after a failure has a later row). */
export function latestRows(rows: TrialRow[]): Map<number, TrialRow> {
  const m = new Map<number, TrialRow>();
  for (const r of rows) m.set(r.trial, r);
  return m;
}

/** Completed trials by validation accuracy, best first (ties: lower trial number first). */
export function rankTrials(rows: Iterable<TrialRow>): RankedTrial[] {
  return [...rows]
    .filter((r) => r.status === 'completed' && r.val_acc !== null)
    .sort((a, b) => b.val_acc! - a.val_acc! || a.trial - b.trial)
    .map((r, i) => ({ rank: i + 1, ...r }));
}

/** What the finished trials tell a model-based sampler. */
export function observations(rows: Iterable<TrialRow>): Observation[] {
  const out: Observation[] = [];
  for (const r of rows) {
    if (r.status === 'completed') out.push({ values: r.params, level: 1, accuracy: r.val_acc ?? NaN });
    else if (r.status === 'pruned') out.push({ values: r.params, level: (r.steps ?? 0) / (r.total_steps ?? Infinity), accuracy: r.val_acc ?? NaN });
    else if (r.status === 'diverged') out.push({ values: r.params, level: -1, accuracy: NaN });
  }
  return out;
}

/** Steps the trials took, and what they would have taken without pruning. */
export function budgetOf(rows: Iterable<TrialRow>): { stepsSpent: number; stepsWithoutPruning: number } {
  let stepsSpent = 0, stepsWithoutPruning = 0;
  for (const r of rows) {
    const steps = r.steps ?? 0;
    stepsSpent += steps;
    stepsWithoutPruning += r.status === 'pruned' ? (r.total_steps ?? steps) : steps;
  }
  return { stepsSpent, stepsWithoutPruning };
}

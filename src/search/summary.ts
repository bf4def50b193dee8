/** A search's summary.json from its plan and results: counts, ranking, budget, every trial's latest result. */
import type { SearchConfig } from '../config/search-schema.js';
import type { RungRecord } from '../formats/rungs-csv.js';
import { trialId, type SearchPlan } from '../formats/search-plan.js';
import { SEARCH_SUMMARY_VERSION, type ChosenTrial, type SearchStatus, type SearchSummary, type TrialEntry } from '../formats/search-summary.js';
import type { TrialRow } from '../formats/trials-csv.js';
import { budgetOf, rankTrials } from './ranking.js';

/** Peak resident memory of this process so far, its worker threads included (getrusage maxRSS), MiB. */
export const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;

export function buildSummary(o: {
  config: SearchConfig; plan: SearchPlan; rows: ReadonlyMap<number, TrialRow>; status: SearchStatus; note?: string;
  workers: number; threadsPerTrial: number; startedAt: number; trialSeconds: number; rungs: RungRecord[];
  chosen?: ChosenTrial | null; valRecords: number | null;
  /** Seconds of the sessions before this one (a resumed search). */
  secondsBefore?: number;
}): SearchSummary {
  const { plan, rows } = o;
  const total = plan.total;
  const planned = new Map(plan.trials.map((t) => [t.trial, t]));
  const results: TrialEntry[] = Array.from({ length: total }, (_, i) => {
    const t = planned.get(i + 1) ?? { trial: i + 1, params: {} };
    const row = rows.get(t.trial) ?? null;
    return { ...t, id: trialId(t.trial, total), status: row?.status ?? 'pending', row };
  });
  const count = (s: TrialEntry['status']) => results.filter((r) => r.status === s).length;
  const ranking = rankTrials(results.flatMap((r) => (r.row ? [r.row] : [])));
  const backends = [...new Set(results.flatMap((r) => (r.row?.backend ? [r.row.backend] : [])))];
  return {
    kind: 'search',
    version: SEARCH_SUMMARY_VERSION,
    status: o.status,
    name: o.config.name,
    ...(o.note ? { note: o.note } : {}),
    trials: total,
    counts: { completed: count('completed'), pruned: count('pruned'), diverged: count('diverged'), failed: count('failed'), pending: count('pending') },
    sampler: plan.sampler,
    seed: plan.seed,
    params: Object.keys(plan.space),
    space: plan.space,
    spaceSource: plan.spaceSource,
    pruning: o.config.pruning,
    budget: budgetOf(rows.values()),
    valRecords: o.valRecords,
    workers: o.workers,
    threadsPerTrial: o.threadsPerTrial,
    backend: backends.length ? backends.join(', ') : null,
    startedAt: new Date(o.startedAt).toISOString(),
    finishedAt: new Date().toISOString(),
    seconds: (o.secondsBefore ?? 0) + (Date.now() - o.startedAt) / 1000,
    ...(o.secondsBefore !== undefined ? { secondsSinceResume: (Date.now() - o.startedAt) / 1000 } : {}),
    trialSeconds: o.trialSeconds,
    peakRssMiB: peakRssMiB(),
    best: ranking.slice(0, 3),
    chosen: o.chosen ?? null,
    ranking,
    results,
    rungs: o.rungs,
    config: o.config,
  };
}

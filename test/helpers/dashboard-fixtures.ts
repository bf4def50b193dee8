/**
 * Run and search folders for the dashboard's tests and benchmark, written through the format modules (MetricsLog,
 * writeRunSummary, writeSearchPlan, TrialsLog, RungsLog, writeSearchSummary) as a run or search writes them.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ParamSpec } from '../../src/config/search-schema.js';
import { MetricsLog, type StepMetrics } from '../../src/formats/metrics-csv.js';
import { writeRunSummary, type Summary } from '../../src/formats/run-summary.js';
import { RungsLog, type RungRecord } from '../../src/formats/rungs-csv.js';
import { trialDir, writeSearchPlan } from '../../src/formats/search-plan.js';
import { writeSearchSummary, type SearchSummary } from '../../src/formats/search-summary.js';
import { TrialsLog, type TrialRow } from '../../src/formats/trials-csv.js';

/** The evaluation point of a synthetic run at `step` (accuracy rising towards `top`). */
export function stepMetrics(step: number, top = 0.45): StepMetrics {
  const acc = 0.1 + (top - 0.1) * (1 - Math.exp(-step / 300));
  const loss = 2.3 - 1.2 * (1 - Math.exp(-step / 300));
  return {
    step, epoch: step / 100, eta: 1e-5 + 0.1 * Math.abs(Math.sin(step / 200)),
    train: { loss, cost: loss + 0.2, accuracy: acc + 0.05 }, val: { loss: loss + 0.1, cost: loss + 0.3, accuracy: acc }, elapsed_s: step / 100,
  };
}

export interface RunFixture {
  name: string;
  status?: Summary['status'];
  /** Evaluation points written (every `every` steps from 0). */
  points: number;
  every?: number;
  totalSteps?: number;
  top?: number;
}

/** The summary.json of a synthetic run. */
export function runSummary(f: RunFixture, steps: number): Summary {
  const ended = (f.status ?? 'completed') !== 'running';
  const last = stepMetrics(steps, f.top);
  return {
    kind: 'run', version: 1, status: f.status ?? 'completed', name: f.name, backend: 'wasm-simd', threads: 1, seed: 1,
    steps, totalSteps: f.totalSteps ?? steps, epochs: steps / 100, seconds: steps / 100, samplesPerSecond: 10_000,
    startedAt: '2026-01-01T00:00:00.000Z', finishedAt: ended ? '2026-01-01T00:01:00.000Z' : '',
    config: { name: f.name, train: { lambda: 0.01 }, model: { hidden: 50 } } as unknown as Summary['config'],
    final: ended ? { train: last.train, val: last.val, test: { loss: 1.5, cost: 1.8, accuracy: (f.top ?? 0.45) - 0.01 } } : null,
    lastMetrics: last,
  };
}

/** A run folder: metrics.csv with `points` rows and its summary.json. */
export async function writeRunFolder(dir: string, f: RunFixture): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const every = f.every ?? 10;
  writeRunSummary(dir, runSummary({ ...f, status: 'running' }, 0));
  const log = new MetricsLog(join(dir, 'metrics.csv'), false);
  for (let i = 0; i < f.points; i++) await log.write(stepMetrics(i * every, f.top));
  await log.close();
  writeRunSummary(dir, runSummary(f, (f.points - 1) * every));
}

export const FIXTURE_SPACE: Record<string, ParamSpec> = {
  'base.train.lambda': { dist: 'log-uniform', min: 1e-5, max: 1e-1 } as ParamSpec,
  'base.model.hidden': { dist: 'int', min: 20, max: 200, log: true } as ParamSpec,
};

export interface SearchFixture {
  name: string;
  trials: number;
  /** Trials 1..finished have a row in trials.csv (every third pruned at rung 0). */
  finished: number;
  status?: SearchSummary['status'];
}

const paramsOf = (t: number) => ({ 'base.train.lambda': 10 ** (-5 + ((t * 7919) % 4000) / 1000), 'base.model.hidden': 20 + ((t * 104729) % 180) });

/** The result row of fixture trial `t`. */
export function trialRow(t: number): TrialRow {
  const pruned = t % 3 === 0;
  return {
    trial: t, params: paramsOf(t), status: pruned ? 'pruned' : 'completed', train_acc: 0.5, val_acc: 0.3 + ((t * 31) % 200) / 1000,
    train_cost: 1.5, val_cost: 1.7, steps: pruned ? 40 : 120, total_steps: 120, seconds: 1, backend: 'wasm-simd', threads: 1, reason: null,
  };
}

/** A search folder: plan.json, trials.csv and rungs.csv with the rows of the finished trials, summary.json. */
export async function writeSearchFolder(dir: string, f: SearchFixture): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const trials = Array.from({ length: f.trials }, (_, i) => ({ trial: i + 1, params: paramsOf(i + 1) }));
  writeSearchPlan(dir, { version: 2, name: f.name, seed: 1, sampler: 'random', space: FIXTURE_SPACE, spaceSource: 'config', total: f.trials, trials, key: {}, createdAt: '2026-01-01T00:00:00.000Z' });
  const paths = Object.keys(FIXTURE_SPACE);
  const log = new TrialsLog(dir, paths, false);
  const rungs = new RungsLog(dir, false);
  const rows: TrialRow[] = [];
  const decisions: RungRecord[] = [];
  for (let t = 1; t <= f.finished; t++) {
    const row = trialRow(t);
    const rung: RungRecord = { trial: t, rung: 0, step: 40, valAccuracy: row.val_acc!, cutoff: 0.35, margin: 0, reported: t, decision: row.status === 'pruned' ? 'prune' : 'continue' };
    await rungs.write(rung);
    await log.write(row);
    rows.push(row);
    decisions.push(rung);
  }
  await log.close();
  await rungs.close();
  writeSearchSummary(dir, searchSummary(f, rows, decisions));
}

/** The summary.json of a fixture search over `rows`. */
export function searchSummary(f: SearchFixture, rows: TrialRow[], rungs: RungRecord[]): SearchSummary {
  const ranking = rows.filter((r) => r.status === 'completed').sort((a, b) => b.val_acc! - a.val_acc!).map((r, i) => ({ ...r, rank: i + 1 }));
  const best = ranking[0];
  return {
    kind: 'search', version: 1, status: f.status ?? (f.finished === f.trials ? 'completed' : 'running'), name: f.name, trials: f.trials,
    counts: { completed: ranking.length, pruned: rows.length - ranking.length, diverged: 0, failed: 0, pending: f.trials - rows.length },
    sampler: 'random', seed: 1, params: Object.keys(FIXTURE_SPACE), space: FIXTURE_SPACE, spaceSource: 'config',
    pruning: { rule: 'asha', minSteps: 40, eta: 3, maxRungs: 1, tolerance: 0 } as SearchSummary['pruning'],
    budget: { stepsSpent: 0, stepsWithoutPruning: 0 }, valRecords: 1000, workers: 2, threadsPerTrial: 1, backend: 'wasm-simd',
    startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '', seconds: 10, trialSeconds: 10, peakRssMiB: 100,
    best: ranking.slice(0, 3), ranking,
    chosen: best && f.finished === f.trials ? { trial: best.trial, id: trialDir('', best.trial, f.trials).split('/').pop()!, params: best.params, valAccuracy: best.val_acc!, test: { loss: 1.5, cost: 1.8, accuracy: 0.41 } } : null,
    results: [], rungs, config: {} as SearchSummary['config'],
  };
}

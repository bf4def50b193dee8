// Pruning (ASHA): the promotion rule, decisions made at once in any order (no rung ever waits to fill), decisions kept
// across a resume (rungs.csv), the search's budget, and pruning end to end with real trials on an inline executor.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchSchema, type SearchConfig } from '../src/config/search-schema.js';
import { computeNormalization } from '../src/data/normalization.js';
import { loadSplits } from '../src/data/splits.js';
import type { TrialExecutor, TrialHooks } from '../src/search/executor.js';
import { AshaPruner, quantile } from '../src/search/pruner.js';
import { readRungsCsv, RUNG_COLUMNS } from '../src/formats/rungs-csv.js';
import { readTrialsCsv } from '../src/formats/trials-csv.js';
import { runTrial, type TrialData } from '../src/search/run-trial.js';
import type { SearchSummary } from '../src/formats/search-summary.js';
import { budgetOf, observations } from '../src/search/ranking.js';
import { runSearch } from '../src/search/run-search.js';
import type { TrialResult, TrialTask } from '../src/search/types.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'search-pruning-test-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('ASHA decisions', () => {
  it('interpolates quantiles linearly between order statistics', () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4], 0)).toBe(1);
    expect(quantile([1, 2, 3, 4], 1)).toBe(4);
    expect(quantile([0.4, 0.5], 2 / 3)).toBeCloseTo(0.4 + 0.1 * (2 / 3), 15);
    expect(quantile([7], 0.9)).toBe(7);
  });

  it('places rungs at minSteps × eta^k, before each trial\'s end', () => {
    const p = new AshaPruner({ minSteps: 100, eta: 3, maxRungs: 4 });
    expect(p.ladder).toEqual([100, 300, 900, 2700]);
    expect(p.rungsFor(900)).toEqual([100, 300]);
    expect(p.rungsFor(901)).toEqual([100, 300, 900]);
    expect(p.rungsFor(undefined)).toEqual([100, 300, 900, 2700]);
  });

  it('decides each report at once from what the rung holds, in whatever order reports arrive', () => {
    const p = new AshaPruner({ minSteps: 10, eta: 3, maxRungs: 2 });
    // the first report at a rung always continues: there is nothing to compare with, and nothing is waited for
    expect(p.decide(1, 10, 0.40).record).toMatchObject({ decision: 'continue', cutoff: 0.40, reported: 1, rung: 0 });
    // trial 1 reaches rung 1 while rung 0 holds one report: decided at once
    expect(p.decide(1, 30, 0.45).record).toMatchObject({ decision: 'continue', reported: 1, rung: 1 });
    // below the 2/3 quantile of {0.40, 0.30}: pruned
    const second = p.decide(2, 10, 0.30).record;
    expect(second.decision).toBe('prune');
    expect(second.cutoff).toBeCloseTo(0.30 + (2 / 3) * 0.10, 12);
    expect(p.decide(3, 10, 0.50).record.decision).toBe('continue');
    // {0.30, 0.40, 0.45, 0.50}: the 2/3 quantile is 0.45, reached exactly
    expect(p.decide(4, 10, 0.45).record).toMatchObject({ decision: 'continue', cutoff: 0.45, reported: 4 });
    expect(p.decide(5, 10, 0.41).record.decision).toBe('prune');
    // about 1 in eta passes over many reports
    const q = new AshaPruner({ minSteps: 10, eta: 3, maxRungs: 1 });
    let passed = 0;
    for (let t = 1; t <= 600; t++) if (q.decide(t, 10, ((t * 7919) % 1000) / 1000).record.decision === 'continue') passed++;
    expect(passed / 600).toBeGreaterThan(0.28);
    expect(passed / 600).toBeLessThan(0.45);
  });

  it('with a tolerance, stops only trials below the cutoff by more than their noise', () => {
    const n = 5000, se = (p: number) => Math.sqrt((p * (1 - p)) / n);
    const p = new AshaPruner({ minSteps: 400, eta: 4, maxRungs: 2, tolerance: 1.96, valRecords: n });
    p.decide(1, 400, 0.4524);
    p.decide(2, 400, 0.4732);
    // 0.4660 is 0.36 points below the cutoff 0.4696, within 1.96 standard errors (1.38 points): continues
    const close = p.decide(3, 400, 0.466).record;
    expect(close.cutoff).toBeCloseTo(0.4696, 12);
    expect(close.margin).toBeCloseTo(1.96 * se(0.466), 15);
    expect(close.decision).toBe('continue');
    // 0.4366 is 3 points below: stops
    expect(p.decide(4, 400, 0.4366).record.decision).toBe('prune');
    // plain ASHA stops the close one too
    const plain = new AshaPruner({ minSteps: 400, eta: 4, maxRungs: 2 });
    for (const [t, a] of [[1, 0.4524], [2, 0.4732]] as const) plain.decide(t, 400, a);
    expect(plain.decide(3, 400, 0.466).record).toMatchObject({ decision: 'prune', margin: 0 });
  });

  it('a pruner built from the recorded decisions repeats them and counts no accuracy twice', () => {
    const p = new AshaPruner({ minSteps: 10, eta: 2, maxRungs: 2 });
    for (const [t, acc] of [[1, 0.5], [2, 0.4], [3, 0.6]] as const) p.decide(t, 10, acc);
    const again = new AshaPruner({ minSteps: 10, eta: 2, maxRungs: 2 }, p.records());
    expect(again.records()).toEqual(p.records());
    // trial 2 runs again after an interruption: the same decision, not a new record
    const repeat = again.decide(2, 10, 0.4);
    expect(repeat.fresh).toBe(false);
    expect(repeat.record).toEqual(p.records()[1]);
    expect(again.records()).toHaveLength(3);
    // a new trial is compared with the three recorded accuracies, not four
    const fresh = again.decide(4, 10, 0.55);
    expect(fresh.fresh).toBe(true);
    expect(fresh.record.reported).toBe(4);
    expect(fresh.record.cutoff).toBeCloseTo(quantile([0.5, 0.4, 0.6, 0.55], 0.5), 15);
  });
});

describe('budget and observations', () => {
  it('counts the steps taken, and what the same trials take unpruned', () => {
    const row = (status: 'completed' | 'pruned' | 'diverged' | 'failed', steps: number | null, total: number | null) => ({
      trial: 1, params: {}, status, train_acc: null, val_acc: 0.4, train_cost: null, val_cost: null, steps, total_steps: total, seconds: 1, backend: null, threads: 1, reason: null,
    });
    expect(budgetOf([row('completed', 900, 900), row('pruned', 100, 900), row('pruned', 300, 900), row('diverged', 50, 900), row('failed', null, null)]))
      .toEqual({ stepsSpent: 1350, stepsWithoutPruning: 2750 });
    expect(observations([row('completed', 900, 900), row('pruned', 300, 900), row('diverged', 50, 900), row('failed', null, null)]).map((o) => o.level))
      .toEqual([1, 1 / 3, -1]);
  });
});

/** A simulated trial: accuracy rises with steps and peaks at lambda = 1e-3; reports at its rungs with random delays. */
class FakeExecutor implements TrialExecutor {
  readonly threadsPerTrial = 1;
  readonly started: number[] = [];
  constructor(readonly slots: number, private readonly total: number, private readonly stopAfter?: { trials: number; controller: AbortController }) {}
  static accuracy(params: TrialTask['params'], step: number): number {
    const l = Math.log10(params['base.train.lambda'] as number);
    return 0.5 - 0.05 * (l + 3) ** 2 + 0.1 * Math.min(1, step / 900) - 0.1;
  }
  async run(task: TrialTask, signal: AbortSignal, hooks: TrialHooks = {}): Promise<TrialResult> {
    this.started.push(task.trial);
    if (this.stopAfter && this.started.length > this.stopAfter.trials) this.stopAfter.controller.abort();
    const base = { trial: task.trial, seconds: 0.01, backend: 'fake', threads: 1, totalSteps: this.total };
    for (const step of task.rungs ?? []) {
      await new Promise((r) => setTimeout(r, (task.trial * 37) % 11));
      if (signal.aborted) return { ...base, status: 'interrupted', final: null, steps: step };
      const valAccuracy = FakeExecutor.accuracy(task.params, step);
      if ((await hooks.onRung?.({ trial: task.trial, step, valAccuracy })) === 'prune') {
        return { ...base, status: 'pruned', final: null, steps: step, pruned: { step, valAccuracy }, reason: `pruned at step ${step}` };
      }
    }
    const acc = FakeExecutor.accuracy(task.params, this.total);
    const m = { loss: 1, cost: 1, accuracy: acc };
    return { ...base, status: 'completed', final: { train: m, val: m, test: null }, steps: this.total };
  }
  async close(): Promise<void> {}
}

const fakeConfig = (over: Record<string, unknown> = {}): SearchConfig => searchSchema.parse({
  kind: 'search', name: 'fake', seed: 5, trials: 27, workers: 3,
  space: { params: { 'base.train.lambda': { dist: 'log-uniform', min: 1e-6, max: 1 } } },
  pruning: { rule: 'asha', minSteps: 100, eta: 3, maxRungs: 3 },
  base: { schedule: { ns: 450, cycles: 1 }, data: { holdout: 100 } },
  ...over,
});

describe('search with ASHA (simulated trials)', () => {
  it('prunes below the promotion quantile, records every decision, and spends fewer steps', async () => {
    const out = join(root, 'fake');
    mkdirSync(out);
    const ex = new FakeExecutor(3, 900);
    const s = await runSearch({ config: fakeConfig(), outDir: out, dataDir: root, executor: () => ex, render: false });
    expect(s.status).toBe('completed');
    expect(s.counts.pruned).toBeGreaterThan(10);
    expect(s.counts.completed + s.counts.pruned).toBe(27);
    // every decision in rungs.csv, in summary.json, and consistent with the trials
    const { records } = await readRungsCsv(join(out, 'rungs.csv'), false);
    expect(readFileSync(join(out, 'rungs.csv'), 'utf8').split('\n')[0]).toBe(RUNG_COLUMNS.join(','));
    expect(records).toEqual(s.rungs);
    for (const r of records) expect([100, 300]).toContain(r.step); // 900 is the end, not a rung
    for (const r of records) expect(r.decision).toBe(r.valAccuracy >= r.cutoff ? 'continue' : 'prune');
    for (const r of records) expect(r.margin).toBe(0);
    const { rows } = await readTrialsCsv(join(out, 'trials.csv'), s.space, false);
    for (const row of rows) {
      const mine = records.filter((r) => r.trial === row.trial);
      if (row.status === 'pruned') {
        expect(mine.at(-1)!.decision).toBe('prune');
        expect(row.steps).toBe(mine.at(-1)!.step);
        expect(row.val_acc).toBe(mine.at(-1)!.valAccuracy);
        expect(row.total_steps).toBe(900);
      } else {
        expect(row.status).toBe('completed');
        expect(mine.map((r) => r.decision)).toEqual(['continue', 'continue']);
      }
    }
    const spent = rows.reduce((a, r) => a + r.steps!, 0);
    expect(s.budget).toEqual({ stepsSpent: spent, stepsWithoutPruning: 27 * 900 });
    expect(s.budget.stepsSpent / s.budget.stepsWithoutPruning).toBeLessThan(0.5);
    // the best trial of the search is among the completed ones and lies near the optimum
    expect(Math.abs(Math.log10(s.ranking[0].params['base.train.lambda'] as number) + 3)).toBeLessThan(1);
  });

  it('never waits for a rung to fill: one trial at a time, each decided alone', async () => {
    const out = join(root, 'fake-one');
    mkdirSync(out);
    const s = await runSearch({ config: fakeConfig({ trials: 6, workers: 1 }), outDir: out, dataDir: root, executor: () => new FakeExecutor(1, 900), render: false });
    expect(s.status).toBe('completed');
    expect(s.rungs[0]).toMatchObject({ trial: 1, step: 100, reported: 1, decision: 'continue' });
  });

  it('resume keeps the pruning decisions: none is made twice, later trials are compared with all of them', async () => {
    const out = join(root, 'fake-resume');
    mkdirSync(out);
    const controller = new AbortController();
    const first = await runSearch({
      config: fakeConfig(), outDir: out, dataDir: root, render: false, signal: controller.signal,
      executor: () => new FakeExecutor(3, 900, { trials: 12, controller }),
    });
    expect(first.status).toBe('interrupted');
    const before = (await readRungsCsv(join(out, 'rungs.csv'), false)).records;
    expect(before.length).toBeGreaterThan(5);
    const second = await runSearch({ config: fakeConfig(), outDir: out, dataDir: root, render: false, resume: true, executor: () => new FakeExecutor(3, 900) });
    expect(second.status).toBe('completed');
    const after = (await readRungsCsv(join(out, 'rungs.csv'), false)).records;
    // the first session's decisions are kept as they were, each (trial, step) decided once
    expect(after.slice(0, before.length)).toEqual(before);
    expect(new Set(after.map((r) => `${r.trial}@${r.step}`)).size).toBe(after.length);
    // a trial pruned before the stop stays pruned and is not run again
    const prunedBefore = first.results.filter((e) => e.status === 'pruned').map((e) => e.trial);
    expect(prunedBefore.length).toBeGreaterThan(0);
    for (const t of prunedBefore) expect(second.results.find((e) => e.trial === t)!.status).toBe('pruned');
    // every later decision counted the earlier reports of its rung
    for (const r of after.slice(before.length)) {
      expect(r.reported).toBe(after.filter((x) => x.step === r.step && after.indexOf(x) <= after.indexOf(r)).length);
    }
    expect(second.counts.completed + second.counts.pruned).toBe(27);
  });

  it('TPE with pruning: proposes every trial after the startup ones from the results, and records them in plan.json', async () => {
    const out = join(root, 'fake-tpe');
    mkdirSync(out);
    const cfg = fakeConfig({ trials: 20, space: { sampler: 'tpe', tpe: { startup: 6 }, params: { 'base.train.lambda': { dist: 'log-uniform', min: 1e-6, max: 1 } } } });
    const s = await runSearch({ config: cfg, outDir: out, dataDir: root, executor: () => new FakeExecutor(3, 900), render: false });
    expect(s.status).toBe('completed');
    const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as { trials: Array<{ trial: number; params: Record<string, number> }>; total: number };
    expect(plan.total).toBe(20);
    expect(plan.trials.map((t) => t.trial)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // the proposals lean towards the optimum (1e-3) more than the random startup trials
    const dist = (t: { params: Record<string, number> }) => Math.abs(Math.log10(t.params['base.train.lambda']) + 3);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(mean(plan.trials.slice(10).map(dist))).toBeLessThan(mean(plan.trials.slice(0, 6).map(dist)));

    // one trial at a time, the same config proposes the same trials
    const once = async (name: string) => {
      const dir = join(root, name);
      mkdirSync(dir);
      await runSearch({ config: { ...cfg, workers: 1 }, outDir: dir, dataDir: root, executor: () => new FakeExecutor(1, 900), render: false });
      return (JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')) as typeof plan).trials;
    };
    const a = await once('fake-tpe-a');
    expect(await once('fake-tpe-b')).toEqual(a);
    expect(a.slice(0, 6)).toEqual(plan.trials.slice(0, 6)); // the random startup trials
  });
});

describe('search with ASHA (real trials, inline)', () => {
  it('stops trials at their rungs through runTrial, and the budget says so', async () => {
    const dataDir = writeSyntheticCifar(join(root, 'data'), 200, 90);
    const cfg = searchSchema.parse({
      kind: 'search', name: 'inline-asha', seed: 2, trials: 6, workers: 1,
      space: { params: { 'base.train.lambda': { dist: 'log-uniform', min: 1e-4, max: 10 } } },
      pruning: { rule: 'asha', minSteps: 6, eta: 2, maxRungs: 2 },
      base: {
        data: { train: ['data_batch_1', 'data_batch_2'], holdout: 100, test: ['test_batch'] }, model: { hidden: 16 }, train: { batchSize: 50 },
        schedule: { etaMin: 1e-4, etaMax: 0.05, ns: 12, cycles: 1 }, eval: { pointsPerCycle: 4 }, kernels: { backend: 'auto' },
      },
    });
    const splits = loadSplits(cfg.base.data, dataDir);
    const data: TrialData = { splits, normalization: computeNormalization(splits.train) };
    const tasks: TrialTask[] = [];
    const inline: TrialExecutor = {
      slots: 1, threadsPerTrial: 1,
      run: (task, signal, hooks) => {
        tasks.push(task);
        return runTrial(task, data, { threads: 1, signal, ...(hooks?.onRung ? { onRung: (step, valAccuracy) => hooks.onRung!({ trial: task.trial, step, valAccuracy }) } : {}) });
      },
      close: async () => {},
    };
    const out = join(root, 'inline-asha');
    mkdirSync(out);
    writeFileSync(join(out, '.keep'), '');
    const s: SearchSummary = await runSearch({ config: cfg, outDir: out, dataDir, executor: () => inline, render: false, trainRecords: splits.train.count });
    expect(tasks.every((t) => JSON.stringify(t.rungs) === '[6,12]')).toBe(true);
    expect(s.counts.pruned).toBeGreaterThan(0);
    for (const e of s.results.filter((r) => r.status === 'pruned')) {
      expect([6, 12]).toContain(e.row!.steps);
      const summary = JSON.parse(readFileSync(join(out, 'trials', e.id, 'summary.json'), 'utf8'));
      expect(summary.status).toBe('pruned');
      expect(summary.pruned.step).toBe(e.row!.steps);
    }
    expect(s.budget.stepsWithoutPruning).toBe(6 * 24);
    expect(s.budget.stepsSpent).toBeLessThan(s.budget.stepsWithoutPruning);
  }, 300_000);
});

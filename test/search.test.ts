// The search: config (space syntax, schema errors), trial planning, pool sizing, trials.csv, ranking, kept models, the
// chosen trial's test accuracy, faults and resume, driven in-process through the executor seam (an executor that runs
// trials inline on the auto backend). The Piscina pool and the CLI are covered by search-pool.test.ts, the samplers by
// search-samplers.test.ts, pruning by search-pruning.test.ts.
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../src/util/errors.js';
import { loadConfig, validateConfig } from '../src/config/load.js';
import { searchSchema, type SearchConfig } from '../src/config/search-schema.js';
import { computeNormalization } from '../src/data/normalization.js';
import { loadSplits } from '../src/data/splits.js';
import { loadCheckpoint } from '../src/formats/model-file.js';
import type { TrialExecutor } from '../src/search/executor.js';
import { resolveSpace } from '../src/search/narrow.js';
import { checkTrialConfigs, poolSize, trialConfig } from '../src/search/trial-config.js';
import { estimateSecondsLeft, formatEta } from '../src/search/progress.js';
import { readTrialsCsv, trialColumns } from '../src/formats/trials-csv.js';
import { runTrial, type TrialData } from '../src/search/run-trial.js';
import type { SearchSummary } from '../src/formats/search-summary.js';
import { runSearch } from '../src/search/run-search.js';
import { planSearch } from '../src/search/study.js';
import { testFromModel } from '../src/search/test-chosen.js';
import { WasmSimdBackend } from '../src/kernels/wasm-simd.js';
import type { TrialResult, TrialTask } from '../src/search/types.js';
import { deriveSeed, Rng } from '../src/util/rng.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

let root: string;
let dataDir: string;
let data: TrialData;

const LAMBDA = 'base.train.lambda';

/** A tiny search: 300 training records (100 held out), 24 steps per trial, 16 hidden units, auto backend (wasm-simd). */
function tinySearch(over: Record<string, unknown> = {}, base: Record<string, unknown> = {}): SearchConfig {
  return searchSchema.parse({
    kind: 'search', name: 'tiny', seed: 3, trials: 4, workers: 1,
    space: { lMin: -5, lMax: -1 },
    ...over,
    base: {
      seed: 1,
      data: { train: ['data_batch_1', 'data_batch_2'], holdout: 100, test: ['test_batch'] },
      model: { hidden: 16 },
      train: { batchSize: 50 },
      schedule: { etaMin: 1e-5, etaMax: 0.1, ns: 12, cycles: 1 },
      eval: { pointsPerCycle: 2 },
      kernels: { backend: 'auto' },
      ...base,
    },
  });
}

/** The l values the lambda-only search of earlier versions drew (its code, kept here as the reference). */
function legacyLs(range: { lMin: number; lMax: number }, trials: number, sampling: 'random' | 'grid', seed: number): number[] {
  const round6 = (v: number) => Math.round(v * 1e6) / 1e6;
  const { lMin, lMax } = range;
  if (sampling === 'grid') {
    if (trials === 1) return [round6((lMin + lMax) / 2)];
    return Array.from({ length: trials }, (_, i) => round6(lMin + ((lMax - lMin) * i) / (trials - 1)));
  }
  const rng = new Rng(deriveSeed(seed, 'search-l'));
  return Array.from({ length: trials }, () => round6(lMin + (lMax - lMin) * rng.uniform()));
}

const lambdas = (c: SearchConfig) => planSearch(c).trials.map((t) => t.params[LAMBDA] as number);

/** Runs trials inline, one at a time; `hook` runs before each trial (may throw or abort). */
class InlineExecutor implements TrialExecutor {
  readonly slots = 1;
  readonly threadsPerTrial = 1;
  readonly ran: number[] = [];
  readonly tasks: TrialTask[] = [];
  closed = false;
  constructor(private readonly hook?: (task: TrialTask) => void) {}
  async run(task: TrialTask, signal: AbortSignal): Promise<TrialResult> {
    this.ran.push(task.trial);
    this.tasks.push(task);
    this.hook?.(task);
    return runTrial(task, data, { threads: 1, signal });
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

function outDir(name: string): string {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  return d;
}

async function search(config: SearchConfig, out: string, executor: TrialExecutor, extra: Partial<Parameters<typeof runSearch>[0]> = {}): Promise<SearchSummary> {
  return runSearch({ config, outDir: out, dataDir, executor: () => executor, render: false, ...extra });
}

const csvLines = (out: string) => readFileSync(join(out, 'trials.csv'), 'utf8').trimEnd().split('\n');

function configError(raw: Record<string, unknown>): string {
  try {
    validateConfig({ kind: 'search', ...raw }, 'x.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'search-test-'));
  dataDir = writeSyntheticCifar(join(root, 'data'), 200, 60);
  const splits = loadSplits(tinySearch().base.data, dataDir);
  data = { splits, normalization: computeNormalization(splits.train) };
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('search space config', () => {
  it('reads the lambda-only form as a log-uniform lambda, and both forms draw the lambdas earlier versions drew', () => {
    const legacy = tinySearch({ trials: 8, seed: 7 });
    const modern = tinySearch({ trials: 8, seed: 7, space: { sampler: 'random', params: { [LAMBDA]: { dist: 'log-uniform', min: 1e-5, max: 1e-1 } } } });
    expect(legacy.space).toEqual(modern.space);
    const expected = legacyLs({ lMin: -5, lMax: -1 }, 8, 'random', 7).map((l) => 10 ** l);
    expect(lambdas(legacy)).toEqual(expected);
    expect(lambdas(modern)).toEqual(expected);
    // grids too, ends included, one trial: the middle
    const grid = (trials: number) => tinySearch({ trials, space: { sampler: 'grid', params: { [LAMBDA]: { dist: 'log-uniform', min: 1e-4, max: 1e-2 } } } });
    expect(lambdas(grid(5)).map(Math.log10).map((l) => Math.round(l * 1e6) / 1e6)).toEqual([-4, -3.5, -3, -2.5, -2]);
    expect(lambdas(grid(5))).toEqual(legacyLs({ lMin: -4, lMax: -2 }, 5, 'grid', 1).map((l) => 10 ** l));
    expect(lambdas(grid(1))).toEqual([10 ** -3]);
  });

  it('the shipped coarse and fine configs draw exactly the lambdas of their lambda-only versions', () => {
    for (const [file, lMin, lMax, seed] of [['config/search-coarse.yaml', -5, -1, 7], ['config/search-fine.yaml', -4, -2, 11]] as const) {
      const c = loadConfig(file) as SearchConfig;
      expect(c.space.params[LAMBDA]).toMatchObject({ dist: 'log-uniform' });
      const legacy = legacyLs({ lMin, lMax }, 8, 'random', seed);
      expect(planSearch(c).trials.map((t) => Math.log10(t.params[LAMBDA] as number))).toEqual(legacy.map((l) => Math.log10(10 ** l)));
      expect(lambdas(c)).toEqual(legacy.map((l) => 10 ** l));
    }
  });

  it('the shipped ASHA example searches lambda and the hidden width over 16 trials with pruning at the ends of cycles', () => {
    const c = loadConfig('config/search-asha.yaml') as SearchConfig;
    const plan = planSearch(c);
    expect(Object.keys(plan.space)).toEqual([LAMBDA, 'base.model.hidden']);
    expect(plan.trials).toHaveLength(16);
    expect(c.pruning).toMatchObject({ rule: 'asha', minSteps: 400, eta: 3, maxRungs: 2 });
    const cycle = 2 * c.base.schedule.ns;
    for (const rung of [400, 1200]) expect(rung % cycle).toBe(0);
    expect(c.base.schedule.cycles! * cycle).toBe(3600);
  });

  it('rejects unknown paths, non-fields, wrong distributions and out-of-range bounds with one line naming the field', () => {
    const space = (params: Record<string, unknown>) => ({ space: { params } });
    expect(configError(space({ 'base.model.hiden': { dist: 'int', min: 10, max: 20 } })))
      .toMatch(/^x\.yaml: space\.params\.base\.model\.hiden: not a field of the training config \(base\.model has hidden, layers, batchNorm, init, bnMomentum\)/);
    expect(configError(space({ 'train.lambda': { dist: 'uniform', min: 0, max: 1 } }))).toMatch(/space\.params\.train\.lambda: a searched field is named by its path under base/);
    expect(configError(space({ 'base.schedule': { dist: 'uniform', min: 0, max: 1 } }))).toMatch(/space\.params\.base\.schedule: base\.schedule is a section, not a field/);
    expect(configError(space({ 'base.data.train': { dist: 'uniform', min: 0, max: 1 } }))).toMatch(/base\.data\.train is not a number field: search it with dist: choice/);
    expect(configError(space({ 'base.model.hidden': { dist: 'uniform', min: 10, max: 20 } }))).toMatch(/space\.params\.base\.model\.hidden\.dist: base\.model\.hidden takes whole numbers: search it with dist: int/);
    expect(configError(space({ 'base.model.hidden': { dist: 'int', min: 10, max: 5000 } }))).toMatch(/space\.params\.base\.model\.hidden\.max: base\.model\.hidden: Too big.*4096.*\(got 5000\)/);
    expect(configError(space({ 'base.train.batchSize': { dist: 'choice', values: [50, 0] } }))).toMatch(/space\.params\.base\.train\.batchSize\.values\.1: base\.train\.batchSize: .*\(got 0\)/);
    expect(configError(space({ [LAMBDA]: { dist: 'log-uniform', min: 1e-2, max: 1e-4 } }))).toMatch(/space\.params\.base\.train\.lambda\.min: min must be < max/);
    expect(configError(space({ [LAMBDA]: { dist: 'log-uniform', min: 0, max: 1 } }))).toMatch(/space\.params\.base\.train\.lambda\.min:/);
    expect(configError(space({ [LAMBDA]: { dist: 'loguniform', min: 1e-4, max: 1 } }))).toMatch(/space\.params\.base\.train\.lambda\.dist:/);
    expect(configError(space({}))).toMatch(/space\.params: give at least one parameter/);
    expect(configError({ space: { lMin: -5, lMax: -1, params: { [LAMBDA]: { dist: 'log-uniform', min: 1e-4, max: 1 } } } })).toMatch(/space\.lMin: the lambda-only form .* cannot be combined with space\.params/);
    // every message is one line
    expect(configError(space({ 'base.model.hiden': { dist: 'int', min: 10, max: 20 } })).split('\n')).toHaveLength(1);
  });

  it('keeps the lambda-only form\'s checks and defaults', () => {
    expect(configError({ space: { lMin: -1, lMax: -3 } })).toMatch(/x\.yaml: space\.lMin: lMin must be < lMax/);
    expect(configError({ space: { sampling: 'random' } })).toMatch(/space\.lMin: give space\.lMin and space\.lMax, or space\.from/);
    expect(configError({ space: { lMin: -5, lMax: -1 }, trials: 0 })).toMatch(/x\.yaml: trials:/);
    expect(configError({ space: { lMin: -5, lMax: -1 }, base: { train: { batchSize: 0 } } })).toMatch(/base\.train\.batchSize/);
    expect(configError({ space: { lMin: -5, lMax: -1 }, base: { schedule: { etaMin: 1, etaMax: 0.1 } } })).toMatch(/base\.schedule\.etaMin/);
    const ok = validateConfig({ kind: 'search', space: { from: { dir: 'runs/x' } } }, 'x.yaml') as SearchConfig;
    expect(ok.space.from).toEqual({ dir: 'runs/x', topK: 3, margin: 0.25, linearMargin: 0.1 });
    expect(ok.space.params[LAMBDA]).toEqual({ dist: 'log-uniform', min: 1e-20, max: 1e5 });
    expect(ok.workers).toBe(0);
    expect(ok.keepModels).toBe(3);
    expect(ok.pruning.rule).toBe('none');
    expect(ok.base.train.batchSize).toBe(100);
  });

  it('checks every planned trial\'s config with the training schema before any trial runs, naming the trial', () => {
    // etaMin and etaMax both searched: each bound alone is valid, some combinations are not
    const c = tinySearch({
      trials: 6, seed: 2,
      space: { params: { 'base.schedule.etaMin': { dist: 'log-uniform', min: 1e-3, max: 1e-1 }, 'base.schedule.etaMax': { dist: 'log-uniform', min: 1e-3, max: 1e-1 } } },
    });
    let message = '';
    try {
      planSearch(c, undefined, 'x.yaml');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      message = (e as Error).message;
    }
    expect(message).toMatch(/^x\.yaml: trial \d+: base\.schedule\.etaMin: etaMin must be ≤ etaMax/);
    const bad = planSearch({ ...c, space: { ...c.space, params: { 'base.schedule.etaMin': c.space.params['base.schedule.etaMin'] } } }).trials;
    expect(() => checkTrialConfigs(c.base, bad)).not.toThrow();
  });
});

describe('trial plan', () => {
  it('sizes the pool: workers default to the cores, threads per trial = floor(cores / workers), never more workers than trials', () => {
    expect(poolSize({ workers: 0, kernelThreads: 0, pending: 8, cores: 2 })).toEqual({ workers: 2, threadsPerTrial: 1 });
    expect(poolSize({ workers: 1, kernelThreads: 0, pending: 8, cores: 2 })).toEqual({ workers: 1, threadsPerTrial: 2 });
    expect(poolSize({ workers: 3, kernelThreads: 0, pending: 8, cores: 16 })).toEqual({ workers: 3, threadsPerTrial: 5 });
    expect(poolSize({ workers: 4, kernelThreads: 0, pending: 8, cores: 2 })).toEqual({ workers: 4, threadsPerTrial: 1 });
    expect(poolSize({ workers: 0, kernelThreads: 0, pending: 1, cores: 8 })).toEqual({ workers: 1, threadsPerTrial: 8 });
    expect(poolSize({ workers: 0, kernelThreads: 3, pending: 8, cores: 8 })).toEqual({ workers: 8, threadsPerTrial: 3 });
    expect(poolSize({ workers: 0, kernelThreads: 0, pending: 8, cores: 1 })).toEqual({ workers: 1, threadsPerTrial: 1 });
  });

  it('narrows every parameter around the top k of a finished search, clipped to the bounds (space.from)', () => {
    const prev = outDir('prev-search');
    const ranking = [
      { params: { [LAMBDA]: 10 ** -2.9, 'base.model.hidden': 80, 'base.schedule.etaMax': 0.1, 'base.train.batchSize': 100 }, val_acc: 0.52 },
      { params: { [LAMBDA]: 10 ** -3.3, 'base.model.hidden': 40, 'base.schedule.etaMax': 0.06, 'base.train.batchSize': 50 }, val_acc: 0.515 },
      { params: { [LAMBDA]: 10 ** -2.4, 'base.model.hidden': 60, 'base.schedule.etaMax': 0.08, 'base.train.batchSize': 100 }, val_acc: 0.51 },
      { params: { [LAMBDA]: 10 ** -1.2, 'base.model.hidden': 20, 'base.schedule.etaMax': 0.2, 'base.train.batchSize': 200 }, val_acc: 0.4 },
    ];
    writeFileSync(join(prev, 'summary.json'), JSON.stringify({ status: 'completed', ranking }));
    const params = {
      [LAMBDA]: { dist: 'log-uniform', min: 1e-5, max: 1e-1 },
      'base.model.hidden': { dist: 'int', min: 10, max: 200 },
      'base.schedule.etaMax': { dist: 'uniform', min: 0.02, max: 0.22 },
      'base.train.batchSize': { dist: 'choice', values: [50, 100, 200] },
    };
    const r = resolveSpace(tinySearch({ space: { params, from: { dir: prev, topK: 3, margin: 0.25, linearMargin: 0.1 } } }).space);
    expect(Math.log10(r.params[LAMBDA].dist === 'log-uniform' ? r.params[LAMBDA].min : NaN)).toBeCloseTo(-3.55, 12);
    expect(r.params[LAMBDA]).toMatchObject({ min: 10 ** -3.55, max: 10 ** -2.15 });
    expect(r.params['base.model.hidden']).toMatchObject({ min: 21, max: 99 }); // 40 − 19, 80 + 19 (10% of 190)
    expect(r.params['base.schedule.etaMax']).toMatchObject({ dist: 'uniform' });
    const eta = r.params['base.schedule.etaMax'] as { min: number; max: number };
    expect(eta.min).toBeCloseTo(0.04, 12);
    expect(eta.max).toBeCloseTo(0.12, 12);
    expect(r.params['base.train.batchSize']).toEqual({ dist: 'choice', values: [50, 100] });
    expect(r.source).toMatch(/top 3 of .*prev-search/);
    // a lambda-only ranking of earlier versions (l = log10 lambda), clipped to the configured bounds
    writeFileSync(join(prev, 'summary.json'), JSON.stringify({ status: 'completed', ranking: ranking.map((e) => ({ l: Math.log10(e.params[LAMBDA]), val_acc: e.val_acc })) }));
    const legacy = resolveSpace(tinySearch({ space: { lMin: -3.4, lMax: -2, from: { dir: prev, topK: 2, margin: 0.25 } } }).space);
    expect(legacy.params[LAMBDA]).toEqual({ dist: 'log-uniform', min: 10 ** -3.4, max: 10 ** -2.65 });
    expect(resolveSpace(tinySearch({ space: { from: { dir: prev, topK: 3, margin: 0.25 } } }).space).params[LAMBDA]).toEqual({ dist: 'log-uniform', min: 10 ** -3.55, max: 10 ** -2.15 });
    expect(() => resolveSpace(tinySearch({ space: { from: { dir: join(root, 'nowhere') } } }).space)).toThrow(/no summary\.json/);
    expect(() => resolveSpace(tinySearch({ space: { lMin: -1.5, lMax: -1, from: { dir: prev, margin: 0.1 } } }).space)).toThrow(/does not overlap/);
  });

  it('estimates the time left from the mean trial time over the slots', () => {
    expect(estimateSecondsLeft({ durations: [], notStarted: 3, runningElapsed: [], slots: 2 })).toBeNull();
    expect(estimateSecondsLeft({ durations: [10, 20], notStarted: 2, runningElapsed: [5, 20], slots: 2 })).toBe((2 * 15 + 10 + 0) / 2);
    expect(formatEta(3725)).toBe('1h 02m');
    expect(formatEta(null)).toBe('?');
  });
});

describe('search (inline executor)', () => {
  it('runs every trial, writes trials.csv row by row (a column per parameter) and ranks by validation accuracy', async () => {
    const out = outDir('basic');
    const ex = new InlineExecutor();
    const s = await search(tinySearch(), out, ex);
    expect(s.status).toBe('completed');
    expect(ex.ran).toEqual([1, 2, 3, 4]);
    expect(ex.closed).toBe(true);
    const lines = csvLines(out);
    expect(lines[0]).toBe(trialColumns([LAMBDA]).join(','));
    expect(lines[0]).toBe('trial,base.train.lambda,status,train_acc,val_acc,train_cost,val_cost,steps,total_steps,seconds,backend,threads,reason');
    expect(lines).toHaveLength(5);
    const { rows } = await readTrialsCsv(join(out, 'trials.csv'), s.space, false);
    const expected = legacyLs({ lMin: -5, lMax: -1 }, 4, 'random', 3).map((l) => 10 ** l);
    rows.forEach((r, i) => expect(r.params[LAMBDA]).toBeCloseTo(expected[i], 15));
    for (const r of rows) {
      expect(r.status).toBe('completed');
      expect(r.val_acc).toBeGreaterThan(0.3); // the synthetic classes are learnable
      expect(r.steps).toBe(24);
      expect(r.total_steps).toBe(24);
      expect(r.backend).toMatch(/\w/);
      expect(r.reason).toBeNull();
      expect(existsSync(join(out, 'trials', String(r.trial).padStart(2, '0'), 'metrics.csv'))).toBe(true);
    }
    expect(lines[1].endsWith(',NA')).toBe(true); // no reason: NA
    // no trial is evaluated on the test split: its own summary has no test metrics
    for (const id of ['01', '02', '03', '04']) expect(JSON.parse(readFileSync(join(out, 'trials', id, 'summary.json'), 'utf8')).final.test).toBeNull();
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as SearchSummary;
    expect(summary.status).toBe('completed');
    expect(summary.params).toEqual([LAMBDA]);
    const accs = summary.ranking.map((r) => r.val_acc!);
    expect(accs).toEqual([...accs].sort((a, b) => b - a));
    expect(summary.ranking.map((r) => r.rank)).toEqual([1, 2, 3, 4]);
    expect(summary.best).toEqual(summary.ranking.slice(0, 3));
    expect(summary.counts).toEqual({ completed: 4, pruned: 0, diverged: 0, failed: 0, pending: 0 });
    expect(summary.budget).toEqual({ stepsSpent: 96, stepsWithoutPruning: 96 });
    expect(JSON.stringify(summary.ranking)).not.toMatch(/test/);
    // The trials' own times add up to trialSeconds; one at a time, they fit in the search's wall time.
    expect(summary.trialSeconds).toBeCloseTo(rows.reduce((t, r) => t + r.seconds!, 0), 2);
    expect(summary.trialSeconds).toBeGreaterThan(0);
    expect(summary.trialSeconds).toBeLessThanOrEqual(summary.seconds);
    expect(summary.peakRssMiB).toBeGreaterThan(10);
    expect(summary.peakRssMiB).toBeLessThan(64 * 1024);
    // Each trial trained with its own lambda.
    const trialCfg = parseYaml(readFileSync(join(out, 'trials', '02', 'config.yaml'), 'utf8'));
    expect(trialCfg.train.lambda).toBe(rows.find((r) => r.trial === 2)!.params[LAMBDA]);
    expect(trialCfg.name).toBe('tiny-trial-02');
  });

  it('keeps the best keepModels models, and measures the test split for the chosen trial only, from its model.json', async () => {
    const out = outDir('models');
    const ex = new InlineExecutor();
    const cfg = { ...tinySearch({ trials: 4, keepModels: 2 }) };
    let tested: string[] = [];
    const test = testFromModel(data.splits.test, 'auto', 1);
    const s = await search(cfg, out, ex, { testChosen: (dir) => { tested.push(dir); return test(dir); } });
    expect(ex.tasks.every((t) => t.saveModel === true)).toBe(true);
    const kept = ['01', '02', '03', '04'].filter((id) => existsSync(join(out, 'trials', id, 'model.json')));
    expect(kept.sort()).toEqual(s.ranking.slice(0, 2).map((r) => String(r.trial).padStart(2, '0')).sort());
    expect(tested).toEqual([join(out, 'trials', String(s.ranking[0].trial).padStart(2, '0'))]);
    expect(s.chosen).toMatchObject({ trial: s.ranking[0].trial, valAccuracy: s.ranking[0].val_acc });
    expect(s.chosen!.test!.accuracy).toBeGreaterThan(0.3);
    // the model.json is the trial's final network: its validation accuracy is the trial's
    const cp = loadCheckpoint(join(out, 'trials', s.chosen!.id));
    expect(cp.step).toBe(24);
    expect(cp.config.train.lambda).toBe(s.chosen!.params[LAMBDA]);
    const val = await testFromModel(data.splits.val, 'auto', 1)(join(out, 'trials', s.chosen!.id));
    expect(val.accuracy).toBe(s.chosen!.valAccuracy);

    // keepModels: 0 saves none, and says why the chosen trial has no test accuracy
    tested = [];
    const none = await search(tinySearch({ trials: 2, keepModels: 0 }), outDir('no-models'), new InlineExecutor(), { testChosen: test });
    expect(existsSync(join(root, 'no-models', 'trials', '01', 'model.json'))).toBe(false);
    expect(none.chosen).toMatchObject({ test: null, note: expect.stringMatching(/keepModels: 0/) });
    // 'all' keeps every completed trial's
    await search(tinySearch({ trials: 3, keepModels: 'all' }), outDir('all-models'), new InlineExecutor());
    for (const id of ['01', '02', '03']) expect(existsSync(join(root, 'all-models', 'trials', id, 'model.json'))).toBe(true);
  });

  it('searches several fields at once: each trial trains with its values, one column each', async () => {
    const out = outDir('multi');
    const cfg = tinySearch({
      trials: 3, seed: 9,
      space: { params: { [LAMBDA]: { dist: 'log-uniform', min: 1e-5, max: 1e-2 }, 'base.model.hidden': { dist: 'int', min: 8, max: 24, log: true }, 'base.train.batchSize': { dist: 'choice', values: [25, 50] } } },
    });
    const ex = new InlineExecutor();
    const s = await search(cfg, out, ex);
    expect(s.status).toBe('completed');
    expect(csvLines(out)[0]).toBe(`trial,${LAMBDA},base.model.hidden,base.train.batchSize,status,train_acc,val_acc,train_cost,val_cost,steps,total_steps,seconds,backend,threads,reason`);
    const { rows } = await readTrialsCsv(join(out, 'trials.csv'), s.space, false);
    for (const t of ex.tasks) {
      const row = rows.find((r) => r.trial === t.trial)!;
      expect(t.config.model.hidden).toBe(t.params['base.model.hidden']);
      expect(t.config.train.batchSize).toBe(t.params['base.train.batchSize']);
      expect(row.params).toEqual(t.params);
      expect(Number.isInteger(t.config.model.hidden) && t.config.model.hidden >= 8 && t.config.model.hidden <= 24).toBe(true);
      // 2 cycles of 12 steps whatever the batch size
      expect(row.steps).toBe(24);
    }
  });

  it('records a failing trial and a diverging one with their reasons, and goes on', async () => {
    const out = outDir('faults');
    const ex = new InlineExecutor((t) => {
      if (t.trial === 2) throw new Error('worker exploded');
    });
    // l on a grid over [-4, 3]: lambda = 1000 with eta 0.1 blows the weights up.
    const cfg = tinySearch({ space: { sampling: 'grid', lMin: -4, lMax: 3 } }, { schedule: { etaMin: 0.1, etaMax: 0.1, ns: 12, cycles: 1 } });
    const s = await search(cfg, out, ex);
    expect(s.status).toBe('completed');
    expect(ex.ran).toEqual([1, 2, 3, 4]);
    const { rows } = await readTrialsCsv(join(out, 'trials.csv'), s.space, false);
    const by = new Map(rows.map((r) => [r.trial, r]));
    expect(by.get(2)).toMatchObject({ status: 'failed', val_acc: null, train_cost: null });
    expect(by.get(2)!.reason).toMatch(/worker exploded/);
    expect(by.get(4)).toMatchObject({ status: 'diverged', val_acc: null });
    expect(by.get(4)!.reason).toMatch(/diverged at step \d+/);
    expect(by.get(4)!.steps).toBeLessThan(24);
    expect(by.get(1)!.status).toBe('completed');
    const failedLine = csvLines(out).find((l) => l.startsWith('2,'))!;
    expect(failedLine.split(',').filter((c) => c === 'NA').length).toBeGreaterThanOrEqual(7); // accuracies, costs, steps, backend
    expect(s.counts).toMatchObject({ failed: 1, diverged: 1 });
    expect(s.ranking.map((r) => r.trial)).not.toContain(2);
    expect(s.ranking.map((r) => r.trial)).not.toContain(4);
  });

  it('ends as failed when no trial completes', async () => {
    const out = outDir('all-failed');
    const s = await search(tinySearch({ trials: 2 }), out, new InlineExecutor(() => {
      throw new Error('no');
    }));
    expect(s.status).toBe('failed');
    expect(s.chosen).toBeNull();
  });

  it('stops when interrupted, then --resume runs only the unfinished trials and appends their rows', async () => {
    const out = outDir('resume');
    const cfg = tinySearch({ trials: 5 });
    const stop = new AbortController();
    // Trial 2 fails, trial 3 is running when the stop arrives; 4 and 5 never start.
    const first = new InlineExecutor((t) => {
      if (t.trial === 2) throw new Error('transient');
      if (t.trial === 3) stop.abort();
    });
    const s1 = await search(cfg, out, first, { signal: stop.signal });
    expect(s1.status).toBe('interrupted');
    expect(first.ran).toEqual([1, 2, 3]);
    expect(s1.counts).toEqual({ completed: 1, pruned: 0, diverged: 0, failed: 1, pending: 3 });
    expect(csvLines(out)).toHaveLength(3); // header, trial 1, trial 2 (failed)

    // A config that would change the trial list is refused.
    await expect(search(tinySearch({ trials: 5, seed: 4 }), out, new InlineExecutor(), { resume: true })).rejects.toThrow(/differs.*seed/);
    await expect(search(tinySearch({ trials: 5, pruning: { rule: 'asha' } }), out, new InlineExecutor(), { resume: true })).rejects.toThrow(/differs.*pruning\.rule/);

    // A half-written last line (killed mid-write) is cut off before rows are appended.
    appendFileSync(join(out, 'trials.csv'), '9,0.003,compl');
    const second = new InlineExecutor();
    const s2 = await search({ ...cfg, workers: 2, keepModels: 1 }, out, second, { resume: true });
    expect(s2.status).toBe('completed');
    expect(second.ran).toEqual([2, 3, 4, 5]); // the failed one again, the interrupted one, the two never started
    const lines = csvLines(out);
    expect(lines.filter((l) => l === trialColumns([LAMBDA]).join(','))).toHaveLength(1);
    expect(lines.map((l) => l.split(',')[0]).slice(1)).toEqual(['1', '2', '2', '3', '4', '5']);
    expect(lines.some((l) => l.includes('compl') && !l.includes('completed'))).toBe(false);
    // The latest row of trial 2 (completed) supersedes the failed one.
    expect(s2.counts).toEqual({ completed: 5, pruned: 0, diverged: 0, failed: 0, pending: 0 });
    expect(s2.results.find((r) => r.trial === 2)!.status).toBe('completed');
    expect(s2.results.map((r) => r.params)).toEqual(s1.results.map((r) => r.params));
    // Wall time counts both sessions; secondsSinceResume the second alone.
    expect(s1.secondsSinceResume).toBeUndefined();
    expect(s2.secondsSinceResume).toBeGreaterThan(0);
    expect(s2.seconds).toBeCloseTo(s1.seconds + s2.secondsSinceResume!, 1);
    // keepModels may change on resume: one model is left, the best's
    expect(['01', '02', '03', '04', '05'].filter((id) => existsSync(join(out, 'trials', id, 'model.json')))).toEqual([s2.chosen!.id]);

    // Resuming a finished search runs nothing.
    const third = new InlineExecutor();
    const s3 = await search(cfg, out, third, { resume: true });
    expect(third.ran).toEqual([]);
    expect(s3.status).toBe('completed');
    expect(csvLines(out)).toHaveLength(7);
  });

  it('refuses to resume a folder of an earlier, lambda-only version', async () => {
    const out = outDir('old-plan');
    writeFileSync(join(out, 'plan.json'), JSON.stringify({ name: 'x', seed: 1, sampling: 'random', range: { lMin: -5, lMax: -1, source: 'config' }, trials: [{ trial: 1, l: -3, lambda: 1e-3 }], key: {} }));
    await expect(search(tinySearch(), out, new InlineExecutor(), { resume: true })).rejects.toThrow(/earlier version/);
  });
});

describe('runTrial on a kept backend', () => {
  it('a trial after others on the same backend gives exactly what it gives on a fresh one; the backend is kept', async () => {
    const config = tinySearch({ space: { sampling: 'grid', lMin: -4, lMax: 2 }, trials: 3 });
    // the fresh trial selects wasm-simd itself, as the kept backend is (auto may pick another, rounding differently)
    const tasks = [-4, 2, -2].map((l, i): TrialTask => {
      const t = { trial: i + 1, params: { [LAMBDA]: 10 ** l } };
      const c = trialConfig(config, t, 2, 3);
      return { ...t, config: { ...c, kernels: { ...c.kernels, backend: 'wasm-simd', threads: 2 } }, outDir: join(root, 'kept', String(t.trial)), dataDir };
    });
    const kept = await WasmSimdBackend.create({ threads: 2, parallelFlops: 0 });
    try {
      const onKept: TrialResult[] = [];
      for (const task of tasks) onKept.push(await runTrial(task, data, { threads: 2, backend: kept }));
      expect(onKept.map((r) => r.status)).toEqual(['completed', 'diverged', 'completed']); // lambda = 100 diverges
      const fresh = await runTrial({ ...tasks[2], outDir: join(root, 'kept', 'fresh') }, data, { threads: 2 });
      expect(fresh.status).toBe('completed');
      expect(onKept[2].final).toEqual(fresh.final); // nothing left over from the earlier trials (one diverged)
      expect(onKept[2].steps).toBe(fresh.steps);
      // not disposed: it still runs split products
      const a = kept.matrix(64, 64), c = kept.matrix(64, 64);
      a.data.fill(1);
      kept.gemm(a, false, a, false, c);
      expect(c.data[0]).toBe(64);
    } finally {
      await kept.dispose();
    }
  });
});

describe('trials.csv that cannot be written', () => {
  it('fails the search at once (status failed, the note names the file and the errno) and runs no further trial', async () => {
    const out = outDir('full-disk');
    symlinkSync('/dev/full', join(out, 'trials.csv'));
    const executor = new InlineExecutor();
    const s = await search(tinySearch({ trials: 3 }), out, executor);
    expect(executor.ran).toEqual([1]); // the first trial's row could not be written: trials 2 and 3 never start
    expect(s.status).toBe('failed');
    expect(s.note).toMatch(/trials\.csv: cannot write \(ENOSPC: no space left on device\); continue with --resume once it can be written/);
    expect(s.counts.pending).toBe(3); // a trial is a result only once its row is written
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).status).toBe('failed');
  });
});

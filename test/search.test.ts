// The lambda search: trial planning, pool sizing, trials.csv, ranking, faults and resume, driven in-process
// through the executor seam (an executor that runs trials inline on the auto backend). The Piscina
// pool and the CLI are covered by search-pool.test.ts.
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../src/config/errors.js';
import { validateConfig } from '../src/config/load.js';
import { searchSchema, type SearchConfig } from '../src/config/search-schema.js';
import { computeNormalization } from '../src/data/normalization.js';
import { loadSplits } from '../src/data/splits.js';
import type { TrialExecutor } from '../src/search/executor.js';
import { planTrials, poolSize, resolveRange, sampleLs } from '../src/search/plan.js';
import { estimateSecondsLeft, formatEta } from '../src/search/progress.js';
import { readTrialsCsv, TRIAL_COLUMNS } from '../src/search/results.js';
import { runTrial, type TrialData } from '../src/search/run-trial.js';
import { runSearch, trialConfig, type SearchSummary } from '../src/search/search.js';
import { WasmSimdBackend } from '../src/kernels/wasm-simd.js';
import type { TrialResult, TrialTask } from '../src/search/types.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

let root: string;
let dataDir: string;
let data: TrialData;

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

/** Runs trials inline, one at a time; `hook` runs before each trial (may throw or abort). */
class InlineExecutor implements TrialExecutor {
  readonly slots = 1;
  readonly threadsPerTrial = 1;
  readonly ran: number[] = [];
  closed = false;
  constructor(private readonly hook?: (task: TrialTask) => void) {}
  async run(task: TrialTask, signal: AbortSignal): Promise<TrialResult> {
    this.ran.push(task.trial);
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

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'search-test-'));
  dataDir = writeSyntheticCifar(join(root, 'data'), 200, 60);
  const splits = loadSplits(tinySearch().base.data, dataDir);
  data = { splits, normalization: computeNormalization(splits.train) };
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('trial plan', () => {
  it('draws the same l values from the same seed, inside the range, and others from another seed', () => {
    const a = sampleLs({ lMin: -5, lMax: -1 }, 8, 'random', 7);
    expect(sampleLs({ lMin: -5, lMax: -1 }, 8, 'random', 7)).toEqual(a);
    expect(sampleLs({ lMin: -5, lMax: -1 }, 8, 'random', 8)).not.toEqual(a);
    expect(new Set(a).size).toBe(8);
    for (const l of a) expect(l >= -5 && l <= -1).toBe(true);
    const trials = planTrials(a);
    expect(trials.map((t) => t.trial)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const t of trials) expect(t.lambda).toBeCloseTo(10 ** t.l, 15);
  });

  it('spaces a grid evenly, ends included', () => {
    expect(sampleLs({ lMin: -4, lMax: -2 }, 5, 'grid', 1)).toEqual([-4, -3.5, -3, -2.5, -2]);
    expect(sampleLs({ lMin: -4, lMax: -2 }, 1, 'grid', 1)).toEqual([-3]);
  });

  it('sizes the pool: workers default to the cores, threads per trial = floor(cores / workers), never more workers than trials', () => {
    expect(poolSize({ workers: 0, kernelThreads: 0, pending: 8, cores: 2 })).toEqual({ workers: 2, threadsPerTrial: 1 });
    expect(poolSize({ workers: 1, kernelThreads: 0, pending: 8, cores: 2 })).toEqual({ workers: 1, threadsPerTrial: 2 });
    expect(poolSize({ workers: 3, kernelThreads: 0, pending: 8, cores: 16 })).toEqual({ workers: 3, threadsPerTrial: 5 });
    expect(poolSize({ workers: 4, kernelThreads: 0, pending: 8, cores: 2 })).toEqual({ workers: 4, threadsPerTrial: 1 });
    expect(poolSize({ workers: 0, kernelThreads: 0, pending: 1, cores: 8 })).toEqual({ workers: 1, threadsPerTrial: 8 });
    expect(poolSize({ workers: 0, kernelThreads: 3, pending: 8, cores: 8 })).toEqual({ workers: 8, threadsPerTrial: 3 });
    expect(poolSize({ workers: 0, kernelThreads: 0, pending: 8, cores: 1 })).toEqual({ workers: 1, threadsPerTrial: 1 });
  });

  it('takes a fine range around the top k of a finished search, clipped to the bounds', () => {
    const prev = outDir('prev-search');
    const ranking = [{ l: -2.9, val_acc: 0.52 }, { l: -3.3, val_acc: 0.515 }, { l: -2.4, val_acc: 0.51 }, { l: -1.2, val_acc: 0.4 }];
    writeFileSync(join(prev, 'summary.json'), JSON.stringify({ status: 'completed', ranking }));
    const fine = tinySearch({ space: { from: { dir: prev, topK: 3, margin: 0.25 } } });
    expect(resolveRange(fine)).toMatchObject({ lMin: -3.55, lMax: -2.15 });
    const clipped = tinySearch({ space: { lMin: -3.4, lMax: -2, from: { dir: prev, topK: 2, margin: 0.25 } } });
    expect(resolveRange(clipped)).toMatchObject({ lMin: -3.4, lMax: -2.65 });
    expect(() => resolveRange(tinySearch({ space: { from: { dir: join(root, 'nowhere') } } }))).toThrow(/no summary\.json/);
  });

  it('validates the config with field paths', () => {
    const bad = (raw: Record<string, unknown>) => {
      try {
        validateConfig({ kind: 'search', ...raw }, 'x.yaml');
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad({ space: { lMin: -1, lMax: -3 } })).toMatch(/x\.yaml: space\.lMin: lMin must be < lMax/);
    expect(bad({ space: {} })).toMatch(/space\.lMin: give space\.lMin and space\.lMax, or space\.from/);
    expect(bad({ space: { lMin: -5, lMax: -1 }, trials: 0 })).toMatch(/x\.yaml: trials:/);
    expect(bad({ space: { lMin: -5, lMax: -1 }, base: { train: { batchSize: 0 } } })).toMatch(/base\.train\.batchSize/);
    expect(bad({ space: { lMin: -5, lMax: -1 }, base: { schedule: { etaMin: 1, etaMax: 0.1 } } })).toMatch(/base\.schedule\.etaMin/);
    const ok = validateConfig({ kind: 'search', space: { from: { dir: 'runs/x' } } }, 'x.yaml') as SearchConfig;
    expect(ok.space.from).toEqual({ dir: 'runs/x', topK: 3, margin: 0.25 });
    expect(ok.workers).toBe(0);
    expect(ok.base.train.batchSize).toBe(100);
  });

  it('estimates the time left from the mean trial time over the slots', () => {
    expect(estimateSecondsLeft({ durations: [], notStarted: 3, runningElapsed: [], slots: 2 })).toBeNull();
    expect(estimateSecondsLeft({ durations: [10, 20], notStarted: 2, runningElapsed: [5, 20], slots: 2 })).toBe((2 * 15 + 10 + 0) / 2);
    expect(formatEta(3725)).toBe('1h 02m');
    expect(formatEta(null)).toBe('?');
  });
});

describe('search (inline executor)', () => {
  it('runs every trial, writes trials.csv row by row and ranks by validation accuracy', async () => {
    const out = outDir('basic');
    const ex = new InlineExecutor();
    const s = await search(tinySearch(), out, ex);
    expect(s.status).toBe('completed');
    expect(ex.ran).toEqual([1, 2, 3, 4]);
    expect(ex.closed).toBe(true);
    const lines = csvLines(out);
    expect(lines[0]).toBe(TRIAL_COLUMNS.join(','));
    expect(lines).toHaveLength(5);
    const { rows } = await readTrialsCsv(join(out, 'trials.csv'), false);
    expect(rows.map((r) => r.l)).toEqual(sampleLs({ lMin: -5, lMax: -1 }, 4, 'random', 3));
    for (const r of rows) {
      expect(r.status).toBe('completed');
      expect(r.val_acc).toBeGreaterThan(0.3); // the synthetic classes are learnable
      expect(r.steps).toBe(24);
      expect(r.backend).toMatch(/\w/);
      expect(r.reason).toBeNull();
      expect(existsSync(join(out, 'trials', String(r.trial).padStart(2, '0'), 'metrics.csv'))).toBe(true);
    }
    expect(lines[1].endsWith(',NA')).toBe(true); // no reason: NA
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as SearchSummary;
    expect(summary.status).toBe('completed');
    const accs = summary.ranking.map((r) => r.val_acc!);
    expect(accs).toEqual([...accs].sort((a, b) => b - a));
    expect(summary.ranking.map((r) => r.rank)).toEqual([1, 2, 3, 4]);
    expect(summary.best).toEqual(summary.ranking.slice(0, 3));
    expect(summary.bestLambda).toBe(summary.ranking[0].lambda);
    expect(summary.bestL).toBe(summary.ranking[0].l);
    expect(summary.counts).toEqual({ completed: 4, diverged: 0, failed: 0, pending: 0 });
    // The trials' own times add up to trialSeconds; one at a time, they fit in the search's wall time.
    expect(summary.trialSeconds).toBeCloseTo(rows.reduce((t, r) => t + r.seconds!, 0), 2);
    expect(summary.trialSeconds).toBeGreaterThan(0);
    expect(summary.trialSeconds).toBeLessThanOrEqual(summary.seconds);
    expect(summary.peakRssMiB).toBeGreaterThan(10);
    expect(summary.peakRssMiB).toBeLessThan(64 * 1024);
    // Each trial trained with its own lambda.
    const trialCfg = parseYaml(readFileSync(join(out, 'trials', '02', 'config.yaml'), 'utf8'));
    expect(trialCfg.train.lambda).toBeCloseTo(rows.find((r) => r.trial === 2)!.lambda, 12);
    expect(trialCfg.name).toBe('tiny-trial-02');
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
    const { rows } = await readTrialsCsv(join(out, 'trials.csv'), false);
    const by = new Map(rows.map((r) => [r.trial, r]));
    expect(by.get(2)).toMatchObject({ status: 'failed', val_acc: null, test_acc: null, train_cost: null });
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
    expect(s.bestLambda).toBeNull();
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
    expect(s1.counts).toEqual({ completed: 1, diverged: 0, failed: 1, pending: 3 });
    expect(csvLines(out)).toHaveLength(3); // header, trial 1, trial 2 (failed)

    // A config that would change the trial list is refused.
    await expect(search(tinySearch({ trials: 5, seed: 4 }), out, new InlineExecutor(), { resume: true })).rejects.toThrow(/differs.*seed/);

    // A half-written last line (killed mid-write) is cut off before rows are appended.
    appendFileSync(join(out, 'trials.csv'), '9,-2.5,0.003,compl');
    const second = new InlineExecutor();
    const s2 = await search({ ...cfg, workers: 2 }, out, second, { resume: true });
    expect(s2.status).toBe('completed');
    expect(second.ran).toEqual([2, 3, 4, 5]); // the failed one again, the interrupted one, the two never started
    const lines = csvLines(out);
    expect(lines.filter((l) => l === TRIAL_COLUMNS.join(','))).toHaveLength(1);
    expect(lines.map((l) => l.split(',')[0]).slice(1)).toEqual(['1', '2', '2', '3', '4', '5']);
    expect(lines.some((l) => l.includes('compl') && !l.includes('completed'))).toBe(false);
    // The latest row of trial 2 (completed) supersedes the failed one.
    expect(s2.counts).toEqual({ completed: 5, diverged: 0, failed: 0, pending: 0 });
    expect(s2.results.find((r) => r.trial === 2)!.status).toBe('completed');
    expect(s2.results.map((r) => r.l)).toEqual(s1.results.map((r) => r.l));

    // Resuming a finished search runs nothing.
    const third = new InlineExecutor();
    const s3 = await search(cfg, out, third, { resume: true });
    expect(third.ran).toEqual([]);
    expect(s3.status).toBe('completed');
    expect(csvLines(out)).toHaveLength(7);
  });
});

describe('runTrial on a kept backend', () => {
  it('a trial after others on the same backend gives exactly what it gives on a fresh one; the backend is kept', async () => {
    const config = tinySearch({ space: { sampling: 'grid', lMin: -4, lMax: 2 }, trials: 3 });
    // the fresh trial selects wasm-simd itself, as the kept backend is (auto may pick another, rounding differently)
    const tasks = planTrials([-4, 2, -2]).map((t): TrialTask => ({
      ...t, config: { ...trialConfig(config, t, 2), kernels: { backend: 'wasm-simd', threads: 2 } }, outDir: join(root, 'kept', String(t.trial)), dataDir,
    }));
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

// The lambda search on its Piscina pool (dist/trial-worker.js, built by the global setup) and through the
// built CLI: shared data, faults in workers (a throw, a dying worker, a diverging trial), SIGINT and --resume.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchSchema } from '../src/config/search-schema.js';
import { computeNormalization } from '../src/data/normalization.js';
import { loadSplits } from '../src/data/splits.js';
import { defaultWorkerFile, LocalPoolExecutor } from '../src/search/local-pool.js';
import { trialConfig } from '../src/search/trial-config.js';
import { readTrialsCsv, trialColumns } from '../src/formats/trials-csv.js';
import type { SearchSummary } from '../src/formats/search-summary.js';
import { runSearch } from '../src/search/run-search.js';
import type { RungReport, TrialTask } from '../src/search/types.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const CLI = resolve('dist/cli.js');
let root: string;
let dataDir: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'search-pool-test-'));
  dataDir = writeSyntheticCifar(join(root, 'data'), 200, 60);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const BASE = {
  seed: 1,
  data: { train: ['data_batch_1', 'data_batch_2'], holdout: 100, test: ['test_batch'] },
  model: { hidden: 16 },
  train: { batchSize: 50 },
  schedule: { etaMin: 0.1, etaMax: 0.1, ns: 12, cycles: 1 },
  eval: { pointsPerCycle: 2 },
};

describe('LocalPoolExecutor', () => {
  it('finds the built worker', () => {
    expect(defaultWorkerFile()).toBe(resolve('dist/trial-worker.js'));
  });

  it('runs trials in parallel on shared data and records a throwing trial, a dying worker and a diverging trial', async () => {
    // A worker module around the real one: trial 2 throws, trial 3 kills its worker thread, and every task
    // checks that the splits and normalisation arrived in shared memory (not copied).
    const wrapper = join(root, 'faulty-worker.mjs');
    writeFileSync(wrapper, `import run from ${JSON.stringify(pathToFileURL(resolve('dist/trial-worker.js')).href)};
export default async function (w) {
  for (const a of [w.data.splits.train.pixels, w.data.splits.val.labels, w.data.splits.test.pixels, w.data.normalization.mean]) {
    if (!(a.buffer instanceof SharedArrayBuffer)) throw new Error('data was copied, not shared');
  }
  if (w.threads !== 1) throw new Error('expected 1 kernel thread per trial, got ' + w.threads);
  if (w.task.trial === 2) throw new Error('trial 2 blew up');
  if (w.task.trial === 3) process.exit(3);
  return run(w);
}
`);
    // Grid l = -4, -1.67, 0.67, 3: lambda = 1000 with eta 0.1 diverges.
    const config = searchSchema.parse({ kind: 'search', name: 'pool', trials: 4, workers: 2, space: { sampling: 'grid', lMin: -4, lMax: 3 }, base: BASE });
    const splits = loadSplits(config.base.data, dataDir);
    const out = join(root, 'pool');
    mkdirSync(out);
    let executor: LocalPoolExecutor | undefined;
    const summary = await runSearch({
      config, outDir: out, dataDir, render: false,
      executor: () => (executor = new LocalPoolExecutor({ splits, normalization: computeNormalization(splits.train), workers: 2, threadsPerTrial: 1, filename: wrapper })),
    });
    expect(executor!.slots).toBe(2);
    expect(summary.status).toBe('completed');
    const { rows } = await readTrialsCsv(join(out, 'trials.csv'), summary.space, false);
    const by = new Map(rows.map((r) => [r.trial, r]));
    expect(rows).toHaveLength(4);
    expect(by.get(1)).toMatchObject({ status: 'completed', steps: 24, threads: 1 });
    expect(by.get(1)!.val_acc).toBeGreaterThan(0.3);
    expect(by.get(2)!.status).toBe('failed');
    expect(by.get(2)!.reason).toMatch(/trial 2 blew up/);
    expect(by.get(3)!.status).toBe('failed');
    expect(by.get(3)!.reason).toMatch(/worker/i);
    expect(by.get(4)!.status).toBe('diverged');
    expect(by.get(4)!.reason).toMatch(/diverged/);
    expect(summary.ranking.map((r) => r.trial)).toEqual([1]);
  });
});

function cli(args: string[], onStderr?: (text: string, child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr, child);
    });
    child.stdout!.resume();
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code, stderr }));
  });
}

describe('LocalPoolExecutor rungs', () => {
  it('forwards each rung report to onRung across the worker thread and stops the trial where told (status pruned)', async () => {
    const config = searchSchema.parse({ kind: 'search', name: 'rungs', trials: 2, workers: 2, space: { sampling: 'grid', lMin: -3, lMax: -2 }, base: BASE });
    const splits = loadSplits(config.base.data, dataDir);
    const executor = new LocalPoolExecutor({ splits, normalization: computeNormalization(splits.train), workers: 2, threadsPerTrial: 1 });
    const reports: RungReport[] = [];
    try {
      const params = { 'base.train.lambda': 1e-3 };
      const task = (trial: number): TrialTask => ({
        trial, params, outDir: join(root, 'rungs', String(trial)), dataDir, rungs: [6, 12, 18],
        config: trialConfig(config, { trial, params }, 1, 2),
      });
      const stop = new AbortController().signal;
      const onRung = async (r: RungReport) => { reports.push(r); return r.trial === 1 && r.step === 12 ? 'prune' as const : 'continue' as const; };
      const [pruned, kept] = await Promise.all([executor.run(task(1), stop, { onRung }), executor.run(task(2), stop, { onRung })]);
      expect(pruned.status).toBe('pruned');
      expect(pruned.steps).toBe(12);
      expect(pruned.pruned?.step).toBe(12);
      expect(kept.status).toBe('completed');
      expect(kept.steps).toBe(24);
      const of = (t: number) => reports.filter((r) => r.trial === t);
      expect(of(1).map((r) => r.step)).toEqual([6, 12]);
      expect(of(2).map((r) => r.step)).toEqual([6, 12, 18]);
      for (const r of reports) expect(r.valAccuracy).toBeGreaterThanOrEqual(0);
      expect(pruned.pruned?.valAccuracy).toBe(of(1)[1].valAccuracy);
      // without the hook the same task runs to its end
      expect((await executor.run(task(1), stop)).status).toBe('completed');
    } finally {
      await executor.close();
    }
  });
});

describe('cifar-mlp search (built CLI)', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('stops cleanly on %s (exit 130) and --resume runs only the unfinished trials', async (sig) => {
    const cfg = join(root, `search-${sig}.yaml`);
    writeFileSync(cfg, JSON.stringify({
      kind: 'search', name: 'cli-search', seed: 5, trials: 3, workers: 1,
      space: { lMin: -5, lMax: -2 },
      base: { ...BASE, schedule: { etaMin: 1e-5, etaMax: 0.1, ns: 150, cycles: 1 } },
    }));
    const out = join(root, `cli-out-${sig}`);
    // The signal once trial 2 is training (its metrics.csv has the step-0 row).
    let sent = false;
    const first = await cli(['search', cfg, '--data', dataDir, '--out', out], (text, child) => {
      if (sent || !/trial 2 started/.test(text)) return;
      sent = true;
      const metrics = join(out, 'trials', '02', 'metrics.csv');
      const poll = setInterval(() => {
        if (existsSync(metrics) && readFileSync(metrics, 'utf8').split('\n').length > 2) {
          clearInterval(poll);
          child.kill(sig);
        }
      }, 5);
      child.on('exit', () => clearInterval(poll));
    });
    expect(first.stderr).toMatch(/trial 1 \(lambda=.*\) completed: val [\d.]+% in/);
    expect(first.stderr).not.toMatch(/trial \d+ .*test/); // no trial's test accuracy is shown
    expect(first.code).toBe(130);
    const s1 = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as SearchSummary;
    expect(s1.status).toBe('interrupted');
    expect(s1.counts).toMatchObject({ completed: 1, pending: 2 });
    // The running trial stopped through its AbortSignal: its own summary says so.
    expect(JSON.parse(readFileSync(join(out, 'trials', '02', 'summary.json'), 'utf8')).status).toBe('interrupted');
    expect(existsSync(join(out, 'trials', '03'))).toBe(false);
    expect(readFileSync(join(out, 'trials.csv'), 'utf8').trimEnd().split('\n')).toHaveLength(2);

    // Without --resume a non-empty --out is refused.
    const refused = await cli(['search', cfg, '--data', dataDir, '--out', out]);
    expect(refused.code).toBe(2);

    const second = await cli(['search', cfg, '--data', dataDir, '--out', out, '--resume']);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/resuming .*: 1 of 3 trials done, 2 to run/);
    expect(second.stderr).not.toMatch(/trial 1 started/);
    const lines = readFileSync(join(out, 'trials.csv'), 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe(trialColumns(['base.train.lambda']).join(','));
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(['1', '2', '3']);
    const s2 = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as SearchSummary;
    expect(s2.status).toBe('completed');
    expect(s2.results.map((r) => r.params)).toEqual(s1.results.map((r) => r.params));
    expect(s2.best).toHaveLength(3);
    // the chosen trial's test accuracy, measured once from its model.json, is the only test figure
    expect(second.stderr).toMatch(new RegExp(`chosen trial ${s2.chosen!.id} \\(lambda=[^)]+\\): val [\\d.]+%, test [\\d.]+%`));
    expect(s2.chosen!.test!.accuracy).toBeGreaterThan(0.2);
    for (const f of ['param-base.train.lambda.svg', 'param-base.train.lambda.png', 'curves.png', 'report.html', 'plan.json', 'config.yaml']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(existsSync(join(out, 'overview.png')), 'no parallel coordinates for one searched parameter').toBe(false);
    for (const id of ['01', '02', '03']) {
      for (const f of ['lr.png', 'loss.png', 'accuracy.png', 'report.html']) expect(existsSync(join(out, 'trials', id, f)), `trials/${id}/${f}`).toBe(true);
    }
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('Search: cli-search');
    expect(html).not.toMatch(/<script|(src|href)="https?:/);
  }, 300_000);
});

describe('cifar-mlp search over two fields with pruning, then plot and evaluate on its folder (built CLI)', () => {
  it('prunes trials through the pool, keeps the best models, and plot / evaluate work on the search and on each trial', async () => {
    const cfg = join(root, 'search-asha.yaml');
    writeFileSync(cfg, JSON.stringify({
      kind: 'search', name: 'cli-asha', seed: 3, trials: 6, workers: 2, keepModels: 2,
      space: { params: { 'base.train.lambda': { dist: 'log-uniform', min: 1e-5, max: 1 }, 'base.model.hidden': { dist: 'int', min: 4, max: 24, log: true } } },
      pruning: { rule: 'asha', minSteps: 8, eta: 2, maxRungs: 2 },
      base: { ...BASE, schedule: { etaMin: 1e-4, etaMax: 0.05, ns: 16, cycles: 1 }, eval: { pointsPerCycle: 4 } },
    }));
    const out = join(root, 'cli-asha');
    const run = await cli(['search', cfg, '--data', dataDir, '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as SearchSummary;
    expect(s.counts.pruned).toBeGreaterThan(0);
    expect(s.counts.completed + s.counts.pruned + s.counts.diverged).toBe(6);
    expect(run.stderr).toMatch(/trial \d+ \(lambda=\S+ hidden=\d+\) pruned at step (8|16): val/);
    expect(run.stderr).toMatch(new RegExp(`pruning \\(asha\\): ${s.counts.pruned} trial\\(s\\) pruned; ${s.budget.stepsSpent} update steps spent, ${s.budget.stepsWithoutPruning} without pruning`));
    expect(s.budget.stepsSpent).toBeLessThan(s.budget.stepsWithoutPruning);
    // rungs.csv holds every decision, trials.csv a pruned trial at its rung
    const rungLines = readFileSync(join(out, 'rungs.csv'), 'utf8').trimEnd().split('\n');
    expect(rungLines[0]).toBe('trial,rung,step,val_acc,cutoff,margin,reported,decision');
    expect(rungLines.length - 1).toBe(s.rungs.length);
    for (const e of s.results.filter((r) => r.status === 'pruned')) {
      const last = s.rungs.filter((r) => r.trial === e.trial).at(-1)!;
      expect(last.decision).toBe('prune');
      expect(e.row!.steps).toBe(last.step);
      expect(e.row!.val_acc).toBe(last.valAccuracy);
    }
    const kept = s.results.filter((e) => existsSync(join(out, 'trials', e.id, 'model.json'))).map((e) => e.trial).sort();
    expect(kept).toEqual(s.ranking.slice(0, 2).map((r) => r.trial).sort());
    for (const f of ['param-base.train.lambda.png', 'param-base.model.hidden.png', 'overview.png', 'rungs.png', 'curves.png']) expect(existsSync(join(out, f)), f).toBe(true);

    // plot on the search folder re-renders the search's figures and every trial's page
    for (const f of ['report.html', 'rungs.svg', join('trials', '01', 'report.html')]) rmSync(join(out, f));
    const plot = await cli(['plot', out]);
    expect(plot.code, plot.stderr).toBe(0);
    for (const f of ['report.html', 'rungs.svg', join('trials', '01', 'report.html')]) expect(existsSync(join(out, f)), f).toBe(true);
    // ... and on one trial folder (a run folder)
    const plotTrial = await cli(['plot', join(out, 'trials', '05')]);
    expect(plotTrial.code, plotTrial.stderr).toBe(0);

    // evaluate on the search folder evaluates the chosen trial: its test accuracy is the summary's
    const ev = await cli(['evaluate', out, '--data', dataDir]);
    expect(ev.code, ev.stderr).toBe(0);
    expect(ev.stderr).toMatch(new RegExp(`evaluating its chosen trial .*trials/${s.chosen!.id}`));
    const evaluation = JSON.parse(readFileSync(join(out, 'trials', s.chosen!.id, 'evaluation.json'), 'utf8'));
    expect(evaluation.splits.test.accuracy).toBe(s.chosen!.test!.accuracy);
    expect(evaluation.splits.val.accuracy).toBe(s.chosen!.valAccuracy);
    // ... on a trial whose model was kept, and on one whose model was not: a one-line reason, exit 2
    const other = s.results.find((e) => !kept.includes(e.trial))!;
    const refused = await cli(['evaluate', join(out, 'trials', other.id), '--data', dataDir]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/no model\.json: the search kept the models of its best trials only \(keepModels: 2\)/);
    const second = s.ranking[1];
    if (second) {
      const evTrial = await cli(['evaluate', join(out, 'trials', String(second.trial).padStart(2, '0')), '--data', dataDir]);
      expect(evTrial.code, evTrial.stderr).toBe(0);
    }
  }, 400_000);

  it('rejects a space naming no training field with one line and exit 2, writing nothing', async () => {
    const cfg = join(root, 'search-bad.yaml');
    writeFileSync(cfg, 'kind: search\nspace:\n  params:\n    base.model.hiden: { dist: int, min: 8, max: 64 }\n');
    const out = join(root, 'cli-bad');
    const r = await cli(['search', cfg, '--data', dataDir, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`cifar-mlp: ${cfg}: space.params.base.model.hiden: not a field of the training config (base.model has hidden, layers, batchNorm, init, bnMomentum) (got "base.model.hiden")`);
    expect(existsSync(out)).toBe(false);
  });
});

describe('search benchmark (dist/search-bench.js)', () => {
  it('runs a search in every pool setting and one training run, and reports wall times, memory and ratios', async () => {
    const config = join(root, 'bench-search.yaml');
    writeFileSync(config, JSON.stringify({ kind: 'search', name: 'bench', trials: 2, workers: 0, space: { lMin: -4, lMax: -2 }, base: BASE }));
    const child = spawn(process.execPath, [resolve('dist/search-bench.js'), '--config', config, '--data', dataDir, '--runs', '1', '--workers', '2', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as {
      rows: { setting: string; runs: number; workers: number; threadsPerTrial: number; wallMedianS: number; peakRssMedianMiB: number }[];
      single: { wallS: number; peakRssMiB: number };
      ratios: Record<string, number>;
    };
    expect(report.rows.map((r) => r.setting)).toEqual(['pool', 'one', 'seq-1t']);
    const cores = availableParallelism();
    expect(report.rows.map((r) => [r.workers, r.threadsPerTrial])).toEqual([[2, Math.max(1, Math.floor(cores / 2))], [1, cores], [1, 1]]);
    for (const r of report.rows) {
      expect(r.runs).toBe(1);
      expect(r.wallMedianS).toBeGreaterThan(0);
      expect(r.peakRssMedianMiB).toBeGreaterThan(20); // a Node process with its data: tens of MiB at least
    }
    expect(report.single.peakRssMiB).toBeGreaterThan(20);
    const byName = Object.fromEntries(report.rows.map((r) => [r.setting, r]));
    expect(report.ratios.poolVsOne).toBeCloseTo(byName.pool.wallMedianS / byName.one.wallMedianS, 10);
    expect(report.ratios.poolVsSequentialOneThread).toBeCloseTo(byName.pool.wallMedianS / byName['seq-1t'].wallMedianS, 10);
    expect(report.ratios.poolMemoryVsSingleRun).toBeCloseTo(byName.pool.peakRssMedianMiB / report.single.peakRssMiB, 10);
    // the scaling: 1, 2, 4, … workers up to the cores, and the cores; never more kernel threads than cores in all
    const scaling = (report as unknown as { scaling: { requestedWorkers: number; workers: number; threadsPerTrial: number; trialsPerMinute: number }[] }).scaling;
    const expected: number[] = [];
    for (let k = 1; k < cores; k *= 2) expected.push(k);
    expect(scaling.map((r) => r.requestedWorkers)).toEqual([...expected, cores]);
    for (const r of scaling) {
      expect(r.workers).toBe(Math.min(r.requestedWorkers, 2)); // never more workers than the 2 trials
      expect(r.workers * r.threadsPerTrial).toBeLessThanOrEqual(cores);
      expect(r.trialsPerMinute).toBeGreaterThan(0);
    }
  }, 300_000);
});

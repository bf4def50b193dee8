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
import { readTrialsCsv, TRIAL_COLUMNS } from '../src/search/results.js';
import { runSearch, trialConfig, type SearchSummary } from '../src/search/search.js';
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
    const { rows } = await readTrialsCsv(join(out, 'trials.csv'), false);
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
      const task = (trial: number): TrialTask => ({
        trial, l: -3, lambda: 1e-3, outDir: join(root, 'rungs', String(trial)), dataDir, rungs: [6, 12, 18],
        config: trialConfig(config, { trial, l: -3, lambda: 1e-3 }, 1),
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
    expect(first.stderr).toMatch(/trial 1 \(l=.*\) completed/);
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
    expect(lines[0]).toBe(TRIAL_COLUMNS.join(','));
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(['1', '2', '3']);
    const s2 = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as SearchSummary;
    expect(s2.status).toBe('completed');
    expect(s2.results.map((r) => r.l)).toEqual(s1.results.map((r) => r.l));
    expect(s2.best).toHaveLength(3);
    for (const f of ['lambda.svg', 'lambda.png', 'report.html', 'plan.json', 'config.yaml']) expect(existsSync(join(out, f))).toBe(true);
    const bestId = String(s2.best[0].trial).padStart(2, '0');
    for (const f of ['lr.png', 'loss.png', 'accuracy.png', 'report.html']) expect(existsSync(join(out, 'trials', bestId, f)), `trials/${bestId}/${f}`).toBe(true);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('Lambda search: cli-search');
    expect(html).not.toMatch(/<script|(src|href)="https?:/);
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
  }, 120_000);
});

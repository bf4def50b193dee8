/**
 * The kill matrix (issue: a run or search is never lost): SIGINT, SIGTERM and kill -9, early, midway and late, in a
 * short and a long run and in a search, through the built CLI. Each case checks the exit code, the files left, that
 * the stop really came before the end (no false green from a run that was nearly over), and that --resume ends with
 * exactly the numbers of an uninterrupted run: every evaluation step once in metrics.csv, the same final metrics;
 * every trial of a search once in trials.csv with the same validation accuracy.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

vi.setConfig({ testTimeout: 180_000 });
import { writeSyntheticCifar } from './helpers/synthetic.js';

const CLI = resolve('dist/cli.js');
const root = mkdtempSync(join(tmpdir(), 'cifar-kill-matrix-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const dataDir = writeSyntheticCifar(join(root, 'data'), 100, 90);

type Signal = 'SIGINT' | 'SIGTERM' | 'SIGKILL';
interface Result { code: number | null; signal: NodeJS.Signals | null; stderr: string }

/** Runs the CLI; `when(stderr)` says when to send `sig` (once): checked on every stderr chunk and every 5 ms. */
function cli(args: string[], sig?: Signal, when?: (stderr: string) => boolean): Promise<Result> {
  return new Promise((done, fail) => {
    const env: Record<string, string> = { ...(process.env as Record<string, string>), FORCE_COLOR: '0' };
    delete env.CIFAR10_DIR;
    const child = spawn(process.execPath, [CLI, ...args], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '', sent = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const check = () => {
      if (!sent && sig && when?.(stderr)) {
        sent = true;
        child.kill(sig);
      }
    };
    const poll = setInterval(check, 5);
    child.stderr.on('data', (d) => { stderr += d; check(); });
    child.on('error', fail);
    child.on('close', (code, signal) => { clearTimeout(timer); clearInterval(poll); done({ code, signal, stderr }); });
  });
}

const lines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').length - 1 : 0);

const lastStep = (stderr: string) => Math.max(0, ...[...stderr.matchAll(/ step (\d+)\//g)].map((m) => Number(m[1])));
const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
/** metrics.csv rows without the elapsed time column, as { step → row }. */
function rowsOf(dir: string): Map<number, string> {
  const lines = readFileSync(join(dir, 'metrics.csv'), 'utf8').split('\n');
  expect(lines.at(-1)).toBe(''); // ends with a newline: no half-written row
  const out = new Map<number, string>();
  for (const l of lines.slice(1, -1)) {
    const step = Number(l.split(',')[0]);
    expect(out.has(step), `step ${step} twice in ${dir}`).toBe(false);
    out.set(step, l.split(',').slice(0, -1).join(','));
  }
  return out;
}

// The reference backend is slow on purpose (float64 loops): a few ms per step, so that early, midway and late
// are different moments of a run, and a signal always lands before the end.
const RUN = {
  name: 'km', seed: 4,
  data: { train: ['data_batch_1', 'data_batch_2'], validation: ['data_batch_3'], test: ['test_batch'] },
  model: { hidden: 4 }, train: { lambda: 0.01, batchSize: 10 },
  schedule: { etaMin: 1e-4, etaMax: 0.05, ns: 100, cycles: 1 }, // 200 steps, 20 per epoch
  eval: { every: 10 }, checkpoint: { every: 25 }, kernels: { backend: 'reference' },
};
const LONG = { ...RUN, name: 'kml', schedule: { ...RUN.schedule, ns: 5_000_000 } }; // 10 million steps

function config(name: string, c: object): string {
  const path = join(root, `${name}.yaml`);
  writeFileSync(path, stringify(c));
  return path;
}

const MOMENTS = { early: 10, midway: 100, late: 180 } as const;

describe('kill matrix: a short run (200 steps)', () => {
  let full: Map<number, string>;
  let fullFinal: unknown;
  beforeAll(async () => {
    const r = await cli(['run', config('short', RUN), '--data', dataDir, '--out', join(root, 'short-full')]);
    expect(r.code, r.stderr).toBe(0);
    full = rowsOf(join(root, 'short-full'));
    fullFinal = summaryOf(join(root, 'short-full')).final;
    expect(full.size).toBe(21);
  }, 120_000);

  const cases = (['SIGINT', 'SIGTERM', 'SIGKILL'] as const).flatMap((sig) => Object.entries(MOMENTS).map(([at, step]) => [sig, at, step] as const));
  it.each(cases)('%s %s (after step %i): exit code, files, and --resume gives the uninterrupted run', async (sig, at, step) => {
    const out = join(root, `short-${sig}-${at}`);
    const args = ['run', config('short', RUN), '--data', dataDir, '--out', out];
    const r = await cli(args, sig, (e) => lastStep(e) >= step);
    const stoppedAt = sig === 'SIGKILL' ? lastStep(r.stderr) : summaryOf(out).steps;
    expect(stoppedAt, 'the stop came before the end').toBeLessThan(200);
    if (sig === 'SIGKILL') {
      expect(r.signal).toBe('SIGKILL');
    } else {
      expect(r.code, r.stderr).toBe(130);
      const s = summaryOf(out);
      expect(s.status).toBe('interrupted');
      expect(s.steps).toBeGreaterThanOrEqual(step);
      expect(s.checkpointStep).toBe(s.steps); // model.json holds the last finished step
      expect(JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')).step).toBe(s.steps);
      expect(r.stderr).toMatch(new RegExp(`${sig} received: stopping after the current step`));
    }
    expect(existsSync(join(out, 'model.json')), 'resumable: a checkpoint exists').toBe(true);
    const again = await cli([...args, '--resume']);
    expect(again.code, again.stderr).toBe(0);
    const rows = rowsOf(out);
    expect([...rows.keys()]).toEqual([...full.keys()]);
    expect([...rows.values()]).toEqual([...full.values()]);
    expect(summaryOf(out).final).toEqual(fullFinal);
  });
});

describe('kill matrix: a long run (10 million steps)', () => {
  // The reference: the same run, stopped late (SIGINT): its rows up to that step are the uninterrupted run's.
  let full: Map<number, string>;
  beforeAll(async () => {
    const r = await cli(['run', config('long', LONG), '--data', dataDir, '--out', join(root, 'long-full')], 'SIGINT', (e) => lastStep(e) >= 400);
    expect(r.code, r.stderr).toBe(130);
    full = rowsOf(join(root, 'long-full'));
  }, 120_000);

  const cases = (['SIGINT', 'SIGTERM', 'SIGKILL'] as const).flatMap((sig) => Object.entries({ early: 10, midway: 150 }).map(([at, step]) => [sig, at, step] as const));
  it.each(cases)('%s %s (after step %i): stops at once, resumes where it stopped, same numbers', async (sig, at, step) => {
    const out = join(root, `long-${sig}-${at}`);
    const args = ['run', config('long', LONG), '--data', dataDir, '--out', out];
    const r = await cli(args, sig, (e) => lastStep(e) >= step);
    if (sig !== 'SIGKILL') {
      expect(r.code, r.stderr).toBe(130);
      const s = summaryOf(out);
      expect([s.status, s.totalSteps, s.checkpointStep]).toEqual(['interrupted', 10_000_000, s.steps]);
      // the stop took effect within a few steps of the signal (progress lines come every 10 steps)
      expect(s.steps - lastStep(r.stderr.slice(0, r.stderr.indexOf(`${sig} received`)))).toBeLessThan(100);
    }
    // Resume, and stop again (SIGINT) past the reference's stop: every row both have is identical.
    const first = sig === 'SIGKILL' ? JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')).step : summaryOf(out).steps;
    const again = await cli([...args, '--resume'], 'SIGINT', (e) => lastStep(e) >= 420);
    expect(again.code, again.stderr).toBe(130);
    expect(again.stderr).toMatch(new RegExp(`resuming at step ${first} of 10000000`));
    const rows = rowsOf(out);
    const common = [...full.keys()].filter((k) => rows.has(k));
    expect(common.length).toBe(full.size);
    for (const k of common) expect(rows.get(k), `step ${k}`).toBe(full.get(k));
  });
});

describe('kill matrix: a search', () => {
  const SEARCH = {
    kind: 'search', name: 'kms', seed: 3, trials: 3, workers: 1,
    space: { sampling: 'grid', lMin: -4, lMax: -2 },
    base: { ...RUN, name: 'kms', kernels: { backend: 'reference' } },
  };
  const valAccOf = (dir: string) => {
    const lines = readFileSync(join(dir, 'trials.csv'), 'utf8').split('\n');
    expect(lines.at(-1)).toBe('');
    const header = lines[0].split(',');
    const rows = lines.slice(1, -1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i], v])));
    const trials = rows.map((r) => r.trial);
    expect(new Set(trials).size, `each trial once in ${dir}: ${trials}`).toBe(trials.length);
    return Object.fromEntries(rows.map((r) => [r.trial, [r.status, r.val_acc]]));
  };
  let full: Record<string, unknown>;
  beforeAll(async () => {
    const r = await cli(['search', config('search', SEARCH), '--data', dataDir, '--out', join(root, 'search-full')]);
    expect(r.code, r.stderr).toBe(0);
    full = valAccOf(join(root, 'search-full'));
    expect(Object.keys(full)).toHaveLength(3);
  }, 180_000);

  // early: trial 1 under way; midway: trial 2 under way (trial 1 done); late: trial 3 under way (metrics rows of
  // steps 0 and 10 written: the trial has trained, and has 190 steps to go)
  const moments = { early: '01', midway: '02', late: '03' };
  const cases = (['SIGINT', 'SIGTERM', 'SIGKILL'] as const).flatMap((sig) => Object.entries(moments).map(([at, id]) => [sig, at, id] as const));
  it.each(cases)('%s %s: --resume runs each unfinished trial once and keeps every finished one', async (sig, at, id) => {
    const out = join(root, `search-${sig}-${at}`);
    const args = ['search', config('search', SEARCH), '--data', dataDir, '--out', out];
    const r = await cli(args, sig, () => lines(join(out, 'trials', id, 'metrics.csv')) >= 3);
    if (sig !== 'SIGKILL') {
      expect(r.code, r.stderr).toBe(130);
      expect(summaryOf(out).status).toBe('interrupted');
    }
    const before = existsSync(join(out, 'trials.csv')) ? valAccOf(out) : {};
    const done = Object.keys(before);
    expect(done.length, 'the stop came before the last trial ended').toBeLessThan(3);
    const again = await cli([...args, '--resume']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(new RegExp(`${done.length} of 3 trials done, ${3 - done.length} to run`));
    const after = valAccOf(out);
    for (const t of done) expect(after[t]).toEqual(before[t]);
    expect(after).toEqual(full);
  });
});

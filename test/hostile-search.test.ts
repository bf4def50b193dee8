// Issue 21.3, 21.5, 21.12 in a search: a write error fails the search at once and no unrecorded trial is ranked; a
// resume verifies the trial folders it relies on and keeps the test figure; results that cannot be true are refused;
// a run resumed on another backend is refused unless asked for, and then recorded.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { train } from '../src/api/train.js';
import { searchSchema, type SearchConfig } from '../src/config/search-schema.js';
import { writeRunSummary } from '../src/formats/run-summary.js';
import type { SearchSummary } from '../src/formats/search-summary.js';
import type { TrialExecutor } from '../src/search/executor.js';
import { runSearch } from '../src/search/run-search.js';
import type { TrialResult, TrialTask } from '../src/search/types.js';
import { UsageError } from '../src/util/errors.js';
import { CLI, cli } from './helpers/cli.js';
import { LOCK_FILE } from '../src/util/folder-lock.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const root = mkdtempSync(join(tmpdir(), 'hostile-search-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const dataDir = writeSyntheticCifar(join(root, 'data'), 60, 60);
let outs = 0;
const outDir = () => {
  const d = join(root, `out-${++outs}`);
  mkdirSync(d);
  return d;
};

const config = (over: Record<string, unknown> = {}): SearchConfig => searchSchema.parse({
  kind: 'search', name: 'fake', seed: 3, trials: 5, workers: 1,
  space: { params: { 'base.train.lambda': { dist: 'log-uniform', min: 1e-5, max: 1e-1 } } },
  ...over,
  base: {
    seed: 1, data: { train: ['data_batch_1'], holdout: 20, test: ['test_batch'] }, model: { hidden: 4 },
    train: { batchSize: 10 }, schedule: { etaMin: 1e-5, etaMax: 0.1, ns: 2, cycles: 1 }, kernels: { backend: 'reference' },
  },
});
const TOTAL = 4; // steps of each trial (2 · ns · cycles)

const metrics = (accuracy: number) => ({ loss: 1, cost: 1, accuracy });
type Script = Partial<TrialResult> & { val?: number };

/** Runs no training: each trial's result is scripted (default: completed, val 0.3); the folder gets what a trial leaves. */
class ScriptedExecutor implements TrialExecutor {
  readonly slots = 1;
  readonly threadsPerTrial = 1;
  readonly ran: number[] = [];
  constructor(private readonly script: Record<number, Script> = {}) {}
  async run(task: TrialTask): Promise<TrialResult> {
    this.ran.push(task.trial);
    const { val = 0.3, ...s } = this.script[task.trial] ?? {};
    const result: TrialResult = {
      trial: task.trial, status: 'completed', final: { train: metrics(0.5), val: metrics(val), test: null },
      steps: TOTAL, totalSteps: TOTAL, seconds: 0.01, backend: 'reference-f64', threads: 1, ...s,
    };
    mkdirSync(task.outDir, { recursive: true });
    writeRunSummary(task.outDir, { status: result.status === 'interrupted' ? 'interrupted' : result.status } as never);
    if (result.status === 'completed' && !result.writeError) writeFileSync(join(task.outDir, 'model.json'), '{}');
    return result;
  }
  async close(): Promise<void> {}
}

const tested: string[] = [];
const search = (c: SearchConfig, out: string, executor: TrialExecutor, resume = false): Promise<SearchSummary> =>
  runSearch({ config: c, outDir: out, dataDir, executor: () => executor, render: false, resume, testChosen: async (dir) => { tested.push(dir); return metrics(0.45); } });

describe('a write error in a search (21.3)', () => {
  it('fails the search at once, names the file, and never ranks the trial that could not record its result', async () => {
    const out = outDir();
    const executor = new ScriptedExecutor({
      1: { val: 0.282 },
      2: { val: 0.304, writeError: `${out}/trials/02/model.json: cannot write (ENOSPC: no space left on device)` },
    });
    const s = await search(config(), out, executor);
    expect(executor.ran).toEqual([1, 2]); // trials 3..5 never start
    expect(s.status).toBe('failed');
    expect(s.note).toMatch(/trials\/02\/model\.json: cannot write \(ENOSPC: no space left on device\); continue with --resume/);
    expect(s.chosen).toBeNull();
    expect(s.ranking.map((r) => r.trial)).toEqual([1]);
    expect(readFileSync(join(out, 'trials.csv'), 'utf8').trim().split('\n')).toHaveLength(2); // header + trial 1
  });

  it('through the CLI under a file size limit: exit 1 at the first trial, naming the file; no trial ranked', () => {
    const out = join(root, 'ulimit');
    const file = join(root, 'ulimit.yaml');
    writeFileSync(file, stringify({ ...config(), base: { ...config().base, model: { hidden: 16 } } }));
    // 512-byte blocks: 100 KiB lets every file but a trial's model.json (about 560 KB) through
    const r = spawnSync('sh', ['-c', `ulimit -f 200 && exec "${process.execPath}" "${CLI}" search "${file}" --data "${dataDir}" --out "${out}"`], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/cifar-mlp: search failed: 0 completed, .* 5 not run, .*trials\/01\/model\.json: cannot write \(EFBIG: file too large\)/);
    expect(r.stderr).toMatch(/no trial chosen/);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(s.status).toBe('failed');
    expect(s.ranking).toEqual([]);
    expect(existsSync(join(out, 'trials', '02'))).toBe(false); // it stopped at the first write error
  });
});

describe('results that cannot be true are refused (21.12)', () => {
  it.each<[string, Script, RegExp]>([
    ['val accuracy 1e308', { val: 1e308 }, /an accuracy outside \[0, 1\]/],
    ['a negative accuracy', { final: { train: metrics(-0.1), val: metrics(0.9), test: null } }, /an accuracy outside \[0, 1\]/],
    ['negative steps', { val: 0.9, steps: -5 }, /-5 steps, outside the plan's 0\.\.4/],
    ['more steps than the plan', { val: 0.9, steps: 4000 }, /4000 steps, outside the plan's 0\.\.4/],
    ['fractional steps', { val: 0.9, steps: 2.5 }, /2\.5 steps/],
    ['pruned in a search without pruning', { status: 'pruned', final: null, pruned: { step: 2, valAccuracy: 0.9 } }, /pruned in a search without pruning/],
    ['a NaN validation accuracy', { val: NaN }, /an accuracy outside \[0, 1\]/],
    ['completed without final metrics', { final: null }, /completed without a validation accuracy/],
  ])('%s: a failed trial, never chosen', async (_name, bad, reason) => {
    const out = outDir();
    const s = await search(config({ trials: 2 }), out, new ScriptedExecutor({ 1: { val: 0.4 }, 2: bad }));
    expect(s.status).toBe('completed');
    expect(s.chosen?.trial).toBe(1);
    const row = s.results.find((t) => t.trial === 2)!.row!;
    expect(row.status).toBe('failed');
    expect(row.reason).toMatch(/^result refused: /);
    expect(row.reason).toMatch(reason);
  });
});

describe('resume verifies what it relies on (21.5)', () => {
  it('deleted trial folders (the chosen one too) run again; the test figure is measured again, never erased', async () => {
    const out = outDir();
    const first = await search(config(), out, new ScriptedExecutor({ 2: { val: 0.29 }, 5: { val: 0.304 } }));
    expect(first.chosen).toMatchObject({ trial: 5, test: { accuracy: 0.45 } });
    rmSync(join(out, 'trials', '05'), { recursive: true });
    rmSync(join(out, 'trials', '02'), { recursive: true });
    const again = new ScriptedExecutor({ 2: { val: 0.29 }, 5: { val: 0.304 } });
    const lines: string[] = [];
    const s = await runSearch({ config: config(), outDir: out, dataDir, executor: () => again, render: false, resume: true, log: (l) => lines.push(l), testChosen: async () => metrics(0.45) });
    expect(again.ran).toEqual([2, 5]);
    expect(lines.join('\n')).toMatch(/trials 2, 5 recorded as done but their folder no longer holds what the search relies on/);
    expect(lines.join('\n')).toMatch(/3 of 5 trials done, 2 to run/);
    expect(s.status).toBe('completed');
    expect(s.chosen).toMatchObject({ trial: 5, test: { accuracy: 0.45 } });
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).chosen.test.accuracy).toBe(0.45);
  });

  it('the chosen trial\'s model.json deleted: that trial runs again rather than leaving the search without a test figure', async () => {
    const out = outDir();
    await search(config(), out, new ScriptedExecutor({ 3: { val: 0.5 } }));
    rmSync(join(out, 'trials', '03', 'model.json'));
    const again = new ScriptedExecutor({ 3: { val: 0.5 } });
    const s = await search(config(), out, again, true);
    expect(again.ran).toEqual([3]);
    expect(s.chosen).toMatchObject({ trial: 3, test: { accuracy: 0.45 } });
  });

  it('a resume that cannot measure the chosen trial again keeps the test figure an earlier session measured', async () => {
    const out = outDir();
    await search(config({ trials: 3 }), out, new ScriptedExecutor({ 2: { val: 0.6 } }));
    const again = new ScriptedExecutor();
    const s = await runSearch({ config: config({ trials: 3 }), outDir: out, dataDir, executor: () => again, render: false, resume: true, testChosen: async () => { throw new Error('the data folder is gone'); } });
    expect(again.ran).toEqual([]);
    expect(s.chosen).toMatchObject({ trial: 2, test: { accuracy: 0.45 } });
    expect(s.chosen!.note).toMatch(/measured by an earlier session of the search \(test evaluation failed: the data folder is gone\)/);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).chosen.test.accuracy).toBe(0.45);
    // a search that never measured it has nothing to keep
    const fresh = outDir();
    const t = await runSearch({ config: config({ trials: 1 }), outDir: fresh, dataDir, executor: () => new ScriptedExecutor(), render: false, testChosen: async () => { throw new Error('no data'); } });
    expect(t.chosen).toMatchObject({ trial: 1, test: null, note: 'test evaluation failed: no data' });
  });

  it('a trial folder holding another status than trials.csv says runs again', async () => {
    const out = outDir();
    await search(config({ trials: 2 }), out, new ScriptedExecutor());
    writeRunSummary(join(out, 'trials', '01'), { status: 'interrupted' } as never);
    const again = new ScriptedExecutor();
    await search(config({ trials: 2 }), out, again, true);
    expect(again.ran).toEqual([1]);
  });
});

describe('plot of a search a live process holds (21.10, issue 22)', () => {
  it('draws it without the lock, says so, and leaves the lock alone', async () => {
    const out = outDir();
    await search(config({ trials: 3 }), out, new ScriptedExecutor({ 2: { val: 0.6 } }));
    const holder = spawn('sleep', ['60']);
    try {
      const lock = JSON.stringify({ pid: holder.pid, hostname: hostname(), startedAt: new Date().toISOString(), command: 'search s.yaml' });
      writeFileSync(join(out, LOCK_FILE), lock);
      const r = await cli(['plot', out]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`in use by process ${holder.pid} .*: drawn from its files as they are now`));
      expect(existsSync(join(out, 'report.html'))).toBe(true);
      expect(readFileSync(join(out, LOCK_FILE), 'utf8')).toBe(lock);
    } finally {
      holder.kill('SIGKILL');
    }
  });
});

describe('a run resumed on another backend (21.12)', () => {
  const runConfig = {
    kind: 'train', name: 'switch', seed: 1,
    data: { train: ['data_batch_1'], validation: ['data_batch_2'], test: ['test_batch'] },
    model: { hidden: 4 }, train: { lambda: 0.01, batchSize: 10 },
    schedule: { etaMin: 1e-4, etaMax: 0.05, ns: 6, cycles: 1 }, eval: { every: 2 }, checkpoint: { every: 2 },
    kernels: { backend: 'reference' },
  };
  it('is refused, naming both backends; with switchBackend it continues and summary.json records the earlier one', async () => {
    const out = join(root, 'switch');
    const stop = new AbortController();
    const first = await train(runConfig, { out, data: dataDir, signal: stop.signal, onProgress: (p) => { if (p.step === 4) stop.abort(); } });
    expect(first.status).toBe('interrupted');
    const other = { ...runConfig, kernels: { backend: 'wasm-simd' } };
    const err = await train(other, { out, data: dataDir, resume: true }).then(() => null, (e: Error) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err!.message).toMatch(/trained on backend reference-f64 up to step 4, and wasm-simd would continue it: .*--backend reference-f64, or pass --switch-backend/);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).status).toBe('interrupted'); // untouched
    const s = await train(other, { out, data: dataDir, resume: true, switchBackend: true });
    expect(s.status).toBe('completed');
    expect(s.backend).toBe('wasm-simd');
    expect(s.backendChoice?.earlier).toEqual([{ backend: 'reference-f64', untilStep: 4 }]);
    // the same backend again: nothing to refuse
    const same = join(root, 'same');
    const stop2 = new AbortController();
    await train(runConfig, { out: same, data: dataDir, signal: stop2.signal, onProgress: (p) => { if (p.step === 4) stop2.abort(); } });
    const resumed = await train(runConfig, { out: same, data: dataDir, resume: true });
    expect(resumed.status).toBe('completed');
    expect(resumed.backendChoice?.earlier).toBeUndefined();
  });
});

/**
 * Search progress on a (fake) terminal: no finished trial's line is lost at the end, lines fit the width without
 * cutting a number, running and waiting trials counted apart with each running trial's steps and validation accuracy,
 * no time estimate before a trial has finished; the local pool reports those steps and accuracies.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { trainSchema } from '../src/config/train-schema.js';
import { computeNormalization } from '../src/data/normalization.js';
import { loadSplits } from '../src/data/splits.js';
import type { TrialProgress } from '../src/search/executor.js';
import { LocalPoolExecutor } from '../src/search/local-pool.js';
import { estimateSecondsLeft, SearchProgress, type ProgressState } from '../src/search/progress.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const root = mkdtempSync(join(tmpdir(), 'cifar-search-progress-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function fakeTty(columns: number) {
  let out = '';
  const stream = new Writable({ write(chunk, _e, cb) { out += chunk.toString(); cb(); } }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY: true, columns });
  return { stream, text: () => out, lines: () => out.split(/\x1B\[[0-9;?]*[A-Za-z]|\x1B[78]|\r|\n/).filter((t) => t.trim().length > 0) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const state = (done: number, running: number, best: ProgressState['best'] = null): ProgressState => ({ total: 4, done, running, best });

describe('SearchProgress on a terminal', () => {
  it('writes every finished trial\'s line, also those finished just before the end', async () => {
    const tty = fakeTty(120);
    const p = new SearchProgress('search-coarse', 2, tty.stream);
    p.begin(state(0, 0));
    const labels = ['lambda=7.52e-5', 'lambda=3.16e-4', 'lambda=5.62e-3', 'lambda=1.78e-2'];
    for (let t = 1; t <= 4; t++) p.started(t, labels[t - 1], state(t - 1, 1));
    for (let t = 1; t <= 4; t++) {
      p.finished(t, labels[t - 1], { status: t === 3 ? 'failed' : 'completed', valAcc: 0.5 + t / 100, steps: 100, seconds: 12.3, reason: t === 3 ? 'worker: a very long reason '.repeat(8) : null }, state(t, 0, { valAcc: 0.54, label: 'lambda=1.78e-2' }));
    }
    p.stop(); // within the bar's first frame: nothing was flushed by a redraw yet
    const text = tty.text();
    for (const t of [1, 2, 4]) expect(text).toMatch(new RegExp(`search-coarse: trial ${t} \\(lambda=.*\\) completed: val 5${t}\\.00%`));
    expect(text).toMatch(/search-coarse: trial 3 \(lambda=5\.62e-3\) failed: worker: a very long reason/);
    for (const l of tty.lines()) expect(l.length, l).toBeLessThanOrEqual(119); // the last column stays free
    const failed = tty.lines().find((l) => l.includes('search-coarse: trial 3'))!;
    expect(failed).toMatch(/^search-coarse: trial 3 \(lambda=5\.62e-3\) failed: worker: a very long reason.*[a-z]…$/);
    expect(tty.lines().at(-1)).toMatch(/^search-coarse \[█+\] 4\/4 trials \| 0 running \| best val 54\.00% at lambda=1\.78e-2 \| ~0s left$/);
  });

  it('at 80 columns drops the least important fields of a trial line, never cutting a number', () => {
    const tty = fakeTty(80);
    const p = new SearchProgress('search-coarse', 2, tty.stream);
    p.begin(state(0, 0));
    p.started(1, 'lambda=1.49e-3', state(0, 1));
    p.finished(1, 'lambda=1.49e-3', { status: 'completed', valAcc: 0.5230, steps: 100, seconds: 42.1 }, state(1, 0, { valAcc: 0.523, label: 'lambda=1.49e-3' }));
    p.stop();
    const line = tty.lines().find((l) => l.includes('search-coarse: trial 1'))!;
    expect(line.length).toBeLessThanOrEqual(79);
    expect(line).toContain('completed: val 52.30%');
    expect(line).toMatch(/\(lambda=1\.49e-3\)/);
    expect(line).not.toContain('…');
    for (const w of [60, 80, 100]) expect(p.barLine(w).length).toBeLessThanOrEqual(w);
    expect(p.barLine(60)).toMatch(/1\/4 trials .*~\S+ left$/);
  });

  it('shows no time left before a trial has finished; then estimates it with the running trials\' steps', async () => {
    const tty = fakeTty(120);
    const p = new SearchProgress('s', 2, tty.stream);
    p.begin(state(0, 0));
    p.started(1, 'lambda=1e-3', state(0, 1));
    p.started(2, 'lambda=1e-2', state(0, 2));
    expect(p.secondsLeft()).toBeNull();
    expect(p.barLine(120)).not.toMatch(/left/);
    await sleep(300);
    p.trialProgress(1, { steps: 30, totalSteps: 100 });
    expect(p.secondsLeft()).toBeNull(); // a trial's first steps say little of its length
    expect(p.barLine(120)).not.toMatch(/left/);
    p.finished(2, 'lambda=1e-2', { status: 'completed', valAcc: 0.5, steps: 100, seconds: 0.3 }, state(1, 1));
    const left = p.secondsLeft();
    expect(left).not.toBeNull();
    // trial 2 took ~0.3 s; trial 1 at 30% after ~0.3 s projects ~1 s; trials 3 and 4 at the mean; over 2 slots
    expect(left!).toBeGreaterThan(0.4);
    expect(left!).toBeLessThan(5);
    expect(p.barLine(120)).toMatch(/~\d+s left$/);
    p.stop();
  });

  it('on a queue counts running (steps begun) and waiting trials apart, and shows each running trial\'s step and val accuracy', () => {
    const tty = fakeTty(100);
    const p = new SearchProgress('search-coarse', 4, tty.stream, undefined, true);
    p.begin(state(0, 0));
    for (let t = 1; t <= 4; t++) p.started(t, `lambda=${t}.00e-3`, state(0, t));
    p.trialProgress(1, { steps: 420, totalSteps: 1800, valAccuracy: 0.4821 });
    p.trialProgress(2, { steps: 90, totalSteps: 1800 });
    expect(p.barLine(100)).toMatch(/0\/4 trials \| 2 running \| 2 waiting \| best: none yet$/);
    expect(p.trialLine(1, 100)).toMatch(/^ {2}trial 1 \(lambda=1\.00e-3\) \[█+░+\] step 420\/1800 \| val 48\.21%$/);
    expect(p.trialLine(2, 100)).toMatch(/trial 2 .*step 90\/1800$/);
    expect(p.trialLine(3, 100)).toMatch(/trial 3 .*waiting for a worker$/);
    for (const w of [60, 80]) for (const t of [1, 2, 3]) expect(p.trialLine(t, w).length).toBeLessThanOrEqual(w);
    expect(p.trialLine(1, 60)).toMatch(/step 420\/1800/);
    // The bar counts the running trials' steps: (420 + 90) / 1800 of one trial out of 4.
    p.trialProgress(1, { steps: 1800, totalSteps: 1800, valAccuracy: 0.5 });
    p.trialProgress(2, { steps: 1800, totalSteps: 1800 });
    p.trialProgress(3, { steps: 1800, totalSteps: 1800 });
    p.trialProgress(4, { steps: 1800, totalSteps: 1800 });
    expect(p.barLine(100)).toMatch(/\[█+\] 0\/4 trials \| 4 running/);
    p.stop();
    // On the local pool every trial handed over runs at once.
    const local = new SearchProgress('search-coarse', 2, fakeTty(100).stream);
    local.begin(state(0, 0));
    local.started(1, 'lambda=1.00e-3', state(0, 1));
    expect(local.barLine(100)).toMatch(/0\/4 trials \| 1 running \| best/);
    expect(local.trialLine(1, 100)).toMatch(/starting$/);
    local.stop();
  });

  it('estimateSecondsLeft: projections of running trials count like finished trials', () => {
    // trial A: 10 s for half its steps → 20 s; no finished trial; 2 not started; B's 5 s at the mean of 20 s
    expect(estimateSecondsLeft({ durations: [], notStarted: 2, runningElapsed: [10, 5], runningFraction: [0.5, 0], slots: 2 })).toBe((2 * 20 + 10 + 15) / 2);
    expect(estimateSecondsLeft({ durations: [30], notStarted: 1, runningElapsed: [10], runningFraction: [0.5], slots: 1 })).toBe(25 + 10);
    expect(estimateSecondsLeft({ durations: [], notStarted: 2, runningElapsed: [10], runningFraction: [0], slots: 2 })).toBeNull();
  });
});

describe('LocalPoolExecutor progress', () => {
  it('reports a running trial\'s steps done and total through shared memory', async () => {
    const dataDir = writeSyntheticCifar(join(root, 'data'), 100, 60);
    const config = trainSchema.parse({
      name: 'p', data: { train: ['data_batch_1', 'data_batch_2'], holdout: 50, test: ['test_batch'] }, model: { hidden: 8 },
      train: { batchSize: 10 }, schedule: { ns: 150, cycles: 1 }, eval: { pointsPerCycle: 2 }, kernels: { backend: 'reference' },
    });
    const splits = loadSplits(config.data, dataDir);
    const pool = new LocalPoolExecutor({ splits, normalization: computeNormalization(splits.train), workers: 1, threadsPerTrial: 1, progressMs: 20 });
    const seen: TrialProgress[] = [];
    try {
      const result = await pool.run({ trial: 1, params: { 'base.train.lambda': 0.01 }, config, outDir: join(root, 'trial'), dataDir }, new AbortController().signal, { onProgress: (p) => { seen.push(p); } });
      expect(result.status).toBe('completed');
      expect(result.steps).toBe(300);
    } finally {
      await pool.close();
    }
    expect(seen.length).toBeGreaterThan(2);
    for (const q of seen) expect(q.totalSteps).toBe(300);
    for (let i = 1; i < seen.length; i++) expect(seen[i].steps).toBeGreaterThan(seen[i - 1].steps);
    expect(seen[0].steps).toBeLessThan(300);
    // evaluated every 150 steps: the accuracy is there from the first evaluation on
    const evaluated = seen.filter((q) => q.steps >= 150);
    expect(evaluated.length).toBeGreaterThan(0);
    for (const q of evaluated) expect(q.valAccuracy).toBeGreaterThan(0);
  });
});

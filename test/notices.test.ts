// Notices written while a progress display redraws itself (Ctrl-C's, warnings, the closing line) stay on screen whole:
// on a virtual terminal of 80 and 100 columns that applies the display's cursor moves and line clears.
import { describe, expect, it } from 'vitest';
import { trainingProgress } from '../src/cli/progress.js';
import type { RunPlan } from '../src/pipeline/plan.js';
import { SearchProgress, type ProgressState } from '../src/search/progress.js';
import type { EvaluatedStep } from '../src/stages/types.js';
import { wrapText } from '../src/util/fit-line.js';
import { notice } from '../src/util/notice.js';
import { virtualTerminal } from './helpers/terminal.js';

const SIGINT = 'cifar-mlp: SIGINT received: stopping after the current step and saving results (again to quit at once)';
const CLOSING = 'cifar-mlp: interrupted after 412 steps in 3.1s (13000 samples/s on blas-openblas); continue with cifar-mlp run --out runs/cycle1 --resume; results in runs/cycle1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PLAN: RunPlan = { stepsPerEpoch: 100, totalSteps: 1000, evalEvery: 100, snapshotSteps: [] };
const stepAt = (step: number): EvaluatedStep => ({ step, epoch: step / 100, eta: 0.05, batchLoss: 1.5 });
/** The screen as one text, rows joined by spaces: a notice broken into rows reads as it was written. */
const joined = (rows: string[]) => rows.join(' ').replace(/ +/g, ' ');

describe('notices above a progress display', () => {
  it('wrapText breaks at spaces into lines that fit, and splits a word longer than the width', () => {
    expect(wrapText('aaa bbb ccc', 7)).toEqual(['aaa bbb', 'ccc']);
    expect(wrapText('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
    for (const l of wrapText(SIGINT, 79)) expect(l.length).toBeLessThanOrEqual(79);
    expect(wrapText(SIGINT, 79).join(' ')).toBe(SIGINT);
  });

  it.each([80, 100])('training at %i columns: the SIGINT notice and the closing line survive the redraws', async (columns) => {
    const term = virtualTerminal(columns);
    const p = trainingProgress('cycle1', term.stream);
    for (let s = 0; s <= 200; s++) p.update(stepAt(s), PLAN);
    await sleep(250);
    notice(SIGINT, term.stream);
    for (let s = 201; s <= 412; s++) p.update(stepAt(s), PLAN);
    await sleep(450); // redraws at 5 frames/s
    p.stop();
    notice(CLOSING, term.stream); // no display any more: written as it is (the terminal wraps it)
    const screen = term.screen();
    for (const r of screen) expect(r.length, r).toBeLessThanOrEqual(columns);
    const text = joined(screen);
    expect(text).toContain(SIGINT);
    expect(text).toContain('412/1000');
    expect(screen.join('')).toContain(CLOSING);
    expect(text.indexOf(SIGINT)).toBeLessThan(text.indexOf('412/1000'));
  });

  it.each([80, 100])('search at %i columns: the notice stays above the bar and trial lines', async (columns) => {
    const term = virtualTerminal(columns);
    const state = (done: number, running: number): ProgressState => ({ total: 8, done, running, best: null });
    const p = new SearchProgress('search-coarse', 2, term.stream);
    p.begin(state(0, 0));
    p.started(1, 'lambda=1.00e-3', state(0, 1));
    p.started(2, 'lambda=2.00e-3', state(0, 2));
    await sleep(600);
    notice(SIGINT, term.stream);
    await sleep(600);
    p.finished(1, 'lambda=1.00e-3', { status: 'completed', valAcc: 0.5, steps: 100, seconds: 3 }, state(1, 1));
    await sleep(600);
    p.stop();
    const screen = term.screen();
    const text = joined(screen);
    expect(text).toContain(SIGINT);
    expect(text).toMatch(/search-coarse: trial 1 \(lambda=1\.00e-3\) completed: val 50\.00%/);
    expect(screen.at(-1)).toMatch(/1\/8 trials/);
  });
});

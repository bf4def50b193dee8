/** The training progress line: fits the terminal width, keeps the steps and the time estimate, says lr (not eta). */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { evaluationLine, progressLine, trainingProgress, type ProgressFields } from '../src/cli/progress.js';
import type { RunPlan } from '../src/pipeline/plan.js';
import type { EvaluatedStep } from '../src/stages/types.js';
import { cutAtSpace, fitLine } from '../src/util/fit-line.js';

const FIELDS: ProgressFields = {
  label: 'cycle3-long-name', step: 1234, totalSteps: 4800, epoch: 12.34, lr: 0.0668, valAcc: 0.4512, elapsedSeconds: 65, secondsLeft: 3 * 60 + 5,
};

const shows = (line: string) => ({
  label: line.includes('cycle3-long-name'),
  bar: /\[[█░]+\]/.test(line),
  steps: line.includes('1234/4800'),
  epoch: line.includes('epoch 12.34'),
  lr: line.includes('lr 6.68e-2'),
  val: line.includes('val acc 45.12%'),
  elapsed: line.includes('elapsed 1m 05s'),
  eta: line.includes('ETA 3m 05s'),
});

describe('progress line', () => {
  it.each([80, 100, 120, 200])('fits %i columns with the steps, the learning rate as lr and the time estimate', (width) => {
    const line = progressLine(FIELDS, width);
    expect(line.length).toBeLessThanOrEqual(width);
    const s = shows(line);
    expect(s).toMatchObject({ steps: true, eta: true, lr: true, val: true, bar: true });
    expect(line).not.toMatch(/\beta\b/); // the learning rate is lr; ETA is the time left
    expect(line).not.toContain('…');
  });

  it('shows every field at 200 columns and drops the least important ones first as the width shrinks', () => {
    expect(Object.values(shows(progressLine(FIELDS, 200))).every(Boolean)).toBe(true);
    expect(shows(progressLine(FIELDS, 80))).toEqual({ label: false, bar: true, steps: true, epoch: true, lr: true, val: true, elapsed: false, eta: true });
    let prev = Infinity;
    for (let w = 200; w >= 20; w--) {
      const line = progressLine(FIELDS, w);
      expect(line.length, `${w}: ${line}`).toBeLessThanOrEqual(w);
      const n = Object.values(shows(line)).filter(Boolean).length;
      expect(n, `${w}: ${line}`).toBeLessThanOrEqual(prev);
      prev = n;
      if (w >= 40) expect(shows(line), `${w}: ${line}`).toMatchObject({ steps: true, eta: true });
    }
  });

  it('the bar takes the room left, up to a maximum', () => {
    const bar = (w: number) => progressLine(FIELDS, w).match(/\[[█░]+\]/)![0].length;
    expect(bar(120)).toBeGreaterThan(bar(100));
    expect(bar(200)).toBe(32);
  });

  it('says ? while the time left is unknown', () => {
    expect(progressLine({ ...FIELDS, secondsLeft: null, valAcc: undefined }, 80)).toMatch(/ETA \?$/);
  });

  it('cuts a line that cannot fit at a space, never inside a number', () => {
    expect(cutAtSpace('trial 3 val 52.30% test 51.15%', 22)).toBe('trial 3 val 52.30%…');
    expect(fitLine([{ text: 'aaaa', keep: Infinity }, { text: 'bbbb 1234.5678', keep: Infinity }], 12)).toBe('aaaa | bbbb…');
    expect(fitLine([{ text: 'aaaa', keep: Infinity }, { text: '1234.5678', keep: Infinity }], 12)).toBe('aaaa…');
  });
});

/** A terminal of `columns` columns that records what is drawn. */
function fakeTty(columns: number) {
  let out = '';
  const stream = new Writable({ write(chunk, _enc, cb) { out += chunk.toString(); cb(); } }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY: true, columns });
  /** The text drawn, one entry per redraw (control sequences removed). */
  const drawn = () => out.split(/\x1B\[[0-9;?]*[A-Za-z]|\x1B[78]|\r|\n/).filter((t) => t.trim().length > 0);
  return { stream, drawn, raw: () => out };
}

const PLAN: RunPlan = { stepsPerEpoch: 100, totalSteps: 1000, evalEvery: 100 };
const metrics = (step: number) => ({ step, epoch: step / 100, eta: 0.05, elapsed_s: 1, train: { loss: 1.5, cost: 1.6, accuracy: 0.4 }, val: { loss: 1.6, cost: 1.7, accuracy: 0.38 } });
const stepAt = (step: number, withMetrics = step % 100 === 0): EvaluatedStep => ({ step, epoch: step / 100, eta: 0.05, batchLoss: 1.5, ...(withMetrics ? { metrics: metrics(step) } : {}) });

describe('trainingProgress', () => {
  it.each([80, 120])('on a %i-column terminal: every drawn line fits and shows the estimate once steps were timed', async (columns) => {
    const tty = fakeTty(columns);
    const p = trainingProgress('cycle1', tty.stream);
    for (let s = 0; s <= 300; s++) {
      p.update(stepAt(s), PLAN);
      if (s % 100 === 50) await new Promise((r) => setTimeout(r, 250)); // let the bar redraw (5 frames/s)
    }
    p.stop();
    const lines = tty.drawn();
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(columns - 1); // the last column stays free
    const last = lines[lines.length - 1];
    expect(last).toContain('300/1000');
    expect(last).toMatch(/ETA \d+s|ETA \d+m/);
    expect(last).toContain('lr 5.00e-2');
    expect(last).toContain('val acc 38.00%');
  });

  it('piped: one plain line per evaluation point, lr for the learning rate', () => {
    let out = '';
    const stream = new Writable({ write(chunk, _e, cb) { out += chunk.toString(); cb(); } }) as unknown as NodeJS.WriteStream;
    const p = trainingProgress('cycle1', stream);
    for (let s = 0; s <= 250; s++) p.update(stepAt(s), PLAN);
    p.stop();
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/^cycle1 step 200\/1000 epoch 2\.00 lr 5\.00e-2 train loss 1\.5000 acc 40\.00% \| val loss 1\.6000 acc 38\.00% \| \d+\.\ds$/);
    expect(out).not.toMatch(/\x1B/);
    expect(evaluationLine('x', stepAt(100), PLAN, 1)).not.toMatch(/\beta\b/);
  });
});

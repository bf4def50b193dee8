/** lr.png/lr.svg draw the learning rate from the run's schedule at every step, not from the evaluation points. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cyclicalEta } from '../src/model/schedule.js';
import { learningRateCurve, scheduleVertices, type EtaPoint } from '../src/report/lr-curve.js';
import { METRICS_COLUMNS, parseMetricsCsv } from '../src/formats/metrics-csv.js';
import { readRunArtifacts } from '../src/report/run-folder.js';
import { lrSpec } from '../src/report/plots.js';
import { metricsLines } from './helpers/metrics.js';

const root = mkdtempSync(join(tmpdir(), 'cifar-lr-curve-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SCHEDULE = { etaMin: 1e-5, etaMax: 0.1, ns: 500 };
const CONFIG = { name: 'cycle1', train: { lambda: 0.01, batchSize: 100 }, schedule: { ...SCHEDULE, cycles: 1 }, eval: { every: 300 } };
const metrics = (steps: number[]) => parseMetricsCsv([METRICS_COLUMNS.join(','), ...metricsLines(Math.max(...steps) / 100 + 1).filter((l) => steps.includes(Number(l.split(',')[0])))].join('\n'));
const plotted = async (curve: EtaPoint[] | null, steps: number[]) => (lrSpec((await metrics(steps)).rows, { title: 't' }, curve) as { data: { values: EtaPoint[] } }).data.values;

/** The rate at `step` read off a piecewise-linear curve. */
function interpolate(points: EtaPoint[], step: number): number {
  const i = points.findIndex((p) => p.step >= step);
  if (points[i].step === step) return points[i].eta;
  const a = points[i - 1], b = points[i];
  return a.eta + ((b.eta - a.eta) * (step - a.step)) / (b.step - a.step);
}

describe('learning-rate plot data', () => {
  it('eval.every=300, ns=500: a triangle reaching etaMax at step 500, not the evaluation points\' 0.08 at 600', async () => {
    const steps = [0, 300, 600, 900, 1000];
    const curve = learningRateCurve({ config: CONFIG, summary: { steps: 1000 }, metrics: await metrics(steps) });
    expect(curve).toEqual([{ step: 0, eta: 1e-5 }, { step: 500, eta: 0.1 }, { step: 1000, eta: 1e-5 }]);
    const values = await plotted(curve, steps);
    const peak = values.reduce((a, b) => (b.eta > a.eta ? b : a));
    expect(peak).toEqual({ step: 500, eta: 0.1 });
    // what the plot drew before: the evaluation points, peaking at step 600
    const fromRows = await plotted(null, steps);
    expect(fromRows.reduce((a, b) => (b.eta > a.eta ? b : a)).step).toBe(600);
    expect(Math.max(...fromRows.map((v) => v.eta))).toBeCloseTo(0.08, 3);
  });

  it('stops at the last step of an interrupted run (summary.json), or of a killed one (its last evaluation point)', async () => {
    expect(learningRateCurve({ config: CONFIG, summary: { status: 'interrupted', steps: 700 }, metrics: await metrics([0, 300, 600]) })).toEqual([
      { step: 0, eta: 1e-5 }, { step: 500, eta: 0.1 }, { step: 700, eta: cyclicalEta(SCHEDULE, 700) },
    ]);
    expect(learningRateCurve({ config: CONFIG, summary: null, metrics: await metrics([0, 300, 600]) })!.at(-1)).toEqual({ step: 600, eta: cyclicalEta(SCHEDULE, 600) });
    expect(learningRateCurve({ config: CONFIG, summary: null, metrics: await metrics([0]) })).toEqual([{ step: 0, eta: 1e-5 }]);
  });

  it('describes a million-step run by its vertices, matching the schedule at every step', async () => {
    const curve = scheduleVertices({ etaMin: 1e-5, etaMax: 0.1, ns: 800 }, 1_000_000);
    expect(curve.length).toBe(Math.floor(1_000_000 / 800) + 1);
    expect(curve.at(-1)!.step).toBe(1_000_000);
    for (let i = 0; i < 2000; i++) {
      const step = Math.floor((i * 7919.37) % 1_000_001);
      expect(interpolate(curve, step)).toBeCloseTo(cyclicalEta({ etaMin: 1e-5, etaMax: 0.1, ns: 800 }, step), 12);
    }
  });

  it('falls back to the evaluation points when the config has no complete schedule', async () => {
    expect(learningRateCurve({ config: { schedule: { ns: 500 } }, summary: { steps: 1000 }, metrics: await metrics([0, 500]) })).toBeNull();
    expect(learningRateCurve({ config: null, summary: null, metrics: null })).toBeNull();
    expect(await plotted(null, [0, 300])).toHaveLength(2);
  });

  it('reads the schedule and the length from a run folder (summary.json, else config.yaml and metrics.csv)', async () => {
    const dir = join(root, 'run');
    mkdirSync(dir);
    writeFileSync(join(dir, 'metrics.csv'), `${[METRICS_COLUMNS.join(','), ...metricsLines(10, 100)].join('\n')}\n`);
    writeFileSync(join(dir, 'config.yaml'), 'name: r\nschedule:\n  etaMin: 0.001\n  etaMax: 0.01\n  ns: 250\n');
    const s = { etaMin: 0.001, etaMax: 0.01, ns: 250 };
    expect(learningRateCurve(await readRunArtifacts(dir))).toEqual([0, 250, 500, 750, 900].map((step) => ({ step, eta: cyclicalEta(s, step) })));
    writeFileSync(join(dir, 'summary.json'), JSON.stringify({ status: 'completed', steps: 1000, config: { schedule: { ...s, ns: 500 } } }));
    expect(learningRateCurve(await readRunArtifacts(dir))).toEqual([0, 500, 1000].map((step) => ({ step, eta: cyclicalEta({ ...s, ns: 500 }, step) })));
  });
});

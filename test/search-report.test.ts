// The search report, on its numbers: the data and scales of each figure (axes over the searched range, an honest
// accuracy axis with the noise band, the best trials labelled, the overview, the rung history) and the page's contents
// (a column per parameter, no test accuracy but the chosen trial's, links to every trial's page, the budget).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchSchema } from '../src/config/search-schema.js';
import {
  accuracyDomain, curveGroup, MIN_Y_SPAN, noiseHalfWidth, overviewData, paramPlotData, paramSpec, rungHistory,
} from '../src/search/plots.js';
import { AshaPruner } from '../src/search/pruner.js';
import { renderSearchHtml, writeSearchReport } from '../src/search/report.js';
import type { TrialRow } from '../src/formats/trials-csv.js';
import type { SearchSummary } from '../src/formats/search-summary.js';
import { planSearch } from '../src/search/study.js';
import { buildSummary } from '../src/search/summary.js';
import { coordOf } from '../src/search/space.js';
import { metricsLines } from './helpers/metrics.js';
import { METRICS_COLUMNS } from '../src/formats/metrics-csv.js';

let root: string;
beforeAll(() => { root = mkdtempSync(join(tmpdir(), 'search-report-test-')); });
afterAll(() => rmSync(root, { recursive: true, force: true }));

const LAMBDA = 'base.train.lambda', HIDDEN = 'base.model.hidden', BATCH = 'base.train.batchSize';

/** A finished search of 8 trials over three fields: 5 completed, 2 pruned, 1 diverged, with its rung decisions. */
function summary(): SearchSummary {
  const config = searchSchema.parse({
    kind: 'search', name: 'rep', seed: 4, trials: 8,
    space: { params: { [LAMBDA]: { dist: 'log-uniform', min: 1e-5, max: 1e-1 }, [HIDDEN]: { dist: 'int', min: 20, max: 200, log: true }, [BATCH]: { dist: 'choice', values: [50, 100] } } },
    pruning: { rule: 'asha', minSteps: 100, eta: 3, maxRungs: 2 },
    base: { data: { holdout: 5000 }, schedule: { ns: 450, cycles: 1 } },
  });
  const plan = planSearch(config);
  const accs = [0.512, 0.498, 0.505, 0.43, 0.47, null, 0.521, 0.509];
  const status: TrialRow['status'][] = ['completed', 'completed', 'completed', 'pruned', 'pruned', 'diverged', 'completed', 'completed'];
  const rows = new Map<number, TrialRow>();
  plan.trials.forEach((t, i) => rows.set(t.trial, {
    trial: t.trial, params: t.params, status: status[i], train_acc: status[i] === 'completed' ? 0.6 : null, val_acc: accs[i],
    train_cost: null, val_cost: null, steps: status[i] === 'pruned' ? (i === 3 ? 100 : 300) : status[i] === 'diverged' ? 40 : 900, total_steps: 900,
    seconds: 10, backend: 'wasm-simd', threads: 1, reason: status[i] === 'pruned' ? 'pruned' : null,
  }));
  const pruner = new AshaPruner(config.pruning);
  for (const [t, step, acc] of [[1, 100, 0.40], [2, 100, 0.39], [3, 100, 0.41], [4, 100, 0.30], [5, 100, 0.42], [5, 300, 0.44], [1, 300, 0.47], [7, 100, 0.45], [7, 300, 0.48], [8, 100, 0.44], [8, 300, 0.47], [2, 300, 0.46], [3, 300, 0.46]] as const) {
    pruner.decide(t, step, acc);
  }
  return buildSummary({
    config, plan, rows, status: 'completed', workers: 2, threadsPerTrial: 1, startedAt: Date.now() - 1000, trialSeconds: 80,
    rungs: pruner.records(), valRecords: 5000,
    chosen: { trial: 7, id: '07', params: plan.trials[6].params, valAccuracy: 0.521, test: { loss: 1.4, cost: 1.5, accuracy: 0.5077 } },
  });
}

describe('search figures: data', () => {
  it('an accuracy axis spans at least 5 points and stays in [0, 1]', () => {
    const [lo, hi] = accuracyDomain([0.501, 0.503]);
    expect(hi - lo).toBeCloseTo(MIN_Y_SPAN, 12);
    expect((lo + hi) / 2).toBeCloseTo(0.502, 12);
    expect(accuracyDomain([0.3, 0.6])).toEqual([0.27, 0.63]);
    expect(accuracyDomain([0.999, 1])[1]).toBe(1);
    expect(accuracyDomain([0, 0.001])[0]).toBe(0);
    expect(accuracyDomain([])).toEqual([0, 1]);
  });

  it('plots accuracy against a parameter over its searched range, with the noise of each point and the best three labelled', () => {
    const s = summary();
    const d = paramPlotData(s, LAMBDA);
    expect(d.xDomain).toEqual([1e-5, 1e-1]); // the space's bounds, not the sampled values'
    expect(d.xLog).toBe(true);
    const sampled = d.points.map((p) => p.x as number);
    expect(Math.min(...sampled)).toBeGreaterThan(1e-5);
    expect(d.points).toHaveLength(7); // the diverged trial has no accuracy
    expect(d.points.filter((p) => p.outcome === 'pruned').map((p) => p.trial)).toEqual([4, 5]);
    for (const p of d.points) {
      expect(p.hi - p.acc).toBeCloseTo(1.96 * Math.sqrt((p.acc * (1 - p.acc)) / 5000), 12);
      expect(p.acc - p.lo).toBeCloseTo(p.hi - p.acc, 12);
    }
    expect(d.points.filter((p) => p.label).map((p) => [p.trial, p.label]).sort()).toEqual([[1, '#2'], [7, '#1'], [8, '#3']]);
    expect(d.band!.lo).toBeCloseTo(0.521 - noiseHalfWidth(0.521, 5000), 12);
    expect(d.yDomain[0]).toBeLessThanOrEqual(Math.min(...d.points.map((p) => p.lo)));
    expect(d.yDomain[1]).toBeGreaterThanOrEqual(Math.max(...d.points.map((p) => p.hi)));
    expect(d.yDomain[1] - d.yDomain[0]).toBeGreaterThanOrEqual(MIN_Y_SPAN);
    // the spec draws exactly that: log x over the bounds, the y domain, the band, the labels
    const spec = paramSpec(s, d) as unknown as { layer: Array<{ data: { values: unknown[] }; encoding: Record<string, { scale?: Record<string, unknown> }> }> };
    const pointLayer = spec.layer.find((l) => l.encoding.x && l.encoding.y && JSON.stringify(l).includes('"point"'))!;
    expect(pointLayer.encoding.x.scale).toMatchObject({ type: 'log', domain: [1e-5, 1e-1] });
    expect(pointLayer.encoding.y.scale).toMatchObject({ domain: d.yDomain });
    expect(spec.layer[0].data.values).toEqual([d.band]);
    // an int and a choice parameter
    expect(paramPlotData(s, HIDDEN).xDomain).toEqual([20, 200]);
    expect(paramPlotData(s, BATCH)).toMatchObject({ xDomain: ['50', '100'], xLog: false });
  });

  it('draws every trial across every parameter at its place in the searched range (parallel coordinates)', () => {
    const s = summary();
    const d = overviewData(s);
    expect(d.axes).toEqual(['lambda', 'hidden', 'batchSize', 'val acc']);
    expect(new Set(d.rows.map((r) => r.trial)).size).toBe(7);
    for (const r of d.rows) {
      expect(r.pos).toBeGreaterThanOrEqual(0);
      expect(r.pos).toBeLessThanOrEqual(1);
      const e = s.results.find((x) => x.trial === r.trial)!;
      if (r.axis === 'hidden') expect(r.pos).toBe(coordOf(s.space[HIDDEN], e.params[HIDDEN]));
    }
    const acc = d.rows.filter((r) => r.axis === 'val acc');
    const top = acc.reduce((a, b) => (b.acc > a.acc ? b : a));
    expect(top.trial).toBe(7);
    expect(d.ticks.filter((t) => t.axis === 'lambda').map((t) => t.text)).toEqual(['1.00e-5', '1.00e-1']);
    expect(d.ticks.filter((t) => t.axis === 'batchSize').map((t) => t.text)).toEqual(['50', '100']);
  });

  it('tells the rung history: each trial\'s path, and per rung the reports, continued, pruned and the last cutoff', () => {
    const s = summary();
    const h = rungHistory(s.rungs, s.results);
    const r0 = h.table.find((r) => r.step === 100)!, r1 = h.table.find((r) => r.step === 300)!;
    expect(r0.reported).toBe(s.rungs.filter((r) => r.step === 100).length);
    expect(r0.continued + r0.pruned).toBe(r0.reported);
    expect(r0.pruned).toBe(s.rungs.filter((r) => r.step === 100 && r.decision === 'prune').length);
    expect(r1.cutoff).toBe(s.rungs.filter((r) => r.step === 300).at(-1)!.cutoff);
    // completed trials that reached rungs end at their last step
    expect(h.points.filter((p) => p.what === 'completed').map((p) => p.step)).toEqual(expect.arrayContaining([900]));
    expect(curveGroup(s, 7)).toBe('chosen');
    expect(curveGroup(s, 8)).toBe('best three');
    expect(curveGroup(s, 4)).toBe('pruned');
  });
});

describe('search report page', () => {
  it('tables every parameter, shows the test accuracy of the chosen trial only, the budget and the rungs', () => {
    const s = summary();
    const out = join(root, 'page');
    mkdirSync(join(out, 'trials', '07'), { recursive: true });
    writeFileSync(join(out, 'trials', '07', 'report.html'), '<html></html>');
    const html = renderSearchHtml(s, [], out);
    for (const h of ['lambda', 'hidden', 'batchSize']) expect(html).toContain(`>${h}</th>`);
    expect(html).not.toMatch(/<th>test acc<\/th>/);
    expect(html.match(/50\.77%/g)).toHaveLength(1); // the chosen trial's test accuracy, once
    expect(html).toMatch(/Chosen: trial <a href="trials\/07\/report\.html">07<\/a>.*test <b>50\.77%<\/b>/);
    expect(html).toContain('<a href="trials/08/">08</a>'); // no page there yet: the folder
    expect(html).toMatch(new RegExp(`Budget: <b>${s.budget.stepsSpent}</b> update steps spent, ${s.budget.stepsWithoutPruning} for the same trials without pruning`));
    expect(s.budget).toEqual({ stepsSpent: 5 * 900 + 100 + 300 + 40, stepsWithoutPruning: 7 * 900 + 40 });
    expect(html).toMatch(/52\.10% <span class="noise">± 1\.38<\/span>/);
    expect(html).toContain('Trials without a final result');
    expect(html).toMatch(/<tr><td>0<\/td><td>100<\/td><td>\d+<\/td>/); // rung table
    expect(html).not.toMatch(/<script|(src|href)="https?:/);
  });

  it('writes a figure per parameter, the overview, the rung history and the curves, and every trial\'s page', async () => {
    const s = summary();
    const out = join(root, 'written');
    const withMetrics = s.results.filter((e) => [4, 7].includes(e.trial));
    for (const e of withMetrics) {
      const dir = join(out, 'trials', e.id);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'metrics.csv'), [METRICS_COLUMNS.join(','), ...metricsLines(Math.floor((e.row!.steps ?? 0) / 50) + 1, 50, 450)].join('\n') + '\n');
    }
    await writeSearchReport(out, s);
    for (const f of [`param-${LAMBDA}`, `param-${HIDDEN}`, `param-${BATCH}`, 'overview', 'rungs', 'curves']) {
      expect(existsSync(join(out, `${f}.svg`)), f).toBe(true);
      expect(existsSync(join(out, `${f}.png`)), f).toBe(true);
    }
    for (const e of withMetrics) expect(existsSync(join(out, 'trials', e.id, 'report.html')), e.id).toBe(true);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html.match(/<img class="plot"/g)).toHaveLength(6);
    expect(html).toContain('<a href="trials/04/report.html">04</a>');
    expect(html).toContain('<a href="trials/03/">03</a>'); // no metrics, no page
    // the curves overlay holds the three trials' validation accuracies, the chosen one on top
    const curves = readFileSync(join(out, 'curves.svg'), 'utf8');
    expect(curves).toContain('chosen');
  }, 400_000);
});

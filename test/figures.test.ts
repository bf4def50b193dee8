// The figures of issue 26.11: lr-find's batch losses clipped to the axes; a search's curves legend lists only the
// groups it has, on the accuracy range where trials differ; parallel-coordinates end labels clear of the axis names;
// a run's report gives the dataset sizes and the noise of its accuracies; `evaluate` draws confusion matrices and the
// run's report shows the test split's.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lrFindSpec } from '../src/report/lr-find-plot.js';
import { confusionSpec } from '../src/report/confusion-plot.js';
import type { SearchSummary } from '../src/formats/search-summary.js';
import { curvesSpec, overviewSpec, type CurvePoint, type OverviewData } from '../src/search/plots.js';
import { cli } from './helpers/cli.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const root = mkdtempSync(join(tmpdir(), 'cifar-figures-'));
const dataDir = writeSyntheticCifar(join(root, 'data'), 200, 90);
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Layer = { mark: { type: string; clip?: boolean; baseline?: string }; data?: { values: Array<Record<string, unknown>> }; encoding?: Record<string, any> };
const layers = (spec: unknown) => (spec as { layer: Layer[] }).layer;
const search = { name: 's', chosen: null, best: [], results: [] } as unknown as SearchSummary;

describe('plots', () => {
  it('lr-find: the batch-loss lines are clipped to the axes', () => {
    const points = Array.from({ length: 50 }, (_, i) => ({ step: i, eta: 1e-5 * 1.2 ** i, loss: i === 20 ? 0.01 : 2.3 - i / 40, smoothed: 2.3 - i / 50 }));
    const line = layers(lrFindSpec(points, null, 't'))[0];
    expect(line.mark.type).toBe('line');
    expect(line.mark.clip).toBe(true);
  });

  it('curves: the legend lists only the groups present, and the y range is the second half\'s', () => {
    const points: CurvePoint[] = [];
    for (const [trial, group] of [['01', 'chosen'], ['02', 'best three'], ['03', 'completed']] as const) {
      for (let step = 0; step <= 1000; step += 100) points.push({ trial, step, group, acc: step === 0 ? 0.1 : 0.5 + Number(trial) / 100 + step / 1e5 });
    }
    const spec = layers(curvesSpec(search, points));
    const scale = spec[0].encoding!.color.scale;
    expect(scale.domain).toEqual(['completed', 'best three', 'chosen']);
    expect(scale.range).toHaveLength(3);
    const [lo, hi] = spec[0].encoding!.y.scale.domain;
    expect(lo).toBeGreaterThan(0.4); // the 10% of step 0 does not stretch the axis
    expect(hi).toBeLessThan(0.6);
    for (const l of spec) for (const v of l.data!.values) expect(v.acc as number).toBeGreaterThanOrEqual(lo); // early points on the bottom edge
    expect(JSON.stringify(curvesSpec(search, points))).not.toMatch(/pruned trials end/);
  });

  it('parallel coordinates: an axis\'s top label hangs below its end, the bottom one sits above it', () => {
    const d: OverviewData = { axes: ['lambda', 'hidden', 'val acc'], rows: [], ticks: [{ axis: 'val acc', pos: 1, text: '54.2%' }, { axis: 'val acc', pos: 0, text: '50.1%' }] };
    const texts = layers(overviewSpec(search, d)).filter((l) => l.mark.type === 'text');
    expect(texts.map((t) => [t.mark.baseline, t.data!.values.map((v) => v.text)])).toEqual([['top', ['54.2%']], ['bottom', ['50.1%']]]);
  });

  it('confusion matrix: one cell per (true, predicted) class with its count', () => {
    const spec = confusionSpec([[3, 1], [0, 4]], ['cat', 'dog'], 'x') as unknown as { data: { values: Array<Record<string, unknown>> } };
    expect(spec.data.values).toEqual([
      { truth: 'cat', predicted: 'cat', count: 3, share: 0.75, diagonal: true },
      { truth: 'cat', predicted: 'dog', count: 1, share: 0.25, diagonal: false },
      { truth: 'dog', predicted: 'cat', count: 0, share: 0, diagonal: false },
      { truth: 'dog', predicted: 'dog', count: 4, share: 1, diagonal: true },
    ]);
  });
});

describe('a run\'s report and evaluate', () => {
  it('gives the dataset sizes and the accuracies\' noise; evaluate draws the confusion matrices and the report shows the test one', async () => {
    const cfg = join(root, 'tiny.yaml');
    writeFileSync(cfg, 'name: tiny\ndata: { train: [data_batch_1, data_batch_2], holdout: 100, test: [test_batch] }\nmodel: { hidden: 8 }\n' +
      'train: { batchSize: 50 }\nschedule: { ns: 6, cycles: 1 }\neval: { pointsPerCycle: 2 }\nkernels: { backend: wasm-simd }\n');
    const out = join(root, 'run');
    const r = await cli(['run', cfg, '--data', dataDir, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.data).toEqual({ train: 300, val: 100, test: 200 });
    let html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('300 training, 100 validation, 200 test records');
    const p = summary.final.val.accuracy;
    expect(html).toContain(`± ${(100 * 1.96 * Math.sqrt((p * (1 - p)) / 100)).toFixed(2)}</span>`);
    expect(html).not.toContain('confusion-test');
    const e = await cli(['evaluate', out, '--data', dataDir]);
    expect(e.code, e.stderr).toBe(0);
    for (const split of ['train', 'val', 'test']) for (const ext of ['csv', 'svg', 'png']) expect(existsSync(join(out, `confusion-${split}.${ext}`)), `${split}.${ext}`).toBe(true);
    html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('Confusion matrix on the test split');
    expect(html).toContain('href="confusion-test.svg"');
  }, 60_000);
});

/**
 * The figures of a search, as Vega-Lite specs built from its summary (and its trials' metrics.csv):
 *
 *   param-<path>  validation accuracy against one parameter, over the whole searched range (log axis for a log-scaled
 *                 parameter), each trial with its 95% noise interval ±1.96·sqrt(p(1 − p)/n), the band of accuracies
 *                 within the best trial's interval, and the best three labelled; the y axis spans at least
 *                 MIN_Y_SPAN, so that differences of noise size do not fill the plot
 *   overview      every trial across every parameter at once (parallel coordinates), coloured by accuracy
 *   rungs         the rung history: each trial's accuracy at the rungs it reached, pruned where it stopped, and the
 *                 promotion cutoff each rung ended with
 *   curves        every trial's validation accuracy against the update step, the chosen one on top
 *
 * The data of each figure comes from a pure function (tested on its numbers); the specs only draw it.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ParamSpec } from '../config/search-schema.js';
import { BASE_CONFIG } from '../report/plots.js';
import { noiseHalfWidth } from '../util/format.js';
import type { RungRecord } from '../formats/rungs-csv.js';
import type { SearchSummary } from '../formats/search-summary.js';
import { coordOf, formatValue, isLogScale, shortName } from './space.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
/** The smallest span of an accuracy axis (5 points): narrower, the noise of 5,000 records would look like structure. */
export const MIN_Y_SPAN = 0.05;

/** Half-width of the 95% interval of an accuracy p measured on n records (normal approximation). */
export { noiseHalfWidth };

/** [lo, hi] covering `values`, widened to MIN_Y_SPAN around their middle when narrower, within [0, 1]. */
export function accuracyDomain(values: number[]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  let lo = Math.min(...finite), hi = Math.max(...finite);
  const pad = 0.1 * (hi - lo);
  lo -= pad;
  hi += pad;
  if (hi - lo < MIN_Y_SPAN) {
    const mid = (lo + hi) / 2;
    lo = mid - MIN_Y_SPAN / 2;
    hi = mid + MIN_Y_SPAN / 2;
  }
  if (lo < 0) [lo, hi] = [0, Math.max(hi - lo, MIN_Y_SPAN)];
  if (hi > 1) [lo, hi] = [Math.min(lo - (hi - 1), 1 - MIN_Y_SPAN), 1];
  return [Math.max(0, lo), Math.min(1, hi)];
}

export interface ParamPoint {
  trial: number;
  /** The value (a choice as its text). */
  x: number | string;
  acc: number;
  lo: number;
  hi: number;
  outcome: 'completed' | 'pruned';
  /** "#1", "#2", "#3" for the best three, else "". */
  label: string;
}

export interface ParamPlotData {
  path: string;
  spec: ParamSpec;
  points: ParamPoint[];
  /** The x axis: the searched range (numeric) or the choices. */
  xDomain: Array<number | string>;
  xLog: boolean;
  yDomain: [number, number];
  /** Accuracies within the best trial's noise interval. */
  band: { lo: number; hi: number } | null;
  n: number | null;
}

/** The data of the plot of validation accuracy against one parameter. */
export function paramPlotData(s: SearchSummary, path: string): ParamPlotData {
  const spec = s.space[path];
  const n = s.valRecords;
  const rank = new Map(s.best.map((b) => [b.trial, `#${b.rank}`]));
  const points: ParamPoint[] = [];
  for (const e of s.results) {
    const r = e.row;
    if (!r || (r.status !== 'completed' && r.status !== 'pruned') || r.val_acc === null || e.params[path] === undefined) continue;
    const half = n ? noiseHalfWidth(r.val_acc, n) : 0;
    const v = e.params[path];
    points.push({
      trial: e.trial, x: typeof v === 'number' ? v : String(v), acc: r.val_acc, lo: r.val_acc - half, hi: r.val_acc + half,
      outcome: r.status, label: rank.get(e.trial) ?? '',
    });
  }
  const best = s.best[0];
  const band = best && best.val_acc !== null ? (() => { const h = n ? noiseHalfWidth(best.val_acc, n) : 0; return { lo: best.val_acc - h, hi: best.val_acc + h }; })() : null;
  const xDomain = spec.dist === 'choice' ? spec.values.map(String) : [spec.min, spec.max];
  return {
    path, spec, points, xDomain, xLog: isLogScale(spec), n,
    yDomain: accuracyDomain(points.flatMap((p) => [p.lo, p.hi])),
    band,
  };
}

function xEncoding(d: ParamPlotData): Record<string, unknown> {
  const title = d.path;
  if (d.spec.dist === 'choice') return { field: 'x', type: 'ordinal', title, scale: { domain: d.xDomain }, axis: { labelAngle: 0 } };
  const format = d.spec.dist === 'int' ? 'd' : d.spec.dist === 'log-uniform' ? '.0e' : '~g';
  return {
    field: 'x', type: 'quantitative', title,
    scale: d.xLog ? { type: 'log', domain: d.xDomain, nice: false } : { type: 'linear', domain: d.xDomain, nice: false, zero: false },
    axis: { format, tickCount: 6 },
  };
}

export function paramSpec(s: SearchSummary, d: ParamPlotData): TopLevelSpec {
  const x = xEncoding(d);
  const yScale = { domain: d.yDomain, zero: false, nice: false };
  const y = { field: 'acc', type: 'quantitative', title: 'validation accuracy', scale: yScale, axis: { format: '.1%' } };
  const color = {
    field: 'outcome', type: 'nominal', title: null,
    scale: { domain: ['completed', 'pruned'], range: ['#1f77b4', '#a0a0a0'] },
    legend: { orient: 'bottom', direction: 'horizontal', labelExpr: "datum.label === 'pruned' ? 'pruned (at its last rung)' : 'completed'" },
  };
  const range = d.spec.dist === 'choice' ? `values ${d.xDomain.join(', ')}` : `searched range [${formatValue(d.spec, d.xDomain[0] as number)}, ${formatValue(d.spec, d.xDomain[1] as number)}]${d.xLog ? ', log scale' : ''}`;
  const layers: unknown[] = [];
  if (d.band) {
    layers.push({
      data: { values: [d.band] }, mark: { type: 'rect', color: '#fdae6b', opacity: 0.3 },
      encoding: { y: { field: 'lo', type: 'quantitative', scale: yScale }, y2: { field: 'hi' } },
    });
  }
  layers.push(
    { data: { values: d.points }, mark: { type: 'rule', strokeWidth: 1.5, opacity: 0.6 }, encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color } },
    { data: { values: d.points }, mark: { type: 'point', filled: true, size: 70, opacity: 0.9 }, encoding: { x, y, color } },
    { data: { values: d.points.filter((p) => p.label) }, mark: { type: 'text', align: 'left', dx: 7, dy: -9, fontSize: 12, fontWeight: 'bold' }, encoding: { x, y, text: { field: 'label' } } },
  );
  return {
    $schema: SCHEMA,
    title: {
      text: `${s.name}: validation accuracy vs ${shortName(d.path)}`,
      subtitle: [`x: the ${range}; bars: 95% noise interval ±1.96·sqrt(p(1−p)/n)${d.n ? `, n = ${d.n}` : ''}`,
        'shaded: within the noise interval of the best; #1–#3: the best three'],
    },
    width: 560, height: 320, config: BASE_CONFIG,
    layer: layers,
  } as TopLevelSpec;
}

// ---------------------------------------------------------------------------------------------------------
// Parallel coordinates

export interface OverviewRow {
  trial: number;
  axis: string;
  /** Position on the axis, 0 (bottom) .. 1 (top). */
  pos: number;
  outcome: 'completed' | 'pruned';
  acc: number;
}

export interface OverviewData {
  axes: string[];
  rows: OverviewRow[];
  /** Labels at both ends of each axis. */
  ticks: Array<{ axis: string; pos: number; text: string }>;
}

/** Every trial with a result as a line across one axis per parameter (its range, bottom to top) and its accuracy. */
export function overviewData(s: SearchSummary): OverviewData {
  const paths = s.params;
  const axes = [...paths.map(shortName), 'val acc'];
  const results = s.results.filter((e) => e.row && (e.row.status === 'completed' || e.row.status === 'pruned') && e.row.val_acc !== null);
  const [aLo, aHi] = accuracyDomain(results.map((e) => e.row!.val_acc!));
  const rows: OverviewRow[] = [];
  for (const e of results) {
    const acc = e.row!.val_acc!;
    const outcome = e.row!.status as 'completed' | 'pruned';
    paths.forEach((p, i) => {
      if (e.params[p] !== undefined) rows.push({ trial: e.trial, axis: axes[i], pos: coordOf(s.space[p], e.params[p]), outcome, acc });
    });
    rows.push({ trial: e.trial, axis: 'val acc', pos: (acc - aLo) / (aHi - aLo), outcome, acc });
  }
  const ticks = paths.flatMap((p, i) => {
    const spec = s.space[p];
    if (spec.dist === 'choice') return spec.values.map((v) => ({ axis: axes[i], pos: coordOf(spec, v), text: String(v) }));
    return [{ axis: axes[i], pos: 0, text: formatValue(spec, spec.min) }, { axis: axes[i], pos: 1, text: formatValue(spec, spec.max) }];
  });
  ticks.push({ axis: 'val acc', pos: 0, text: `${(100 * aLo).toFixed(1)}%` }, { axis: 'val acc', pos: 1, text: `${(100 * aHi).toFixed(1)}%` });
  return { axes, rows, ticks };
}

export function overviewSpec(s: SearchSummary, d: OverviewData): TopLevelSpec {
  const x = { field: 'axis', type: 'ordinal', sort: d.axes, scale: { domain: d.axes, padding: 0.3 }, axis: { title: null, orient: 'top', labelAngle: 0, domain: false, ticks: false, labelFontSize: 13, labelPadding: 10 } };
  const y = { field: 'pos', type: 'quantitative', scale: { domain: [0, 1] }, axis: null };
  return {
    $schema: SCHEMA,
    title: { text: `${s.name}: every trial across every parameter`, subtitle: 'each axis spans its searched range (log scale where searched so); line colour: validation accuracy; grey dashed: pruned' },
    width: Math.max(360, 150 * d.axes.length), height: 320, config: BASE_CONFIG,
    layer: [
      { data: { values: d.axes.map((axis) => ({ axis })) }, mark: { type: 'rule', color: '#999' }, encoding: { x, y: { datum: 0, scale: { domain: [0, 1] }, axis: null }, y2: { datum: 1 } } },
      {
        data: { values: d.rows.filter((r) => r.outcome === 'pruned') },
        mark: { type: 'line', color: '#b0b0b0', strokeDash: [4, 3], strokeWidth: 1.2, opacity: 0.7 },
        encoding: { x, y, detail: { field: 'trial', type: 'nominal' } },
      },
      {
        data: { values: d.rows.filter((r) => r.outcome === 'completed') },
        mark: { type: 'line', strokeWidth: 2.2, opacity: 0.9 },
        encoding: {
          x, y, detail: { field: 'trial', type: 'nominal' },
          color: { field: 'acc', type: 'quantitative', title: 'val acc', scale: { scheme: 'viridis' }, legend: { format: '.1%' } },
        },
      },
      // An axis's end labels lie inside its span (top one below its end, bottom one above), clear of the axis names.
      { data: { values: d.ticks.filter((t) => t.pos >= 0.5) }, mark: { type: 'text', align: 'left', baseline: 'top', dx: 5, dy: 2, fontSize: 11, color: '#333' }, encoding: { x, y, text: { field: 'text' } } },
      { data: { values: d.ticks.filter((t) => t.pos < 0.5) }, mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 5, dy: -2, fontSize: 11, color: '#333' }, encoding: { x, y, text: { field: 'text' } } },
    ],
  } as TopLevelSpec;
}

// ---------------------------------------------------------------------------------------------------------
// Rung history

export interface RungPoint {
  trial: number;
  step: number;
  acc: number;
  /** continued past this rung, pruned here, or the trial's end (completed). */
  what: 'continued' | 'pruned' | 'completed';
}

export interface RungTableRow {
  rung: number;
  step: number;
  reported: number;
  continued: number;
  pruned: number;
  /** The cutoff of the last decision made there. */
  cutoff: number | null;
}

/** Each trial's path through the rungs (and its end when it completed), and one table row per rung. */
export function rungHistory(rungs: RungRecord[], results: SearchSummary['results']): { points: RungPoint[]; table: RungTableRow[] } {
  const points: RungPoint[] = rungs.map((r) => ({ trial: r.trial, step: r.step, acc: r.valAccuracy, what: r.decision === 'prune' ? 'pruned' : 'continued' }));
  const reached = new Set(rungs.map((r) => r.trial));
  for (const e of results) {
    if (reached.has(e.trial) && e.row?.status === 'completed' && e.row.val_acc !== null && e.row.steps !== null) {
      points.push({ trial: e.trial, step: e.row.steps, acc: e.row.val_acc, what: 'completed' });
    }
  }
  const byStep = new Map<number, RungTableRow>();
  for (const r of rungs) {
    const row = byStep.get(r.step) ?? { rung: r.rung, step: r.step, reported: 0, continued: 0, pruned: 0, cutoff: null };
    row.reported++;
    if (r.decision === 'prune') row.pruned++;
    else row.continued++;
    row.cutoff = Number.isFinite(r.cutoff) ? r.cutoff : null;
    byStep.set(r.step, row);
  }
  return { points, table: [...byStep.values()].sort((a, b) => a.step - b.step) };
}

export function rungsSpec(s: SearchSummary, h: ReturnType<typeof rungHistory>): TopLevelSpec {
  const maxStep = Math.max(...h.points.map((p) => p.step), 1);
  const x = { field: 'step', type: 'quantitative', title: 'update step', scale: { domain: [0, maxStep], nice: false }, axis: { format: ',~r' } };
  const yScale = { domain: accuracyDomain(h.points.map((p) => p.acc)), zero: false, nice: false };
  const y = { field: 'acc', type: 'quantitative', title: 'validation accuracy', scale: yScale, axis: { format: '.1%' } };
  const cutoffs = h.table.filter((r) => r.cutoff !== null).map((r) => ({ step: r.step, acc: r.cutoff }));
  return {
    $schema: SCHEMA,
    title: { text: `${s.name}: rung history (ASHA, eta = ${s.pruning.eta})`, subtitle: 'each trial\'s validation accuracy at the rungs it reached; black tick: the promotion cutoff each rung ended with' },
    width: 560, height: 320, config: BASE_CONFIG,
    layer: [
      { data: { values: h.points }, mark: { type: 'line', color: '#c8c8c8', strokeWidth: 1 }, encoding: { x, y, detail: { field: 'trial', type: 'nominal' }, order: { field: 'step', type: 'quantitative' } } },
      {
        data: { values: h.points }, mark: { type: 'point', filled: true, size: 60, opacity: 0.9 },
        encoding: {
          x, y,
          color: { field: 'what', type: 'nominal', title: null, scale: { domain: ['continued', 'pruned', 'completed'], range: ['#1f77b4', '#d62728', '#2ca02c'] }, legend: { orient: 'bottom', direction: 'horizontal' } },
          shape: { field: 'what', type: 'nominal', title: null, scale: { domain: ['continued', 'pruned', 'completed'], range: ['circle', 'cross', 'diamond'] }, legend: { orient: 'bottom', direction: 'horizontal' } },
        },
      },
      { data: { values: cutoffs }, mark: { type: 'tick', orient: 'horizontal', color: '#000', thickness: 2, size: 26 }, encoding: { x, y } },
    ],
  } as TopLevelSpec;
}

// ---------------------------------------------------------------------------------------------------------
// Validation curves

export interface CurvePoint {
  trial: string;
  step: number;
  acc: number;
  group: 'chosen' | 'best three' | 'completed' | 'pruned' | 'other';
}

export function curvesSpec(s: SearchSummary, points: CurvePoint[]): TopLevelSpec {
  const allGroups = ['other', 'pruned', 'completed', 'best three', 'chosen'];
  const allColors = ['#d0d0d0', '#b8b8b8', '#9ecae1', '#ff7f0e', '#d62728'];
  // The legend lists the groups there are.
  const present = allGroups.filter((g) => points.some((p) => p.group === g));
  const groups = present, colors = present.map((g) => allColors[allGroups.indexOf(g)]);
  const values = [...points].sort((a, b) => groups.indexOf(a.group) - groups.indexOf(b.group));
  // The accuracy range of the second half of the steps, where the trials differ, and of every trial's last point (a
  // pruned trial's too): the early climb from chance is cut off, no trial's line is wholly outside.
  const lastStep = Math.max(0, ...values.map((v) => v.step));
  const lastOf = new Map<string, CurvePoint>();
  for (const v of values) if ((lastOf.get(v.trial)?.step ?? -1) < v.step) lastOf.set(v.trial, v);
  const late = [...values.filter((v) => v.step >= lastStep / 2), ...lastOf.values()].map((v) => v.acc);
  const domain = accuracyDomain(late.length ? late : values.map((v) => v.acc));
  // Points below the range are drawn on its bottom edge (resvg cannot draw a line the plot clips away entirely).
  const drawn = values.map((v) => (v.acc < domain[0] ? { ...v, acc: domain[0] } : v));
  const x = { field: 'step', type: 'quantitative', title: 'update step', axis: { format: ',~r' } };
  const y = { field: 'acc', type: 'quantitative', title: 'validation accuracy', scale: { domain, zero: false, nice: false }, axis: { format: '.1%' } };
  const color = { field: 'group', type: 'nominal', title: null, scale: { domain: groups, range: colors }, legend: { orient: 'bottom', direction: 'horizontal' } };
  const line = (filter: (p: CurvePoint) => boolean, strokeWidth: number) => ({
    data: { values: drawn.filter(filter) }, mark: { type: 'line', strokeWidth, opacity: 0.9 },
    encoding: { x, y, color, detail: { field: 'trial', type: 'nominal' }, order: { field: 'step', type: 'quantitative' } },
  });
  return {
    $schema: SCHEMA,
    title: { text: `${s.name}: validation accuracy of every trial`, subtitle: `accuracy range of the second half of the run (the climb from chance drawn on the bottom edge)${present.includes('pruned') ? '; pruned trials end at the rung they stopped at' : ''}` },
    width: 560, height: 320, config: BASE_CONFIG,
    layer: [line((p) => p.group !== 'best three' && p.group !== 'chosen', 1.2), line((p) => p.group === 'best three', 2), line((p) => p.group === 'chosen', 3)],
  } as TopLevelSpec;
}

/** A trial's group in the curves plot. */
export function curveGroup(s: SearchSummary, trial: number): CurvePoint['group'] {
  if (s.chosen?.trial === trial || (s.chosen === null && s.best[0]?.trial === trial)) return 'chosen';
  if (s.best.some((b) => b.trial === trial)) return 'best three';
  const st = s.results.find((e) => e.trial === trial)?.status;
  return st === 'completed' ? 'completed' : st === 'pruned' ? 'pruned' : 'other';
}


/**
 * The page's figures. Curves that grow live are uPlot charts (made for fast time series): points are appended as
 * metrics rows come, and a curve longer than MAX_POINTS is thinned to every other point (the latest kept), so a
 * long run's page stays bounded in memory. Scatter plots, parallel coordinates and the rung view are drawn on a
 * canvas (text through fillText: never HTML).
 */
import uPlot from 'uplot';
import { h } from './dom.js';

export const MAX_POINTS = 3000;
export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

export interface SeriesSpec {
  label: string;
  color: string;
  dash?: number[];
}

/** Every other point of each array, the last kept. */
function thin(columns: (number | null)[][]): (number | null)[][] {
  const n = columns[0].length;
  return columns.map((c) => c.filter((_, i) => i % 2 === 0 || i === n - 1));
}

export class CurveChart {
  readonly el: HTMLElement;
  private plot: uPlot | null = null;
  private data: (number | null)[][];

  constructor(readonly title: string, private readonly series: SeriesSpec[], private readonly opts: { percent?: boolean; xLabel?: string; width?: number } = {}) {
    this.el = h('figure', { class: 'chart' }, h('figcaption', null, title));
    this.data = [[], ...series.map(() => [])];
  }

  private make(): void {
    const fmt = this.opts.percent ? (v: number | null) => (v === null ? '—' : `${(v * 100).toFixed(2)}%`) : (v: number | null) => (v === null ? '—' : Number(v.toPrecision(4)).toString());
    this.plot = new uPlot({
      width: this.opts.width ?? 520,
      height: 240,
      scales: { x: { time: false } },
      axes: [{ label: this.opts.xLabel ?? 'update step' }, { values: (_u, ticks) => ticks.map((t) => fmt(t)), size: 60 }],
      series: [{ label: this.opts.xLabel ?? 'step' }, ...this.series.map((s) => ({ label: s.label, stroke: s.color, dash: s.dash, width: 1.5, spanGaps: true, value: (_u: uPlot, v: number | null) => fmt(v) }))],
      legend: { live: true },
    }, this.data as uPlot.AlignedData, this.el);
  }

  /** Replaces the data: x, then one array per series. */
  set(columns: (number | null)[][]): void {
    this.data = columns.map((c) => c.slice());
    while (this.data[0].length > MAX_POINTS) this.data = thin(this.data);
    if (!this.plot) this.make();
    else this.plot.setData(this.data as uPlot.AlignedData);
  }

  /** Adds a point at x (one value per series). */
  append(x: number, ys: (number | null)[]): void {
    this.data[0].push(x);
    ys.forEach((y, i) => this.data[i + 1].push(y));
    if (this.data[0].length > MAX_POINTS) this.data = thin(this.data);
    if (!this.plot) this.make();
    else this.plot.setData(this.data as uPlot.AlignedData);
  }

  /** Points shown now (for tests and the benchmark). */
  get length(): number {
    return this.data[0].length;
  }
}

/** Several curves, each on its own x values, overlaid on the same axes (uPlot.join aligns them). */
export function overlay(curves: { x: number[]; y: (number | null)[] }[]): (number | null)[][] {
  if (curves.length === 0) return [[]];
  return uPlot.join(curves.map((c) => [c.x, c.y] as uPlot.AlignedData)) as unknown as (number | null)[][];
}

export interface ScatterPoint {
  x: number;
  y: number;
  /** Noise bar: y from lo to hi. */
  lo?: number;
  hi?: number;
  color?: string;
}

export interface CanvasFrame {
  canvas: HTMLCanvasElement;
  ctx: CanvasRenderingContext2D;
  w: number;
  h: number;
}

export function canvasFigure(caption: string, w = 520, hgt = 260): { el: HTMLElement; frame: CanvasFrame } {
  const canvas = h('canvas', { attrs: { width: String(w * devicePixelRatio), height: String(hgt * devicePixelRatio) }, style: { width: `${w}px`, height: `${hgt}px` } });
  const ctx = canvas.getContext('2d')!;
  ctx.scale(devicePixelRatio, devicePixelRatio);
  return { el: h('figure', { class: 'chart' }, h('figcaption', null, caption), canvas), frame: { canvas, ctx, w, h: hgt } };
}

const niceTicks = (lo: number, hi: number, n = 5) => Array.from({ length: n + 1 }, (_, i) => lo + ((hi - lo) * i) / n);
const label = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(3))));

/** A scatter plot with optional noise bars and horizontal lines; `logX` for log-distributed parameters. */
export function drawScatter(f: CanvasFrame, points: ScatterPoint[], o: { logX?: boolean; xLabel: string; yLabel: string; percentY?: boolean; line?: { x: number; y: number }[] }): void {
  const { ctx, w, h: hgt } = f;
  ctx.clearRect(0, 0, w, hgt);
  const L = 56, R = 12, T = 10, B = 36;
  const tx = (x: number) => (o.logX ? Math.log10(x) : x);
  const xs = points.map((p) => tx(p.x)).filter(Number.isFinite);
  const ys = points.flatMap((p) => [p.y, p.lo ?? p.y, p.hi ?? p.y]).filter(Number.isFinite);
  ctx.fillStyle = '#555';
  ctx.font = '11px sans-serif';
  if (!xs.length) {
    ctx.fillText('no finished trials yet', L, hgt / 2);
    return;
  }
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - 0.01, y1 + 0.01];
  const px = (x: number) => L + ((tx(x) - x0) / (x1 - x0)) * (w - L - R);
  const py = (y: number) => T + (1 - (y - y0) / (y1 - y0)) * (hgt - T - B);
  ctx.strokeStyle = '#ccc';
  ctx.beginPath();
  ctx.moveTo(L, T);
  ctx.lineTo(L, hgt - B);
  ctx.lineTo(w - R, hgt - B);
  ctx.stroke();
  for (const t of niceTicks(y0, y1, 4)) ctx.fillText(o.percentY ? `${(t * 100).toFixed(1)}%` : label(t), 4, py(t) + 4);
  for (const t of niceTicks(x0, x1, 4)) ctx.fillText(label(o.logX ? 10 ** t : t), L + ((t - x0) / (x1 - x0)) * (w - L - R) - 14, hgt - B + 14);
  ctx.fillText(o.xLabel, w / 2 - 40, hgt - 6);
  if (o.line?.length) {
    ctx.strokeStyle = '#2ca02c';
    ctx.beginPath();
    o.line.forEach((p, i) => (i ? ctx.lineTo(px(p.x), py(p.y)) : ctx.moveTo(px(p.x), py(p.y))));
    ctx.stroke();
  }
  for (const p of points) {
    if (!Number.isFinite(tx(p.x)) || !Number.isFinite(p.y)) continue;
    ctx.strokeStyle = ctx.fillStyle = p.color ?? PALETTE[0];
    if (p.lo !== undefined && p.hi !== undefined) {
      ctx.beginPath();
      ctx.moveTo(px(p.x), py(p.lo));
      ctx.lineTo(px(p.x), py(p.hi));
      ctx.stroke();
    }
    ctx.beginPath();
    ctx.arc(px(p.x), py(p.y), 2.5, 0, 2 * Math.PI);
    ctx.fill();
  }
}

/** Parallel coordinates: one vertical axis per dimension, one line per item, coloured by its last dimension. */
export function drawParallel(f: CanvasFrame, dims: { label: string; log?: boolean }[], items: number[][]): void {
  const { ctx, w, h: hgt } = f;
  ctx.clearRect(0, 0, w, hgt);
  ctx.font = '11px sans-serif';
  const T = 18, B = 24, L = 30, R = 30;
  const t = (d: number, v: number) => (dims[d].log ? Math.log10(v) : v);
  const ranges = dims.map((_, d) => {
    const vs = items.map((it) => t(d, it[d])).filter(Number.isFinite);
    const lo = Math.min(...vs), hi = Math.max(...vs);
    return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
  });
  const ax = (d: number) => L + (d * (w - L - R)) / Math.max(1, dims.length - 1);
  const ay = (d: number, v: number) => T + (1 - (t(d, v) - ranges[d][0]) / (ranges[d][1] - ranges[d][0])) * (hgt - T - B);
  const last = dims.length - 1;
  ctx.globalAlpha = items.length > 500 ? 0.15 : 0.6;
  for (const it of items) {
    if (!it.every((v, d) => Number.isFinite(t(d, v)))) continue;
    const q = (it[last] - ranges[last][0]) / (ranges[last][1] - ranges[last][0]);
    ctx.strokeStyle = `hsl(${(1 - q) * 240}, 70%, 45%)`;
    ctx.beginPath();
    it.forEach((v, d) => (d ? ctx.lineTo(ax(d), ay(d, v)) : ctx.moveTo(ax(d), ay(d, v))));
    ctx.stroke();
  }
  ctx.globalAlpha = 1;
  ctx.fillStyle = '#333';
  ctx.strokeStyle = '#888';
  dims.forEach((d, i) => {
    ctx.beginPath();
    ctx.moveTo(ax(i), T);
    ctx.lineTo(ax(i), hgt - B);
    ctx.stroke();
    const text = d.label.length > 24 ? `${d.label.slice(0, 23)}…` : d.label;
    ctx.fillText(text, Math.min(w - ctx.measureText(text).width - 2, Math.max(2, ax(i) - ctx.measureText(text).width / 2)), hgt - 6);
  });
}

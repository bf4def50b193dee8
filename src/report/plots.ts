/**
 * The figures of a training run (learning rate, loss/cost, accuracy vs update step) and a generic
 * scatter/line plot, as Vega-Lite specs compiled with vega-lite, rendered headlessly to SVG by a vega
 * View and rasterised to PNG by resvg.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../util/atomic.js';
import { learningRateCurve, type EtaPoint } from './lr-curve.js';
import type { MetricsRow } from '../formats/metrics-csv.js';
import { readRunArtifacts, type RunArtifacts } from './run-folder.js';

// ---------------------------------------------------------------------------------------------
// Files

// ---------------------------------------------------------------------------------------------
// Rendering

const FONT_CANDIDATES: Array<[family: string, files: string[]]> = [
  ['DejaVu Sans', ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', '/usr/share/fonts/TTF/DejaVuSans.ttf', '/usr/share/fonts/dejavu/DejaVuSans.ttf']],
  ['Liberation Sans', ['/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf', '/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf']],
  ['Noto Sans', ['/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf', '/usr/share/fonts/noto/NotoSans-Regular.ttf']],
  ['Arial', ['/Library/Fonts/Arial.ttf', '/System/Library/Fonts/Supplemental/Arial.ttf', 'C:\\Windows\\Fonts\\arial.ttf']],
];

let sansFont: { family: string; file: string } | null | undefined;
/**
 * A sans-serif font known to be installed, so resvg does not silently drop text; null when none is found. resvg is
 * given that one file rather than every system font: a figure's renderer then parses one font, not hundreds.
 */
function installedSansFont(): { family: string; file: string } | null {
  if (sansFont === undefined) {
    sansFont = null;
    for (const [family, files] of FONT_CANDIDATES) {
      const file = files.find((f) => existsSync(f));
      if (file) {
        sansFont = { family, file };
        break;
      }
    }
  }
  return sansFont;
}

/** The most characters a text of a figure shows (titles, legends, labels from data): a longer one ends in "…". */
export const MAX_FIGURE_TEXT = 120;
/** The most pixels a PNG figure has: a larger SVG is rasterised at a smaller zoom (memory bounded by design). */
export const MAX_PNG_PIXELS = 16_000_000;

const cut = (s: string) => (s.length > MAX_FIGURE_TEXT ? `${s.slice(0, MAX_FIGURE_TEXT - 1)}…` : s);

/**
 * The spec with every text it shows cut to MAX_FIGURE_TEXT: titles and subtitles, and the string values of its inline
 * data (names and labels of trials). Names reach figures from configs and folders: a 10,000-character name once took
 * plotting past 3 GB. Expressions and formats are not shown, so they are left alone.
 */
export function boundedTexts<T>(spec: T): T {
  const walk = (v: unknown, key: string | null): unknown => {
    if (typeof v === 'string') return key === 'title' || key === 'subtitle' || key === 'text' || key === 'value' ? cut(v) : v;
    if (Array.isArray(v)) return v.map((x) => walk(x, key === 'values' ? 'row' : key));
    if (v === null || typeof v !== 'object') return v;
    if (key === 'row') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, typeof x === 'string' ? cut(x) : x]));
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
  };
  return walk(spec, null) as T;
}

/** Font stack used in the specs: the browser picks the first it has, resvg is told which one exists. */
const FONT = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif';

export const BASE_CONFIG = {
  font: FONT,
  background: 'white',
  padding: 8,
  title: { fontSize: 15, subtitleFontSize: 13, subtitleColor: '#333', subtitlePadding: 4, anchor: 'middle' as const, offset: 10 },
  axis: { labelFontSize: 12, titleFontSize: 13, titlePadding: 8, gridColor: '#e5e5e5' },
  legend: { labelFontSize: 12, titleFontSize: 12, symbolStrokeWidth: 2.5, symbolSize: 220, labelLimit: 260 },
  view: { stroke: '#cccccc' },
};

/** Compiles a Vega-Lite spec and renders it to an SVG string with a headless vega View. */
/**
 * Vega's and Vega-Lite's messages are for developers: shown with CIFAR_MLP_DEBUG=1, never on a user's terminal (an
 * empty layer's "Infinite extent" warning says nothing a user could act on). Errors still throw.
 */
const figureLogLevel = () => (process.env.CIFAR_MLP_DEBUG ? vega.Warn : vega.None);

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { spec: vgSpec } = compile(boundedTexts(spec), { logger: vega.logger(figureLogLevel()) });
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none', logLevel: figureLogLevel() });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The zoom at which an SVG of `width` × `height` makes at most MAX_PNG_PIXELS pixels (at most `scale`). */
export function pngZoom(width: number, height: number, scale: number): number {
  const pixels = width * height * scale * scale;
  return pixels > MAX_PNG_PIXELS ? 0.995 * scale * Math.sqrt(MAX_PNG_PIXELS / pixels) : scale; // 0.995: resvg rounds sizes up
}

/** Rasterises an SVG string to PNG bytes (`scale` × its size, less for a figure above MAX_PNG_PIXELS). */
export function svgToPng(svg: string, scale = 2): Buffer {
  const font = installedSansFont();
  const size = /<svg[^>]*?\swidth="([\d.]+)"[^>]*?\sheight="([\d.]+)"/.exec(svg.slice(0, 2000));
  const zoom = size ? pngZoom(Number(size[1]), Number(size[2]), scale) : scale;
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: zoom },
    font: font
      ? { loadSystemFonts: false, fontFiles: [font.file], defaultFontFamily: font.family, sansSerifFamily: font.family }
      : { loadSystemFonts: true },
    logLevel: 'off',
  });
  return resvg.render().asPng();
}

/** A rendered figure: the SVG text and the PNG bytes, and where they were written. */
export interface Figure {
  name: string;
  svg: string;
  png: Buffer;
  svgPath: string;
  pngPath: string;
}

/** Renders `spec` and writes `<basePath>.svg` and `<basePath>.png` (atomically). */
export async function writeFigure(spec: TopLevelSpec, basePath: string): Promise<Figure> {
  const svg = await renderSvg(spec);
  const png = svgToPng(svg);
  const svgPath = `${basePath}.svg`;
  const pngPath = `${basePath}.png`;
  writeFileAtomic(svgPath, svg);
  writeFileAtomic(pngPath, png);
  return { name: basename(basePath), svg, png, svgPath, pngPath };
}

// ---------------------------------------------------------------------------------------------
// Titles

/** The key settings of a run, for plot titles. All optional. */
export interface RunInfo {
  name?: string;
  lambda?: number;
  ns?: number;
  batchSize?: number;
  hidden?: number;
  /** Hidden widths of a deeper network (model.layers). */
  layers?: number[];
  batchNorm?: boolean;
  cycles?: number;
  epochs?: number;
  etaMin?: number;
  etaMax?: number;
  /** Run status ("completed", "interrupted", "diverged", ...); null/undefined when no summary exists. */
  status?: string | null;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** Extracts the title settings from a resolved config object (as in summary.config or config.yaml). */
export function runInfoFromConfig(config: Record<string, unknown> | null | undefined): RunInfo {
  const c = obj(config);
  const train = obj(c.train);
  const schedule = obj(c.schedule ?? train.schedule);
  const model = obj(c.model);
  return {
    name: typeof c.name === 'string' ? c.name : undefined,
    lambda: num(train.lambda) ?? num(c.lambda),
    ns: num(schedule.ns),
    batchSize: num(train.batchSize) ?? num(train.nBatch) ?? num(c.batchSize),
    hidden: num(model.hidden) ?? num(model.m),
    layers: Array.isArray(model.layers) && model.layers.every((w) => num(w) !== undefined) ? (model.layers as number[]) : undefined,
    batchNorm: model.batchNorm === true ? true : undefined,
    cycles: num(schedule.cycles),
    epochs: num(schedule.epochs) ?? num(train.epochs),
    etaMin: num(schedule.etaMin),
    etaMax: num(schedule.etaMax),
  };
}

/** Formats a number compactly for titles: 0.01, 0.00149, 1e-7, 500. */
export function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(3)));
}

/** "cycle1 · λ=0.01 · ns=500 · n_batch=100 · m=50 · 1 cycle" from whatever is known. */
export function runTitle(info: RunInfo): string {
  const parts: string[] = [];
  if (info.name) parts.push(info.name);
  if (info.lambda !== undefined) parts.push(`λ=${formatNumber(info.lambda)}`);
  if (info.ns !== undefined) parts.push(`ns=${formatNumber(info.ns)}`);
  if (info.batchSize !== undefined) parts.push(`n_batch=${formatNumber(info.batchSize)}`);
  const bn = info.batchNorm ? ' BN' : '';
  if (info.layers !== undefined) parts.push(`hidden ${info.layers.join('-')}${bn}`);
  else if (info.hidden !== undefined) parts.push(`m=${formatNumber(info.hidden)}${bn}`);
  if (info.cycles !== undefined) parts.push(`${formatNumber(info.cycles)} cycle${info.cycles === 1 ? '' : 's'}`);
  else if (info.epochs !== undefined) parts.push(`${formatNumber(info.epochs)} epoch${info.epochs === 1 ? '' : 's'}`);
  return parts.length > 0 ? parts.join(' · ') : 'training run';
}

/** A subtitle flagging runs that did not finish normally; undefined for a completed run. */
export function statusNote(status: string | null | undefined): string | undefined {
  if (status === null || status === undefined) return 'incomplete run: no summary.json';
  if (['completed', 'complete', 'done', 'ok', 'finished', 'success'].includes(status.toLowerCase())) return undefined;
  return `run ${status}`;
}

// ---------------------------------------------------------------------------------------------
// The run's three figures

export interface PlotTitle {
  title: string;
  subtitle?: string;
}

/** Shows markers on lines only while they stay readable. */
const MAX_POINTS_WITH_MARKERS = 60;

function titleSpec(heading: string, t: PlotTitle): TopLevelSpec['title'] {
  // The settings go into the subtitle: vega estimates text widths without a canvas (generously), so one
  // long bold line would widen the figure with empty space.
  return { text: heading, subtitle: t.subtitle ? [t.title, t.subtitle] : t.title };
}

const STEP_AXIS = { field: 'step', type: 'quantitative' as const, title: 'update step', axis: { format: ',~r', tickCount: 8 } };

/**
 * A figure whose metric has no value in any row (a column all NA) would leave vega with empty extents ("Infinite
 * extent" warnings, blank axes): it gets fixed domains instead (the steps of the rows, 0..1) and says so in its title.
 */
function emptyFigure(rows: MetricsRow[], heading: string): { heading: string; x: { domain: [number, number] }; y: { domain: [number, number] } } {
  const steps = rows.map((r) => r.step).filter(Number.isFinite);
  const lo = steps.length ? Math.min(...steps) : 0;
  const hi = steps.length ? Math.max(...steps) : 1;
  return { heading: `${heading}: no values recorded`, x: { domain: [lo, hi > lo ? hi : lo + 1] }, y: { domain: [0, 1] } };
}

/**
 * Learning rate vs update step: `schedule`, the rate at every step from the run's schedule (learningRateCurve), drawn
 * as a line; without it, the rates recorded at the evaluation points.
 */
export function lrSpec(rows: MetricsRow[], t: PlotTitle, schedule?: EtaPoint[] | null): TopLevelSpec {
  const values = schedule ?? rows.filter((r) => r.eta !== null && Number.isFinite(r.eta)).map((r) => ({ step: r.step, eta: r.eta as number }));
  const empty = values.length === 0 ? emptyFigure(rows, 'Learning rate') : null;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: titleSpec(empty?.heading ?? 'Learning rate', t),
    width: 560,
    height: 300,
    config: BASE_CONFIG,
    data: { values },
    mark: { type: 'line', strokeWidth: 2, color: '#4c78a8', point: !schedule && values.length <= MAX_POINTS_WITH_MARKERS },
    encoding: {
      x: empty ? { ...STEP_AXIS, scale: empty.x } : STEP_AXIS,
      y: { field: 'eta', type: 'quantitative', title: 'learning rate η', axis: { format: '~g' }, ...(empty ? { scale: empty.y } : {}) },
    },
  };
}

interface SeriesDef {
  field: keyof MetricsRow;
  label: string;
  color: string;
  dash: number[];
}

function longFormat(rows: MetricsRow[], series: SeriesDef[]): Array<{ step: number; value: number; series: string }> {
  const out: Array<{ step: number; value: number; series: string }> = [];
  for (const s of series) {
    for (const r of rows) {
      const v = r[s.field];
      if (v !== null && Number.isFinite(v)) out.push({ step: r.step, value: v, series: s.label });
    }
  }
  return out;
}

function seriesSpec(rows: MetricsRow[], series: SeriesDef[], heading: string, yTitle: string, yFormat: string, t: PlotTitle): TopLevelSpec {
  const values = longFormat(rows, series);
  const empty = values.length === 0 ? emptyFigure(rows, heading) : null;
  const perSeries = Math.max(0, ...series.map((s) => values.filter((v) => v.series === s.label).length));
  // Below the plot, so it never hides a curve whatever their shape.
  const legend = { title: null, orient: 'bottom' as const, direction: 'horizontal' as const, columns: 2, symbolType: 'stroke', columnPadding: 24 };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: titleSpec(empty?.heading ?? heading, t),
    width: 560,
    height: 300,
    config: BASE_CONFIG,
    data: { values },
    mark: { type: 'line', strokeWidth: 2, point: perSeries <= MAX_POINTS_WITH_MARKERS ? { size: 25 } : false },
    encoding: {
      x: empty ? { ...STEP_AXIS, scale: empty.x } : STEP_AXIS,
      y: { field: 'value', type: 'quantitative', title: yTitle, scale: empty ? empty.y : { zero: false }, axis: { format: yFormat } },
      color: {
        field: 'series',
        type: 'nominal',
        scale: { domain: series.map((s) => s.label), range: series.map((s) => s.color) },
        legend,
      },
      strokeDash: {
        field: 'series',
        type: 'nominal',
        scale: { domain: series.map((s) => s.label), range: series.map((s) => s.dash) },
        legend,
      },
    },
  };
}

const BLUE = '#1f77b4';
const ORANGE = '#ff7f0e';

/** Training and validation loss and cost vs update step (4 series). */
export function lossSpec(rows: MetricsRow[], t: PlotTitle): TopLevelSpec {
  return seriesSpec(
    rows,
    [
      { field: 'train_loss', label: 'training loss', color: BLUE, dash: [1, 0] },
      { field: 'val_loss', label: 'validation loss', color: ORANGE, dash: [1, 0] },
      { field: 'train_cost', label: 'training cost', color: '#6baed6', dash: [6, 3] },
      { field: 'val_cost', label: 'validation cost', color: '#fdae6b', dash: [6, 3] },
    ],
    'Loss and cost',
    'loss / cost',
    '~g',
    t,
  );
}

/** Training and validation accuracy vs update step. */
export function accuracySpec(rows: MetricsRow[], t: PlotTitle): TopLevelSpec {
  return seriesSpec(
    rows,
    [
      { field: 'train_acc', label: 'training accuracy', color: BLUE, dash: [1, 0] },
      { field: 'val_acc', label: 'validation accuracy', color: ORANGE, dash: [1, 0] },
    ],
    'Accuracy',
    'accuracy',
    '.1~%',
    t,
  );
}

/** The file base names of the run figures, in report order. */
export const RUN_FIGURES = ['lr', 'loss', 'accuracy'] as const;
export type RunFigureName = (typeof RUN_FIGURES)[number];

/**
 * Renders the three run figures from rows (and the learning rate from `schedule` when given, see lrSpec) and
 * writes `lr`, `loss`, `accuracy` `.svg/.png` into `outDir`.
 */
export async function renderMetricsPlots(rows: MetricsRow[], title: PlotTitle | string, outDir: string, schedule?: EtaPoint[] | null): Promise<Figure[]> {
  const t = typeof title === 'string' ? { title } : title;
  const sorted = [...rows].sort((a, b) => a.step - b.step);
  const specs: Record<RunFigureName, TopLevelSpec> = {
    lr: lrSpec(sorted, t, schedule),
    loss: lossSpec(sorted, t),
    accuracy: accuracySpec(sorted, t),
  };
  const figures: Figure[] = [];
  for (const name of RUN_FIGURES) figures.push(await writeFigure(specs[name], join(outDir, name)));
  return figures;
}

/** Title and subtitle of a run's figures from what its directory holds. */
export function runPlotTitle(run: RunArtifacts): PlotTitle {
  const info = runInfoFromConfig(run.config);
  const notes: string[] = [];
  const status = statusNote(run.summary ? (typeof run.summary.status === 'string' ? run.summary.status : 'unknown') : null);
  if (status) notes.push(status);
  if (run.metrics && run.metrics.rows.length === 0) notes.push('no evaluation points recorded yet');
  return { title: runTitle(info), subtitle: notes.length > 0 ? notes.join(' · ') : undefined };
}

/** Like renderRunPlots, but also returns the rendered figures and what was read. */
export async function renderRunFigures(outDir: string): Promise<{ run: RunArtifacts; figures: Figure[] }> {
  const run = await readRunArtifacts(outDir);
  if (run.metrics === null) throw new Error(`cannot plot ${outDir}: no metrics.csv there`);
  const figures = await renderMetricsPlots(run.metrics.rows, runPlotTitle(run), outDir, learningRateCurve(run));
  return { run, figures };
}

/**
 * Reads `<outDir>/metrics.csv` (and summary.json / config.yaml when present) and writes
 * lr/loss/accuracy `.svg` and `.png` beside it. Returns the written paths. Throws if metrics.csv is missing.
 */
export async function renderRunPlots(outDir: string): Promise<string[]> {
  const { figures } = await renderRunFigures(outDir);
  return figures.flatMap((f) => [f.svgPath, f.pngPath]);
}

// ---------------------------------------------------------------------------------------------
// Generic scatter / line plot (e.g. validation accuracy vs log10(lambda))

export interface ScatterOptions<P extends Record<string, unknown> = Record<string, unknown>> {
  /** Field of each point for the x axis. */
  x: string;
  /** Field of each point for the y axis. */
  y: string;
  points: P[];
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  /** Optional field whose values colour the points (with a legend), e.g. "search" = coarse | fine. */
  color?: string;
  colorLabel?: string;
  /** Connect the points (sorted by x) with a line. Default false. */
  line?: boolean;
  /** d3 format strings for the axis labels, e.g. ".0%" for fractions. */
  xFormat?: string;
  yFormat?: string;
  /** Include zero in the y scale. Default false. */
  yZero?: boolean;
  /** The x domain when no point has finite x and y (default 0..1; the y domain is then 0..1): no empty extents. */
  emptyXDomain?: [number, number];
  width?: number;
  height?: number;
}

/** The Vega-Lite spec of a scatter (or line) plot. */
export function scatterSpec(o: ScatterOptions): TopLevelSpec {
  const values = o.points.filter((p) => Number.isFinite(p[o.x] as number) && Number.isFinite(p[o.y] as number));
  const empty = values.length === 0;
  const encoding: Record<string, unknown> = {
    x: { field: o.x, type: 'quantitative', title: o.xLabel, scale: { zero: false, nice: true, padding: 10, ...(empty ? { domain: o.emptyXDomain ?? [0, 1] } : {}) }, axis: { tickCount: 8, ...(o.xFormat ? { format: o.xFormat } : {}) } },
    y: { field: o.y, type: 'quantitative', title: o.yLabel, scale: { zero: o.yZero ?? false, padding: 10, ...(empty ? { domain: [0, 1] } : {}) }, ...(o.yFormat ? { axis: { format: o.yFormat } } : {}) },
  };
  if (o.color) encoding.color = { field: o.color, type: 'nominal', title: o.colorLabel ?? o.color };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: o.subtitle ? { text: o.title, subtitle: o.subtitle } : o.title,
    width: o.width ?? 560,
    height: o.height ?? 320,
    config: BASE_CONFIG,
    data: { values },
    mark: o.line
      ? { type: 'line', strokeWidth: 2, point: { size: 50, filled: true } }
      : { type: 'point', filled: true, size: 70, opacity: 0.85 },
    encoding: o.line ? { ...encoding, order: { field: o.x, type: 'quantitative' } } : encoding,
  } as TopLevelSpec;
}

/** Renders a scatter/line plot and writes `<basePath>.svg` and `<basePath>.png`. */
export async function renderScatter(o: ScatterOptions, basePath: string): Promise<Figure> {
  return writeFigure(scatterSpec(o), basePath);
}

/**
 * `<out>/report.html`: a self-contained page (no scripts, no network; the figures are embedded as
 * data URIs) with the run's summary, its resolved config and its plots.
 */
import { redactSecrets } from '../util/redact.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { learningRateCurve } from './lr-curve.js';
import type { MetricsRow } from '../formats/metrics-csv.js';
import { readRunArtifacts, type RunArtifacts } from './run-folder.js';
import { confusionFigure } from './confusion-plot.js';
import { RUN_FIGURES, renderMetricsPlots, runInfoFromConfig, runPlotTitle, runTitle } from './plots.js';
import { writeFileAtomic } from '../util/atomic.js';
import { fixed, isFiniteNumber, noiseHalfWidth, percent } from '../util/format.js';

/** A figure to embed: its SVG text (preferred) or PNG bytes. */
export interface PageFigure {
  name: string;
  caption: string;
  svg?: string;
  png?: Uint8Array;
}

const CAPTIONS: Record<string, string> = {
  lr: 'Learning rate vs update step',
  loss: 'Training and validation loss and cost vs update step',
  accuracy: 'Training and validation accuracy vs update step',
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function int(v: unknown): string {
  return isFiniteNumber(v) ? Math.round(v).toLocaleString('en-US') : '—';
}

/** 75.3 → "1 min 15.3 s"; 4000 → "1 h 6 min 40 s". */
export function formatDuration(seconds: unknown): string {
  if (!isFiniteNumber(seconds)) return '—';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h} h ${m} min ${Math.round(s)} s` : `${m} min ${s.toFixed(1)} s`;
}

function statusClass(status: string | null): string {
  if (status === null) return 'incomplete';
  const s = status.toLowerCase();
  if (['completed', 'complete', 'done', 'ok', 'finished', 'success'].includes(s)) return 'ok';
  if (s === 'interrupted') return 'warn';
  return 'bad';
}

function lastWith(rows: MetricsRow[], key: keyof MetricsRow): MetricsRow | undefined {
  for (let i = rows.length - 1; i >= 0; i--) if (isFiniteNumber(rows[i][key])) return rows[i];
  return undefined;
}

/** A split's records from summary.json's `data` (read tolerantly: absent in files of earlier versions). */
function recordsOf(data: unknown, split: 'train' | 'val' | 'test'): number | undefined {
  const n = data !== null && typeof data === 'object' ? (data as Record<string, unknown>)[split] : undefined;
  return isFiniteNumber(n) && n > 0 ? n : undefined;
}

function dataText(data: unknown): string {
  const [train, val, test] = (['train', 'val', 'test'] as const).map((k) => recordsOf(data, k));
  return train === undefined ? '—' : `${int(train)} training, ${val === undefined ? '—' : int(val)} validation, ${test === undefined ? '—' : int(test)} test records`;
}

/** " ± 1.38" (points) for an accuracy measured on n records; nothing when either is unknown. */
function noiseText(accuracy: unknown, n: number | undefined): string {
  return isFiniteNumber(accuracy) && n ? ` <span class="noise">± ${(100 * noiseHalfWidth(accuracy, n)).toFixed(2)}</span>` : '';
}

function summarySection(run: RunArtifacts): string {
  const s = run.summary;
  const rows = run.metrics?.rows ?? [];
  const status = s ? (typeof s.status === 'string' ? s.status : 'unknown') : null;
  const kv: Array<[string, string]> = [
    ['status', `<span class="status ${statusClass(status)}">${escapeHtml(status ?? 'incomplete (no summary.json)')}</span>`],
  ];
  if (s) {
    kv.push(
      ['backend', escapeHtml(typeof s.backend === 'string' ? s.backend : '—')],
      ['seed', isFiniteNumber(s.seed) ? String(s.seed) : '—'],
      ['update steps', int(s.steps)],
      ['epochs', isFiniteNumber(s.epochs) ? String(Number(s.epochs.toFixed(3))) : '—'],
      ['data', dataText(s.data)],
      ['training time', formatDuration(s.seconds)],
      ['throughput', isFiniteNumber(s.samplesPerSecond) ? `${int(s.samplesPerSecond)} samples/s` : '—'],
    );
  } else {
    const last = rows[rows.length - 1];
    kv.push(
      ['evaluation points recorded', String(rows.length)],
      ['last recorded step', last ? int(last.step) : '—'],
      ['last recorded epoch', last && isFiniteNumber(last.epoch) ? String(Number(last.epoch.toFixed(3))) : '—'],
      ['elapsed at last point', last ? formatDuration(last.elapsed_s) : '—'],
    );
  }
  if (run.metrics && run.metrics.skipped > 0) {
    kv.push(['metrics.csv lines skipped', `${run.metrics.skipped} (incomplete or malformed)`]);
  }
  const kvHtml = kv.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${v}</td></tr>`).join('\n');

  let finalHtml: string;
  const f = s?.final;
  if (f && (f.train || f.val || f.test)) {
    const splits: Array<[string, 'train' | 'val' | 'test']> = [
      ['training', 'train'],
      ['validation', 'val'],
      ['test', 'test'],
    ];
    const body = splits
      .map(([label, k]) => {
        const m = f[k];
        return `<tr><th scope="row">${label}</th><td class="acc">${percent(m?.accuracy, '—')}${noiseText(m?.accuracy, k === 'train' ? undefined : recordsOf(s?.data, k))}</td><td>${fixed(m?.loss)}</td><td>${fixed(m?.cost)}</td></tr>`;
      })
      .join('\n');
    const noiseNote = recordsOf(s?.data, 'val') ? '<p class="note">± : the noise of an accuracy p on n records, 1.96·sqrt(p(1 − p)/n) (95%), in points.</p>' : '';
    finalHtml = `${noiseNote}<table class="final"><caption>Final metrics</caption><thead><tr><th></th><th>accuracy</th><th>loss</th><th>cost</th></tr></thead><tbody>\n${body}\n</tbody></table>`;
  } else {
    const lt = lastWith(rows, 'train_acc');
    const lv = lastWith(rows, 'val_acc');
    finalHtml =
      lt || lv
        ? `<table class="final"><caption>Last recorded metrics (no final evaluation)</caption><thead><tr><th></th><th>step</th><th>accuracy</th><th>loss</th><th>cost</th></tr></thead><tbody>
<tr><th scope="row">training</th><td>${lt ? int(lt.step) : '—'}</td><td class="acc">${percent(lt?.train_acc, '—')}</td><td>${fixed(lt?.train_loss)}</td><td>${fixed(lt?.train_cost)}</td></tr>
<tr><th scope="row">validation</th><td>${lv ? int(lv.step) : '—'}</td><td class="acc">${percent(lv?.val_acc, '—')}</td><td>${fixed(lv?.val_loss)}</td><td>${fixed(lv?.val_cost)}</td></tr>
</tbody></table>`
        : '<p class="note">No metrics recorded.</p>';
  }
  return `<section id="summary"><h2>Summary</h2><div class="cols"><table class="kv"><tbody>\n${kvHtml}\n</tbody></table>\n${finalHtml}</div></section>`;
}

function figuresSection(figures: PageFigure[], note?: string): string {
  const items = figures
    .map((f) => {
      const src = f.svg !== undefined
        ? `data:image/svg+xml;base64,${Buffer.from(f.svg, 'utf8').toString('base64')}`
        : `data:image/png;base64,${Buffer.from(f.png ?? new Uint8Array()).toString('base64')}`;
      return `<figure id="fig-${escapeHtml(f.name)}"><img class="plot" src="${src}" alt="${escapeHtml(f.caption)}"><figcaption>${escapeHtml(f.caption)} <span class="files">(<a href="${escapeHtml(f.name)}.svg">${escapeHtml(f.name)}.svg</a>, <a href="${escapeHtml(f.name)}.png">${escapeHtml(f.name)}.png</a>)</span></figcaption></figure>`;
    })
    .join('\n');
  return `<section id="plots"><h2>Plots</h2>${note ? `<p class="note">${escapeHtml(note)}</p>` : ''}\n${items}</section>`;
}

function configSection(run: RunArtifacts): string {
  const text = run.configYaml ?? (run.config ? toYaml(run.config) : null);
  return `<section id="config"><h2>Resolved configuration</h2>${
    text === null ? '<p class="note">No config.yaml and no config in summary.json.</p>' : `<pre>${escapeHtml(redactSecrets(text))}</pre>`
  }</section>`;
}

const CSS = `
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; margin: 2rem auto; max-width: 1000px; padding: 0 1rem; color: #222; line-height: 1.4; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; }
h2 { font-size: 1.15rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }
.sub { color: #555; margin-top: 0; }
.cols { display: flex; flex-wrap: wrap; gap: 2rem; align-items: flex-start; }
table { border-collapse: collapse; }
th, td { padding: .25rem .75rem; text-align: left; }
table.kv th { font-weight: normal; color: #555; }
table.final caption { text-align: left; font-weight: bold; padding-bottom: .3rem; }
table.final td, table.final thead th { text-align: right; }
table.final tbody tr:nth-child(odd) { background: #f6f6f6; }
td.acc { font-weight: bold; } .noise { color: #777; font-weight: normal; font-size: .85em; }
.status { padding: .1rem .5rem; border-radius: .3rem; font-weight: bold; }
.status.ok { background: #d8f0d8; color: #1a5e1a; }
.status.warn { background: #fdebc8; color: #7a4b00; }
.status.bad { background: #f8d2d2; color: #8a1010; }
.status.incomplete { background: #e4e4e4; color: #333; }
figure { margin: 1.5rem 0; }
img.plot { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9rem; }
.files { font-size: .8rem; }
pre { background: #f6f6f6; padding: .8rem; overflow-x: auto; font-size: .85rem; }
.note { color: #8a5a00; }
footer { margin-top: 2rem; color: #888; font-size: .8rem; }
`;

/** A self-contained page: no script, nothing loaded from elsewhere (images come as data URIs). */
export function htmlDocument(title: string, css: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${css}</style>
</head>
<body>
${body}</body>
</html>
`;
}

/** Builds the HTML of the report page from what was read of a run and its figures. Pure. */
export function renderReportHtml(run: RunArtifacts, figures: PageFigure[], generatedAt = new Date()): string {
  const info = runInfoFromConfig(run.config);
  const title = runTitle(info);
  const plotTitle = runPlotTitle(run);
  const noteForPlots = run.metrics === null ? 'No metrics.csv in this run directory: nothing to plot.' : plotTitle.subtitle;
  return htmlDocument(
    `Training report — ${title}`,
    CSS,
    `<header><h1>Training report: ${escapeHtml(info.name ?? 'run')}</h1><p class="sub">${escapeHtml(title)}</p></header>
${summarySection(run)}
${figuresSection(figures, noteForPlots)}
${configSection(run)}
<footer>Generated ${escapeHtml(generatedAt.toISOString())} from ${escapeHtml(run.outDir)}</footer>
`,
  );
}

export interface WriteReportOptions {
  /** Re-render the plots from metrics.csv (default true); when false, embed the lr/loss/accuracy .svg files already there. */
  renderPlots?: boolean;
}

/**
 * Writes `<outDir>/report.html` (atomically) and, by default, (re)renders the lr/loss/accuracy plots
 * beside it. Works for interrupted runs (no summary.json, partial metrics.csv) and even without
 * metrics.csv (the page then says so). Returns the page's path.
 */
export async function writeReportPage(outDir: string, options: WriteReportOptions = {}): Promise<string> {
  const run = await readRunArtifacts(outDir);
  const figures: PageFigure[] = [];
  if (run.metrics !== null && options.renderPlots !== false) {
    for (const f of await renderMetricsPlots(run.metrics.rows, runPlotTitle(run), outDir, learningRateCurve(run))) {
      figures.push({ name: f.name, caption: CAPTIONS[f.name] ?? f.name, svg: f.svg });
    }
  } else if (run.metrics !== null) {
    for (const name of RUN_FIGURES) {
      try {
        figures.push({ name, caption: CAPTIONS[name], svg: await readFile(join(outDir, `${name}.svg`), 'utf8') });
      } catch {
        // not rendered: leave it out
      }
    }
  }
  try {
    const split = 'test';
    figures.push({ name: confusionFigure(split), caption: `Confusion matrix on the ${split} split (cifar-mlp evaluate)`, svg: await readFile(join(outDir, `${confusionFigure(split)}.svg`), 'utf8') });
  } catch {
    // not evaluated yet
  }
  const path = join(outDir, 'report.html');
  writeFileAtomic(path, renderReportHtml(run, figures));
  return path;
}

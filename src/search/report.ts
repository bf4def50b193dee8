/**
 * The pictures and page of a search: `<out>/param-<path>.svg/png` per parameter, `overview`, `rungs` (with pruning),
 * `curves`, each trial's own plots and report page, and `<out>/report.html`, self-contained (no scripts, no network;
 * figures embedded as data URIs): status, the chosen trial (the only test accuracy of a search), the space, the
 * pruning budget, the ranking by validation accuracy, the trials without a result, the rung table, the plots and the
 * resolved config.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { readMetricsCsv } from '../formats/metrics-csv.js';
import { escapeHtml, formatDuration, htmlDocument, writeReportPage } from '../report/page.js';
import { writeFigure } from '../report/plots.js';
import { writeFileAtomic } from '../util/atomic.js';
import {
  curveGroup, curvesSpec, noiseHalfWidth, overviewData, overviewSpec, paramPlotData, paramSpec, rungHistory, rungsSpec, type CurvePoint,
} from './plots.js';
import { CURVES_FIGURE, OVERVIEW_FIGURE, paramFigureName, RUNGS_FIGURE } from './report-files.js';
import type { SearchSummary, TrialEntry } from '../formats/search-summary.js';
import { formatValue, shortName } from './space.js';
import { fixed, isFiniteNumber, percent } from '../util/format.js';

const dataUri = (svg: string) => `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;

function statusClass(s: string): string {
  return s === 'completed' ? 'ok' : s === 'interrupted' || s === 'running' || s === 'pending' || s === 'pruned' ? 'warn' : 'bad';
}

const valueCell = (s: SearchSummary, path: string, v: unknown) => (v === undefined ? '—' : escapeHtml(formatValue(s.space[path], v as number)));

/** The validation accuracy with its noise half-width, e.g. "52.30% ± 1.38". */
function accWithNoise(s: SearchSummary, v: number | null): string {
  if (!isFiniteNumber(v)) return '—';
  return s.valRecords ? `${percent(v, '—')} <span class="noise">± ${(100 * noiseHalfWidth(v, s.valRecords)).toFixed(2)}</span>` : percent(v, '—');
}

/** The link to a trial's own page (its folder when the page is not there). */
function trialLink(outDir: string, id: string): string {
  const page = existsSync(join(outDir, 'trials', id, 'report.html'));
  return `<a href="trials/${escapeHtml(id)}/${page ? 'report.html' : ''}">${escapeHtml(id)}</a>`;
}

function rankingTable(s: SearchSummary, outDir: string): string {
  if (s.ranking.length === 0) return '<p class="note">No completed trial.</p>';
  const head = s.params.map((p) => `<th title="${escapeHtml(p)}">${escapeHtml(shortName(p))}</th>`).join('');
  const body = s.ranking.map((r) => {
    const id = s.results.find((e) => e.trial === r.trial)?.id ?? String(r.trial);
    return `<tr${r.rank <= 3 ? ' class="top"' : ''}><td>${r.rank}</td><td>${trialLink(outDir, id)}</td>${s.params.map((p) => `<td>${valueCell(s, p, r.params[p])}</td>`).join('')}` +
      `<td class="acc">${accWithNoise(s, r.val_acc)}</td><td>${percent(r.train_acc, '—')}</td><td>${fixed(r.train_cost)}</td><td>${fixed(r.val_cost)}</td>` +
      `<td>${isFiniteNumber(r.steps) ? r.steps : '—'}</td><td>${formatDuration(r.seconds)}</td></tr>`;
  }).join('\n');
  return `<table class="grid"><thead><tr><th>rank</th><th>trial</th>${head}<th>val acc</th><th>train acc</th><th>train cost</th><th>val cost</th><th>steps</th><th>time</th></tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function otherTrials(s: SearchSummary, outDir: string): string {
  const others = s.results.filter((e) => e.status !== 'completed');
  if (others.length === 0) return '';
  const head = s.params.map((p) => `<th title="${escapeHtml(p)}">${escapeHtml(shortName(p))}</th>`).join('');
  const body = others.map((e: TrialEntry) =>
    `<tr><td>${e.row ? trialLink(outDir, e.id) : escapeHtml(e.id)}</td>${s.params.map((p) => `<td>${valueCell(s, p, e.params[p])}</td>`).join('')}` +
    `<td><span class="status ${statusClass(e.status)}">${escapeHtml(e.status)}</span></td>` +
    `<td>${e.row && isFiniteNumber(e.row.steps) ? e.row.steps : '—'}</td><td>${e.status === 'pruned' ? percent(e.row?.val_acc, '—') : '—'}</td>` +
    `<td>${escapeHtml(e.row?.reason ?? (e.status === 'pending' ? 'not run yet' : '—'))}</td></tr>`).join('\n');
  return `<section id="others"><h2>Trials without a final result</h2><table class="grid"><thead><tr><th>trial</th>${head}<th>status</th><th>steps</th><th>val acc then</th><th>reason</th></tr></thead><tbody>\n${body}\n</tbody></table></section>`;
}

function spaceTable(s: SearchSummary): string {
  const body = s.params.map((p) => {
    const sp = s.space[p];
    const range = sp.dist === 'choice' ? sp.values.map(String).join(', ') : `${formatValue(sp, sp.min)} .. ${formatValue(sp, sp.max)}`;
    const dist = sp.dist === 'int' && sp.log ? 'int (log)' : sp.dist;
    return `<tr><td><code>${escapeHtml(p)}</code></td><td>${escapeHtml(dist)}</td><td>${escapeHtml(range)}</td></tr>`;
  }).join('\n');
  return `<table class="grid plain"><thead><tr><th>field</th><th>distribution</th><th>range</th></tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function rungSection(s: SearchSummary): string {
  if (s.pruning.rule === 'none') return '';
  const { table } = rungHistory(s.rungs, s.results);
  const body = table.map((r) => `<tr><td>${isFiniteNumber(r.rung) ? r.rung : '—'}</td><td>${r.step}</td><td>${r.reported}</td><td>${r.continued}</td><td>${r.pruned}</td><td>${percent(r.cutoff, '—')}</td></tr>`).join('\n');
  const { stepsSpent, stepsWithoutPruning } = s.budget;
  return `<section id="rungs"><h2>Pruning</h2><p>ASHA: rungs at ${s.pruning.minSteps} × ${s.pruning.eta}^k update steps (${s.pruning.maxRungs} rung${s.pruning.maxRungs === 1 ? '' : 's'}); ` +
    `a trial continues past a rung when its validation accuracy there reaches the ${(100 * (1 - 1 / s.pruning.eta)).toFixed(0)}% quantile of the accuracies reported there so far` +
    (s.pruning.tolerance > 0 ? `, or falls short of it by at most ${s.pruning.tolerance} standard errors of its own accuracy (its noise)` : '') + '.</p>' +
    `<p>Budget: <b>${stepsSpent}</b> update steps spent, ${stepsWithoutPruning} for the same trials without pruning` +
    ` (<b>${stepsWithoutPruning > 0 ? ((100 * stepsSpent) / stepsWithoutPruning).toFixed(1) : '—'}%</b>).</p>` +
    (table.length ? `<table class="grid"><thead><tr><th>rung</th><th>step</th><th>reports</th><th>continued</th><th>pruned</th><th>last cutoff</th></tr></thead><tbody>\n${body}\n</tbody></table>` : '<p class="note">No trial reached a rung.</p>') +
    '</section>';
}

const CSS = `
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; line-height: 1.4; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }
.sub { color: #555; margin-top: 0; } table { border-collapse: collapse; } th, td { padding: .25rem .7rem; text-align: left; }
table.kv th { font-weight: normal; color: #555; } table.grid td { text-align: right; } table.grid.plain td { text-align: left; } table.grid tbody tr:nth-child(odd) { background: #f6f6f6; }
table.grid tr.top td { font-weight: bold; } td.acc { font-weight: bold; } .noise { color: #777; font-weight: normal; font-size: .85em; }
.status { padding: .1rem .5rem; border-radius: .3rem; font-weight: bold; }
.status.ok { background: #d8f0d8; color: #1a5e1a; } .status.warn { background: #fdebc8; color: #7a4b00; } .status.bad { background: #f8d2d2; color: #8a1010; }
.best { font-size: 1.1rem; background: #eef5fb; padding: .6rem 1rem; border-radius: .4rem; display: inline-block; }
figure { margin: 1.5rem 0; } img.plot { max-width: 100%; height: auto; border: 1px solid #eee; } figcaption { color: #555; font-size: .9rem; }
pre { background: #f6f6f6; padding: .8rem; overflow-x: auto; font-size: .85rem; } .note { color: #8a5a00; } footer { margin-top: 2rem; color: #888; font-size: .8rem; }
`;

export interface SearchFigure {
  name: string;
  caption: string;
  svg: string;
  href?: string;
}

/** The HTML of the search report. Pure (apart from looking up which trial pages exist). */
export function renderSearchHtml(s: SearchSummary, figures: SearchFigure[], outDir: string, generatedAt = new Date()): string {
  const c = s.counts;
  const kv: Array<[string, string]> = [
    ['status', `<span class="status ${statusClass(s.status)}">${escapeHtml(s.status)}</span>${s.note ? ` <span class="note">${escapeHtml(s.note)}</span>` : ''}`],
    ['trials', `${s.trials}: ${c.completed} completed, ${c.pruned} pruned, ${c.diverged} diverged, ${c.failed} failed, ${c.pending} not run`],
    ['sampler', `${escapeHtml(s.sampler)}, seed ${s.seed}; ranges from ${escapeHtml(s.spaceSource)}`],
    ['pruning', s.pruning.rule === 'none' ? 'none' : `${escapeHtml(s.pruning.rule)} (min ${s.pruning.minSteps} steps, eta ${s.pruning.eta}, ${s.pruning.maxRungs} rungs` +
      `${s.pruning.tolerance > 0 ? `, tolerance ${s.pruning.tolerance} standard errors` : ''})`],
    ['validation records', s.valRecords ? `${s.valRecords} (noise of an accuracy near 50%: ± ${(100 * noiseHalfWidth(0.5, s.valRecords)).toFixed(2)} points)` : '—'],
    ['workers', `${s.workers} at once, ${s.threadsPerTrial} kernel thread${s.threadsPerTrial === 1 ? '' : 's'} each`],
    ['backend', escapeHtml(s.backend ?? '—')],
    ['wall time (this session)', formatDuration(s.seconds)],
  ];
  const ch = s.chosen;
  const label = (p: Record<string, unknown>) => s.params.map((k) => `${escapeHtml(shortName(k))} = ${valueCell(s, k, p[k])}`).join(', ');
  const chosenHtml = ch
    ? `<p class="best">Chosen: trial ${trialLink(outDir, ch.id)} (${label(ch.params)}): validation ${accWithNoise(s, ch.valAccuracy)}, ` +
      `test ${ch.test ? `<b>${percent(ch.test.accuracy, '—')}</b>` : `— <span class="note">(${escapeHtml(ch.note ?? 'not measured')})</span>`}</p>` +
      '<p class="sub">The trials are ranked by validation accuracy only; the test split is measured once, for the chosen trial.</p>'
    : '<p class="note">No trial chosen: no trial completed' + (s.status === 'interrupted' ? ' yet' : '') + '.</p>';
  const figs = figures.map((f) => `<figure><img class="plot" src="${dataUri(f.svg)}" alt="${escapeHtml(f.caption)}"><figcaption>${escapeHtml(f.caption)}${f.href ? ` (<a href="${escapeHtml(f.href)}">${escapeHtml(f.href)}</a>)` : ''}</figcaption></figure>`).join('\n');
  return htmlDocument(
    `Search — ${s.name}`,
    CSS,
    `<header><h1>Search: ${escapeHtml(s.name)}</h1><p class="sub">${s.trials} trials over ${s.params.map((p) => escapeHtml(p)).join(', ')}, ranked by validation accuracy</p></header>
<section id="summary"><h2>Summary</h2>${chosenHtml}<table class="kv"><tbody>
${kv.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${v}</td></tr>`).join('\n')}
</tbody></table></section>
<section id="space"><h2>Search space</h2>${spaceTable(s)}</section>
<section id="ranking"><h2>Ranking (completed trials, by validation accuracy)</h2>${rankingTable(s, outDir)}</section>
${otherTrials(s, outDir)}
${rungSection(s)}
<section id="plots"><h2>Plots</h2>${figs || '<p class="note">No plot.</p>'}</section>
<section id="config"><h2>Resolved configuration</h2><pre>${escapeHtml(toYaml(s.config))}</pre></section>
<footer>Generated ${escapeHtml(generatedAt.toISOString())} from ${escapeHtml(outDir)}</footer>
`,
  );
}

/** Every trial's validation curve from its metrics.csv. */
async function curvePoints(outDir: string, s: SearchSummary): Promise<CurvePoint[]> {
  const points: CurvePoint[] = [];
  for (const e of s.results) {
    const file = join(outDir, 'trials', e.id, 'metrics.csv');
    if (!e.row || !existsSync(file)) continue;
    const group = curveGroup(s, e.trial);
    for (const r of (await readMetricsCsv(file)).rows) {
      if (r.val_acc !== null && Number.isFinite(r.val_acc)) points.push({ trial: e.id, step: r.step, acc: r.val_acc, group });
    }
  }
  return points;
}

/** Writes the search's figures, every trial's own plots and page, and `<out>/report.html`. Returns the page's path. */
export async function writeSearchReport(outDir: string, s: SearchSummary, opts: { trialPages?: boolean } = {}): Promise<string> {
  const figures: SearchFigure[] = [];
  const add = async (name: string, spec: Parameters<typeof writeFigure>[0], caption: string) => {
    const fig = await writeFigure(spec, join(outDir, name));
    figures.push({ name, caption, svg: fig.svg, href: `${name}.png` });
  };
  const hasResults = s.results.some((e) => e.row && e.row.val_acc !== null);
  if (hasResults) {
    for (const path of s.params) {
      await add(paramFigureName(path), paramSpec(s, paramPlotData(s, path)), `Validation accuracy against ${path}, over the searched range`);
    }
    // With one searched parameter the accuracy-against-parameter figure says it all.
    if (s.params.length >= 2) await add(OVERVIEW_FIGURE, overviewSpec(s, overviewData(s)), 'Every trial across every parameter (parallel coordinates)');
  }
  if (s.pruning.rule !== 'none' && s.rungs.length > 0) await add(RUNGS_FIGURE, rungsSpec(s, rungHistory(s.rungs, s.results)), 'Rung history: validation accuracy at each rung, where trials were pruned');
  const curves = await curvePoints(outDir, s);
  if (curves.length) await add(CURVES_FIGURE, curvesSpec(s, curves), 'Validation accuracy of every trial against the update step');
  if (opts.trialPages !== false) {
    for (const e of s.results) {
      const dir = join(outDir, 'trials', e.id);
      if (existsSync(join(dir, 'metrics.csv'))) await writeReportPage(dir);
    }
  }
  const path = join(outDir, 'report.html');
  writeFileAtomic(path, renderSearchHtml(s, figures, outDir));
  return path;
}

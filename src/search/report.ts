/**
 * The pictures and page of a search: `<out>/lambda.svg/png` (validation accuracy against log10 lambda)
 * and `<out>/report.html`, self-contained (no scripts, no network; figures embedded as data URIs):
 * status, best lambda, the ranking, the trials that did not complete with their reasons, the plot, the
 * best trial's curves (rendered into its folder with its own report page) and the resolved config.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { escapeHtml, formatDuration, htmlDocument, writeReportPage } from '../report/page.js';
import { renderScatter } from '../report/plots.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { SearchSummary, TrialEntry } from './search.js';

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const pct = (v: unknown) => (isNum(v) ? `${(100 * v).toFixed(2)}%` : '—');
const fixed = (v: unknown, d = 4) => (isNum(v) ? v.toFixed(d) : '—');
const sci = (v: unknown) => (isNum(v) ? v.toExponential(3) : '—');

/** Points of the lambda plot: completed trials, the best three marked. */
export function lambdaPoints(s: SearchSummary): Array<{ l: number; val_acc: number; trials: string }> {
  const top = new Set(s.best.map((b) => b.trial));
  return s.ranking.map((r) => ({ l: r.l, val_acc: r.val_acc!, trials: top.has(r.trial) ? 'best three' : 'other' }));
}

export async function renderLambdaPlot(outDir: string, s: SearchSummary): Promise<string> {
  const fig = await renderScatter(
    {
      x: 'l', y: 'val_acc', points: lambdaPoints(s),
      title: `${s.name}: validation accuracy vs log10(λ)`,
      subtitle: `${s.counts.completed} completed of ${s.trials} trials · l in [${s.range.lMin}, ${s.range.lMax}]` +
        (s.bestL !== null ? ` · best λ = 10^${s.bestL.toFixed(3)}` : '') + (s.status !== 'completed' ? ` · search ${s.status}` : ''),
      xLabel: 'l = log10(λ)', yLabel: 'validation accuracy', yFormat: '.1%',
      color: 'trials', colorLabel: 'trials',
      emptyXDomain: s.range.lMin < s.range.lMax ? [s.range.lMin, s.range.lMax] : undefined,
    },
    join(outDir, 'lambda'),
  );
  return fig.svg;
}

const dataUri = (svg: string) => `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;

function statusClass(s: string): string {
  return s === 'completed' ? 'ok' : s === 'interrupted' || s === 'running' || s === 'pending' ? 'warn' : 'bad';
}

function rankingTable(s: SearchSummary): string {
  if (s.ranking.length === 0) return '<p class="note">No completed trial.</p>';
  const body = s.ranking.map((r) => {
    const id = s.results.find((e) => e.trial === r.trial)?.id ?? String(r.trial);
    return `<tr${r.rank <= 3 ? ' class="top"' : ''}><td>${r.rank}</td><td><a href="trials/${escapeHtml(id)}/">${escapeHtml(id)}</a></td><td>${fixed(r.l, 4)}</td><td>${sci(r.lambda)}</td>` +
      `<td class="acc">${pct(r.val_acc)}</td><td>${pct(r.test_acc)}</td><td>${pct(r.train_acc)}</td><td>${fixed(r.train_cost)}</td><td>${fixed(r.val_cost)}</td>` +
      `<td>${isNum(r.steps) ? r.steps : '—'}</td><td>${formatDuration(r.seconds)}</td></tr>`;
  }).join('\n');
  return `<table class="grid"><thead><tr><th>rank</th><th>trial</th><th>l</th><th>λ</th><th>val acc</th><th>test acc</th><th>train acc</th><th>train cost</th><th>val cost</th><th>steps</th><th>time</th></tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function otherTrials(s: SearchSummary): string {
  const others = s.results.filter((e) => e.status !== 'completed');
  if (others.length === 0) return '';
  const body = others.map((e: TrialEntry) =>
    `<tr><td>${escapeHtml(e.id)}</td><td>${fixed(e.l, 4)}</td><td>${sci(e.lambda)}</td><td><span class="status ${statusClass(e.status)}">${escapeHtml(e.status)}</span></td>` +
    `<td>${e.row && isNum(e.row.steps) ? e.row.steps : '—'}</td><td>${escapeHtml(e.row?.reason ?? (e.status === 'pending' ? 'not run yet' : '—'))}</td></tr>`).join('\n');
  return `<section id="others"><h2>Trials without a result</h2><table class="grid"><thead><tr><th>trial</th><th>l</th><th>λ</th><th>status</th><th>steps</th><th>reason</th></tr></thead><tbody>\n${body}\n</tbody></table></section>`;
}

const CSS = `
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; line-height: 1.4; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }
.sub { color: #555; margin-top: 0; } table { border-collapse: collapse; } th, td { padding: .25rem .7rem; text-align: left; }
table.kv th { font-weight: normal; color: #555; } table.grid td { text-align: right; } table.grid tbody tr:nth-child(odd) { background: #f6f6f6; }
table.grid tr.top td { font-weight: bold; } td.acc { font-weight: bold; }
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

/** The HTML of the search report. Pure. */
export function renderSearchHtml(s: SearchSummary, figures: SearchFigure[], outDir: string, generatedAt = new Date()): string {
  const kv: Array<[string, string]> = [
    ['status', `<span class="status ${statusClass(s.status)}">${escapeHtml(s.status)}</span>${s.note ? ` <span class="note">${escapeHtml(s.note)}</span>` : ''}`],
    ['trials', `${s.trials}: ${s.counts.completed} completed, ${s.counts.diverged} diverged, ${s.counts.failed} failed, ${s.counts.pending} not run`],
    ['range of l', `[${s.range.lMin}, ${s.range.lMax}] (${escapeHtml(s.range.source)}), ${escapeHtml(s.sampling)} sampling, seed ${s.seed}`],
    ['workers', `${s.workers} at once, ${s.threadsPerTrial} kernel thread${s.threadsPerTrial === 1 ? '' : 's'} each`],
    ['backend', escapeHtml(s.backend ?? '—')],
    ['wall time (this session)', formatDuration(s.seconds)],
  ];
  const best = s.best[0];
  const bestHtml = best
    ? `<p class="best">Best λ = ${sci(best.lambda)} = 10^${best.l.toFixed(4)}: validation ${pct(best.val_acc)}, test ${pct(best.test_acc)}</p>`
    : '<p class="note">No best lambda: no trial completed.</p>';
  const figs = figures.map((f) => `<figure><img class="plot" src="${dataUri(f.svg)}" alt="${escapeHtml(f.caption)}"><figcaption>${escapeHtml(f.caption)}${f.href ? ` (<a href="${escapeHtml(f.href)}">${escapeHtml(f.href)}</a>)` : ''}</figcaption></figure>`).join('\n');
  return htmlDocument(
    `Lambda search — ${s.name}`,
    CSS,
    `<header><h1>Lambda search: ${escapeHtml(s.name)}</h1><p class="sub">${s.trials} trials of l = log10(λ) in [${s.range.lMin}, ${s.range.lMax}], ranked by validation accuracy</p></header>
<section id="summary"><h2>Summary</h2>${bestHtml}<table class="kv"><tbody>
${kv.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${v}</td></tr>`).join('\n')}
</tbody></table></section>
<section id="ranking"><h2>Ranking</h2>${rankingTable(s)}</section>
${otherTrials(s)}
<section id="plots"><h2>Plots</h2>${figs || '<p class="note">No plot.</p>'}</section>
<section id="config"><h2>Resolved configuration</h2><pre>${escapeHtml(toYaml(s.config))}</pre></section>
<footer>Generated ${escapeHtml(generatedAt.toISOString())} from ${escapeHtml(outDir)}</footer>
`,
  );
}

/** Writes lambda.svg/png, the best trial's plots and report page, and `<out>/report.html`. Returns the page's path. */
export async function writeSearchReport(outDir: string, s: SearchSummary): Promise<string> {
  const figures: SearchFigure[] = [];
  if (s.ranking.length > 0) figures.push({ name: 'lambda', caption: 'Validation accuracy of every completed trial against l = log10(λ)', svg: await renderLambdaPlot(outDir, s), href: 'lambda.png' });
  const best = s.best[0];
  if (best) {
    const id = s.results.find((e) => e.trial === best.trial)?.id;
    const dir = id ? join(outDir, 'trials', id) : null;
    if (dir && existsSync(join(dir, 'metrics.csv'))) {
      await writeReportPage(dir);
      for (const [name, caption] of [['accuracy', 'Best trial: training and validation accuracy vs update step'], ['loss', 'Best trial: loss and cost vs update step']] as const) {
        const file = join(dir, `${name}.svg`);
        if (existsSync(file)) figures.push({ name, caption, svg: readFileSync(file, 'utf8'), href: `trials/${id}/report.html` });
      }
    }
  }
  const path = join(outDir, 'report.html');
  writeFileAtomic(path, renderSearchHtml(s, figures, outDir));
  return path;
}

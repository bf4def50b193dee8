/**
 * A search: the trial table (live: queued, running with its step and latest validation accuracy, pruned at which
 * rung, completed, diverged, failed), the optimisation history, each parameter against validation accuracy with
 * noise bars, parallel coordinates, parameter importance, the ASHA rung view, and for queue searches the workers.
 */
import type { DashboardEvent, RungDecisionRow, SearchDetail, TrialState, WorkerState } from '../api-types.js';
import { canvasFigure, drawParallel, drawScatter, type CanvasFrame } from './charts.js';
import { clear, coalesced, duration, h, int, num, pct } from './dom.js';
import { progressText, statusBadge } from './runs-view.js';
import type { DataSource } from './source.js';
import { VirtualTable, type Column } from './table.js';
import type { View } from './view.js';

const STATUSES = ['queued', 'running', 'completed', 'pruned', 'diverged', 'failed'] as const;
const isLog = (spec: unknown) => {
  const s = spec as { dist?: string; log?: boolean } | undefined;
  return s?.dist === 'log-uniform' || s?.log === true;
};
const shortName = (p: string) => p.replace(/^base\./, '');

/** Ranks of values (ties share their mean rank). */
function ranks(v: number[]): number[] {
  const order = v.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(v.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    for (let k = i; k <= j; k++) r[order[k][1]] = (i + j) / 2;
    i = j + 1;
  }
  return r;
}

function correlation(a: number[], b: number[]): number {
  const n = a.length;
  const ma = a.reduce((s, x) => s + x, 0) / n, mb = b.reduce((s, x) => s + x, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

/** How much each parameter tells about validation accuracy: |Spearman ρ| for numbers, the correlation ratio η for choices. */
export function importance(trials: TrialState[], params: string[]): { param: string; value: number; how: string }[] {
  const done = trials.filter((t) => t.status === 'completed' && t.valAcc !== null);
  if (done.length < 3) return [];
  const acc = done.map((t) => t.valAcc as number);
  return params.map((p) => {
    const vals = done.map((t) => t.params[p]);
    if (vals.every((v) => typeof v === 'number')) return { param: p, value: Math.abs(correlation(ranks(vals as number[]), ranks(acc))), how: '|Spearman ρ|' };
    const mean = acc.reduce((s, x) => s + x, 0) / acc.length;
    const groups = new Map<string, number[]>();
    vals.forEach((v, i) => groups.set(String(v), [...(groups.get(String(v)) ?? []), acc[i]]));
    let between = 0;
    for (const g of groups.values()) between += g.length * ((g.reduce((s, x) => s + x, 0) / g.length) - mean) ** 2;
    const total = acc.reduce((s, x) => s + (x - mean) ** 2, 0);
    return { param: p, value: total > 0 ? Math.sqrt(between / total) : 0, how: 'correlation ratio η' };
  }).sort((a, b) => b.value - a.value);
}

export function searchView(source: DataSource, folder: string, go: (hash: string) => void): View {
  const el = h('section', { class: 'view search' }, h('p', null, 'loading…'));
  let d: SearchDetail | null = null;
  const trials = new Map<number, TrialState>();
  let rungs: RungDecisionRow[] = [];
  let table: VirtualTable<TrialState> | null = null;
  const parts: Record<string, HTMLElement> = {};
  const frames: Record<string, CanvasFrame> = {};
  let figuresDue = false;
  let lastFigures = 0;
  /** How long the figures took to draw last time: they are redrawn at most every 4 times that (at least 300 ms). */
  let figuresCost = 0;

  const trialFolder = (t: TrialState) => `${folder === '.' ? '' : `${folder}/`}trials/${t.id}`;

  const counts = () => {
    const c = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<string, number>;
    for (const t of trials.values()) c[t.status]++;
    return c;
  };

  const paintHeader = coalesced(() => {
    const c = counts();
    clear(parts.status);
    if (d) parts.status.append(statusBadge(d.row.status), ' ', h('span', { class: 'note' }, `${progressText(d.row)} trials with a result`));
    clear(parts.counts);
    for (const s of STATUSES) parts.counts.append(h('span', { class: 'chip', attrs: { 'data-count': s } }, statusBadge(s), ` ${c[s]}`));
    clear(parts.chosen);
    if (d?.chosen) parts.chosen.append(`chosen trial ${d.chosen.trial}: val ${pct(d.chosen.valAcc)}, test ${pct(d.chosen.testAcc)}`);
    else parts.chosen.append(`best val so far ${pct(d?.row.bestVal)}`);
  });

  const paintWorkers = (workers: WorkerState[] | null) => {
    clear(parts.workers);
    parts.workers.hidden = workers === null;
    if (workers === null) return;
    parts.workers.append(h('h3', null, 'Workers'));
    if (!workers.length) return void parts.workers.append(h('p', { class: 'note' }, 'no trial running on a worker'));
    parts.workers.append(h('table', { class: 'grid workers' },
      h('thead', null, h('tr', null, ...['worker', 'trial', 'steps done', 'last sign of life', ''].map((x) => h('th', null, x)))),
      h('tbody', null, ...workers.map((w) => h('tr', { class: w.silent ? 'silent' : '', attrs: { 'data-worker': w.worker, 'data-trial': String(w.trial) } },
        h('td', null, w.worker), h('td', { class: 'num' }, String(w.trial)), h('td', { class: 'num' }, int(w.stepsDone)),
        h('td', { class: 'num' }, `${(w.silentMs / 1000).toFixed(1)} s ago`),
        h('td', null, w.silent ? h('span', { class: 'badge status-failed flag-silent' }, 'silent: will be requeued') : h('span', { class: 'badge status-completed' }, 'alive')))))));
  };

  const paintFigures = () => {
    if (!d) return;
    figuresDue = false;
    lastFigures = performance.now();
    drawFigures();
    figuresCost = performance.now() - lastFigures;
  };

  const drawFigures = () => {
    if (!d) return;
    const all = [...trials.values()];
    const finished = all.filter((t) => t.status === 'completed' && t.valAcc !== null).sort((a, b) => a.trial - b.trial);
    const n = d.valRecords;
    const bar = (p: number) => (n ? 1.96 * Math.sqrt((p * (1 - p)) / n) : 0);
    let best = -Infinity;
    const line = finished.map((t) => ({ x: t.trial, y: (best = Math.max(best, t.valAcc as number)) }));
    drawScatter(frames.history, finished.map((t) => ({ x: t.trial, y: t.valAcc as number })), { xLabel: 'trial', yLabel: 'val acc', percentY: true, line });
    for (const p of d.params) {
      const pts = finished.filter((t) => typeof t.params[p] === 'number').map((t) => ({ x: t.params[p] as number, y: t.valAcc as number, lo: (t.valAcc as number) - bar(t.valAcc as number), hi: (t.valAcc as number) + bar(t.valAcc as number) }));
      drawScatter(frames[`param:${p}`], pts, { logX: isLog(d.space[p]), xLabel: shortName(p), yLabel: 'val acc', percentY: true });
    }
    const numeric = d.params.filter((p) => finished.every((t) => typeof t.params[p] === 'number'));
    drawParallel(frames.parallel, [...numeric.map((p) => ({ label: shortName(p), log: isLog(d!.space[p]) })), { label: 'val acc' }], finished.map((t) => [...numeric.map((p) => t.params[p] as number), t.valAcc as number]));
    clear(parts.importance);
    const imp = importance(all, d.params);
    if (!imp.length) parts.importance.append(h('p', { class: 'note' }, 'needs three completed trials'));
    for (const i of imp) parts.importance.append(h('div', { class: 'bar-row' }, h('span', { class: 'bar-label' }, shortName(i.param)), h('span', { class: 'bar', style: { width: `${(i.value * 100).toFixed(1)}%` } }), h('span', { class: 'note' }, `${i.value.toFixed(2)} (${i.how})`)));
    paintRungs();
  };

  const paintRungs = () => {
    clear(parts.rungs);
    if (!rungs.length) return void parts.rungs.append(h('p', { class: 'note' }, 'no rung decisions (yet, or no pruning)'));
    const byRung = new Map<number, RungDecisionRow[]>();
    for (const r of rungs) byRung.set(r.rung, [...(byRung.get(r.rung) ?? []), r]);
    const f = frames.rungs;
    const { ctx, w, h: hgt } = f;
    ctx.clearRect(0, 0, w, hgt);
    const accs = rungs.map((r) => r.valAcc).concat(rungs.map((r) => r.cutoff ?? r.valAcc));
    const lo = Math.min(...accs), hi = Math.max(...accs) + 1e-9;
    const levels = [...byRung.keys()].sort((a, b) => a - b);
    const col = (w - 60) / Math.max(1, levels.length);
    const py = (v: number) => 10 + (1 - (v - lo) / (hi - lo)) * (hgt - 40);
    ctx.font = '11px sans-serif';
    levels.forEach((level, i) => {
      const x0 = 50 + i * col;
      for (const r of byRung.get(level)!) {
        ctx.fillStyle = r.decision === 'prune' ? '#d62728' : '#2ca02c';
        ctx.beginPath();
        ctx.arc(x0 + 10 + ((r.trial * 37) % 100) / 100 * (col - 20), py(r.valAcc), 3, 0, 2 * Math.PI);
        ctx.fill();
      }
      const cutoff = byRung.get(level)!.at(-1)!.cutoff;
      if (cutoff !== null) {
        ctx.strokeStyle = '#333';
        ctx.beginPath();
        ctx.moveTo(x0, py(cutoff));
        ctx.lineTo(x0 + col - 4, py(cutoff));
        ctx.stroke();
      }
      ctx.fillStyle = '#333';
      ctx.fillText(`rung ${level} (step ${byRung.get(level)![0].step})`, x0 + 4, hgt - 8);
    });
    ctx.fillText(`${(hi * 100).toFixed(1)}%`, 2, 14);
    ctx.fillText(`${(lo * 100).toFixed(1)}%`, 2, hgt - 30);
    parts.rungs.append(h('table', { class: 'grid rung-table' },
      h('thead', null, h('tr', null, ...['rung', 'step', 'reported', 'continued', 'pruned', 'cutoff now'].map((x) => h('th', null, x)))),
      h('tbody', null, ...levels.map((level) => {
        const rs = byRung.get(level)!;
        return h('tr', { attrs: { 'data-rung': String(level) } }, h('td', null, String(level)), h('td', { class: 'num' }, int(rs[0].step)), h('td', { class: 'num' }, String(rs.length)),
          h('td', { class: 'num' }, String(rs.filter((r) => r.decision === 'continue').length)), h('td', { class: 'num' }, String(rs.filter((r) => r.decision === 'prune').length)), h('td', { class: 'num' }, pct(rs.at(-1)!.cutoff)));
      }))));
    const pruned = rungs.filter((r) => r.decision === 'prune').slice(-20).reverse();
    if (pruned.length) parts.rungs.append(h('h4', null, 'pruned, latest first'), h('ol', { class: 'pruned-list' }, ...pruned.map((r) => h('li', null, `trial ${r.trial} at rung ${r.rung} (step ${int(r.step)}): val ${pct(r.valAcc)} below cutoff ${pct(r.cutoff)}`))));
  };

  const figuresSoon = () => {
    if (figuresDue) return;
    figuresDue = true;
    setTimeout(() => requestAnimationFrame(paintFigures), Math.max(0, Math.max(300, 4 * figuresCost) - (performance.now() - lastFigures)));
  };

  const render = (detail: SearchDetail) => {
    d = detail;
    trials.clear();
    for (const t of detail.trials) trials.set(t.trial, t);
    rungs = detail.rungs;
    clear(el);
    const paramColumns: Column<TrialState>[] = detail.params.map((p) => ({ key: `p:${p}`, label: shortName(p), numeric: true, width: '110px', value: (t) => (typeof t.params[p] === 'number' ? (t.params[p] as number) : String(t.params[p] ?? '')), render: (t) => (typeof t.params[p] === 'number' ? num(t.params[p] as number) : String(t.params[p] ?? '—')) }));
    table = new VirtualTable<TrialState>([
      { key: 'trial', label: 'trial', width: '60px', numeric: true, value: (t) => t.trial, render: (t) => t.id },
      { key: 'status', label: 'status', width: '190px', value: (t) => t.status, render: (t) => h('span', null, statusBadge(t.status), t.status === 'pruned' && t.rung !== null ? ` at rung ${t.rung}` : '') },
      { key: 'step', label: 'step', width: '120px', numeric: true, value: (t) => t.step, render: progressText },
      { key: 'valAcc', label: 'val acc', width: '90px', numeric: true, value: (t) => t.valAcc, render: (t) => pct(t.valAcc) },
      { key: 'rung', label: 'rung', width: '60px', numeric: true, value: (t) => t.rung },
      ...paramColumns,
      { key: 'worker', label: 'worker', width: '1fr', value: (t) => t.worker },
      { key: 'seconds', label: 'time', width: '100px', numeric: true, value: (t) => t.seconds, render: (t) => duration(t.seconds) },
    ], {
      rowKey: (t) => String(t.trial),
      text: (t) => `${t.id} ${t.status} ${t.worker ?? ''}`,
      rowClass: (t) => `trial-${t.status}`,
      onOpen: (t) => (t.status === 'queued' ? undefined : go(`#/run/${encodeURIComponent(trialFolder(t))}`)),
      height: '45vh',
      sort: { key: 'trial', desc: false },
    });
    table.setRows(detail.trials);
    parts.counts = h('div', { class: 'row counts' });
    parts.status = h('span');
    parts.chosen = h('p', { class: 'chosen' });
    parts.workers = h('section', { class: 'panel workers-panel' });
    parts.importance = h('div', { class: 'importance' });
    parts.rungs = h('div', { class: 'rungs' });
    const fig = (key: string, caption: string, w?: number, hgt?: number) => {
      const { el: figure, frame } = canvasFigure(caption, w, hgt);
      frames[key] = frame;
      figure.setAttribute('data-figure', key);
      return figure;
    };
    const rungFigure = fig('rungs', 'Rungs: each trial\'s validation accuracy at each rung (green continued, red pruned), line: the cutoff', 640, 260);
    el.append(
      h('h2', null, detail.row.name, ' ', parts.status),
      parts.counts, parts.chosen,
      parts.workers,
      h('section', { class: 'panel' }, h('h3', null, 'Trials'), table.el),
      h('section', { class: 'panel' }, h('h3', null, 'ASHA rungs (live)'), h('div', { class: 'row' }, rungFigure, parts.rungs)),
      h('section', { class: 'panel' }, h('h3', null, 'Optimisation'), h('div', { class: 'charts' },
        fig('history', 'Optimisation history: validation accuracy by trial, line: best so far'),
        ...detail.params.map((p) => fig(`param:${p}`, `${shortName(p)} against validation accuracy (bars: ±1.96 standard errors of ${detail.valRecords ?? '?'} validation records)`)),
        fig('parallel', 'Parallel coordinates (colour: validation accuracy)', 640, 260),
        h('figure', { class: 'chart' }, h('figcaption', null, 'Parameter importance'), parts.importance))),
    );
    paintHeader();
    paintWorkers(detail.workers);
    // The table first; the figures (10,000 points and lines for a large search) right after it has been painted.
    figuresDue = true;
    requestAnimationFrame(() => setTimeout(() => {
      paintFigures();
      window.__dashboard = { ...(window.__dashboard ?? { paintedAt: NaN, viewMs: NaN, view: location.hash }), figuresAt: performance.now() };
    }, 0));
  };

  const ready = source.search(folder).then(render).catch((e: Error) => { clear(el); el.append(h('p', { class: 'error' }, e.message)); });

  return {
    el,
    ready,
    mounted: () => table?.schedule(),
    onEvent: (e: DashboardEvent) => {
      if (!d || e.folder !== folder) return;
      if (e.type === 'trial') {
        const was = trials.get(e.trial.trial)?.status;
        trials.set(e.trial.trial, e.trial);
        table!.upsert(e.trial);
        paintHeader();
        if (was !== e.trial.status) figuresSoon();
      } else if (e.type === 'rung') {
        rungs = [...rungs, e.rung];
        figuresSoon();
      } else if (e.type === 'workers') {
        d.workers = e.workers;
        paintWorkers(e.workers);
      } else if (e.type === 'status' || e.type === 'run') {
        const ended = e.row.status !== d.row.status;
        d.row = e.row;
        paintHeader();
        // The chosen trial and its test accuracy come with the end of the search: asked for then only.
        if (ended) void source.search(folder).then((fresh) => {
          d!.chosen = fresh.chosen;
          paintHeader();
        });
      }
    },
  };
}


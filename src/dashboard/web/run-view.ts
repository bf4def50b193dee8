/** A run: learning rate, loss and cost, accuracy, growing live; its summary and resolved config; evaluation once there. */
import type { DashboardEvent, MetricsPoint, RunDetail } from '../api-types.js';
import { CurveChart } from './charts.js';
import { clear, duration, h, int, num, pct } from './dom.js';
import { statusBadge } from './runs-view.js';
import type { DataSource } from './source.js';
import type { View } from './view.js';

type Split = 'train' | 'val' | 'test';

function keyValues(rows: [string, Node | string][]): HTMLElement {
  return h('table', { class: 'kv' }, h('tbody', null, ...rows.map(([k, v]) => h('tr', null, h('th', null, k), h('td', null, v)))));
}

function summaryTable(d: RunDetail): HTMLElement {
  const s = (d.summary ?? {}) as Record<string, unknown>;
  const final = (s.final ?? null) as Record<Split, { loss: number | null; cost: number | null; accuracy: number | null } | null> | null;
  const rows: [string, Node | string][] = [
    ['status', statusBadge(d.row.status)],
    ['folder', d.row.folder],
    ['backend', d.row.backend ?? '—'],
    ['steps', `${int(d.row.step)} / ${int(d.row.totalSteps)}`],
    ['wall time', duration(d.row.seconds)],
    ['samples/s', int(s.samplesPerSecond as number)],
    ['best val acc', pct(d.row.bestVal)],
  ];
  for (const split of ['train', 'val', 'test'] as const) {
    const m = final?.[split];
    if (m) rows.push([`final ${split}`, `accuracy ${pct(m.accuracy)}, loss ${num(m.loss)}, cost ${num(m.cost)}`]);
  }
  if (typeof s.error === 'string') rows.push(['error', s.error]);
  return keyValues(rows);
}

function evaluationSection(d: RunDetail): HTMLElement | null {
  const ev = d.evaluation;
  if (!ev) return null;
  const splits = Object.entries(ev.splits);
  const perClass = h('table', { class: 'grid' },
    h('thead', null, h('tr', null, h('th', null, 'class'), ...splits.map(([s]) => h('th', null, `${s} accuracy`)))),
    h('tbody', null, ...ev.classes.map((c) => h('tr', null, h('th', null, c), ...splits.map(([, r]) => h('td', { class: 'num' }, pct(r.perClass[c]?.accuracy)))))));
  const [name, shown] = splits.find(([s]) => s === 'test') ?? splits[0];
  const max = Math.max(1, ...shown.confusion.flat());
  const confusion = h('table', { class: 'confusion', attrs: { 'aria-label': `confusion matrix of ${name}` } },
    h('thead', null, h('tr', null, h('th', null, 'true \\ predicted'), ...ev.classes.map((c) => h('th', null, c)))),
    h('tbody', null, ...shown.confusion.map((row, i) => h('tr', null, h('th', null, ev.classes[i] ?? String(i)),
      ...row.map((v) => h('td', { class: 'num', style: { background: `rgba(31, 119, 180, ${(v / max).toFixed(3)})`, color: v / max > 0.5 ? '#fff' : '#000' } }, int(v)))))));
  return h('section', { class: 'panel' }, h('h3', null, 'Evaluation'), h('div', { class: 'row' }, perClass, h('div', null, h('h4', null, `confusion matrix (${name})`), confusion)));
}

export function runView(source: DataSource, folder: string): View {
  const el = h('section', { class: 'view run' }, h('p', null, 'loading…'));
  let charts: { lr: CurveChart; loss: CurveChart; acc: CurveChart } | null = null;
  let idx: Record<string, number> = {};
  let summaryBox: HTMLElement | null = null;
  const pending: MetricsPoint[] = [];

  const latest = h('p', { class: 'latest', attrs: { 'aria-live': 'polite' } });
  const add = (p: MetricsPoint) => {
    const x = p[idx.step] as number;
    showLatest(p);
    charts!.lr.append(x, [p[idx.eta]]);
    charts!.loss.append(x, [p[idx.train_loss], p[idx.val_loss], p[idx.train_cost], p[idx.val_cost]]);
    charts!.acc.append(x, [p[idx.train_acc], p[idx.val_acc]]);
  };

  const showLatest = (p: MetricsPoint | undefined) => {
    latest.textContent = p ? `latest: step ${int(p[idx.step])}, val acc ${pct(p[idx.val_acc])}, train acc ${pct(p[idx.train_acc])}, val loss ${num(p[idx.val_loss])}` : 'no metrics rows yet';
    if (p) latest.setAttribute('data-step', String(p[idx.step]));
  };

  const render = (d: RunDetail) => {
    idx = Object.fromEntries(d.columns.map((c, i) => [c, i]));
    clear(el);
    const col = (c: string) => d.metrics.map((p) => p[idx[c]]);
    const x = col('step');
    charts = {
      lr: new CurveChart('Learning rate', [{ label: 'eta', color: '#9467bd' }]),
      loss: new CurveChart('Loss and cost', [
        { label: 'train loss', color: '#1f77b4' }, { label: 'val loss', color: '#d62728' },
        { label: 'train cost', color: '#1f77b4', dash: [4, 3] }, { label: 'val cost', color: '#d62728', dash: [4, 3] },
      ]),
      acc: new CurveChart('Accuracy', [{ label: 'train acc', color: '#1f77b4' }, { label: 'val acc', color: '#d62728' }], { percent: true }),
    };
    charts.lr.set([x, col('eta')]);
    charts.loss.set([x, col('train_loss'), col('val_loss'), col('train_cost'), col('val_cost')]);
    charts.acc.set([x, col('train_acc'), col('val_acc')]);
    summaryBox = h('div', null, summaryTable(d));
    const config = (d.summary as { config?: unknown } | null)?.config;
    el.append(
      h('h2', null, d.row.name, ' ', statusBadge(d.row.status)),
      latest,
      h('div', { class: 'row' }, h('section', { class: 'panel' }, h('h3', null, 'Summary'), summaryBox), h('div', { class: 'charts' }, charts.lr.el, charts.loss.el, charts.acc.el)),
      evaluationSection(d) ?? '',
      h('section', { class: 'panel' }, h('h3', null, 'Resolved config'), h('pre', { class: 'config' }, config ? JSON.stringify(config, null, 2) : '—')),
      h('p', { class: 'note' }, `${d.metricsRows.toLocaleString('en-US')} metrics rows (curves show at most a few thousand points)`),
    );
    showLatest(d.metrics.at(-1));
    for (const p of pending.splice(0)) if ((p[idx.step] as number) > (x.at(-1) ?? -1)) add(p);
  };

  const reload = () => source.run(folder).then(render).catch((e: Error) => { clear(el); el.append(h('p', { class: 'error' }, e.message)); });
  const ready = reload();
  return {
    el,
    ready,
    onEvent: (e: DashboardEvent) => {
      if (e.folder !== folder) return;
      if (e.type === 'metrics') {
        if (!charts) return void pending.push(e.point);
        add(e.point);
      } else if (e.type === 'status' || e.type === 'run') void reload();
    },
  };
}

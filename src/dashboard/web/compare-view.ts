/** Two or more runs overlaid on the same axes: validation accuracy, validation loss, training loss; live. */
import { pointIndex, type DashboardEvent, type RunDetail } from '../api-types.js';
import { CurveChart, overlay, PALETTE } from './charts.js';
import { clear, coalesced, h, pct } from './dom.js';
import { statusBadge } from './runs-view.js';
import type { DataSource } from './source.js';
import type { View } from './view.js';

const METRICS = [
  { column: 'val_acc', title: 'Validation accuracy', percent: true },
  { column: 'val_loss', title: 'Validation loss', percent: false },
  { column: 'train_loss', title: 'Training loss', percent: false },
] as const;

export function compareView(source: DataSource, folders: string[]): View {
  const el = h('section', { class: 'view compare' }, h('p', null, 'loading…'));
  const curves = new Map<string, { name: string; x: number[]; ys: Record<string, (number | null)[]>; best: number | null }>();
  let charts: CurveChart[] = [];
  let legend: HTMLElement | null = null;

  const redraw = coalesced(() => {
    const runs = folders.map((f) => curves.get(f)).filter((c) => c !== undefined);
    METRICS.forEach((m, i) => charts[i]?.set(overlay(runs.map((c) => ({ x: c.x, y: c.ys[m.column] })))));
    if (legend) {
      clear(legend);
      runs.forEach((c, i) => legend!.append(h('li', null, h('span', { class: 'swatch', style: { background: PALETTE[i % PALETTE.length] } }), `${c.name} — best val ${pct(c.best)}`)));
    }
  });

  const ready = Promise.all(folders.map((f) => source.run(f))).then((details: RunDetail[]) => {
    clear(el);
    details.forEach((d, i) => {
      const idx = (c: string) => d.columns.indexOf(c);
      curves.set(folders[i], {
        name: d.row.name,
        x: d.metrics.map((p) => p[idx('step')] as number),
        ys: Object.fromEntries(METRICS.map((m) => [m.column, d.metrics.map((p) => p[idx(m.column)])])),
        best: d.row.bestVal,
      });
    });
    const series = details.map((d, i) => ({ label: d.row.name, color: PALETTE[i % PALETTE.length] }));
    charts = METRICS.map((m) => new CurveChart(m.title, series, { percent: m.percent }));
    legend = h('ul', { class: 'legend' });
    el.append(h('h2', null, `Compare ${details.length} runs`), h('div', { class: 'row' }, ...details.map((d) => h('span', { class: 'chip' }, d.row.name, ' ', statusBadge(d.row.status)))), legend, h('div', { class: 'charts' }, ...charts.map((c) => c.el)));
    redraw();
  }).catch((e: Error) => { clear(el); el.append(h('p', { class: 'error' }, e.message)); });

  return {
    el,
    ready,
    onEvent: (e: DashboardEvent) => {
      if (e.type !== 'metrics') return;
      const c = curves.get(e.folder);
      if (!c) return;
      c.x.push(e.step);
      METRICS.forEach((m) => c.ys[m.column].push(e.point[pointIndex(m.column)]));
      const v = e.point[pointIndex('val_acc')];
      if (v !== null && (c.best === null || v > c.best)) c.best = v;
      redraw();
    },
  };
}

/** The runs table: every run and search under the folders, sortable and filterable, updated live; new folders appear. */
import { pointIndex, type DashboardEvent, type RunRow } from '../api-types.js';
import { duration, h, int, pct } from './dom.js';
import type { DataSource } from './source.js';
import { VirtualTable, type Column } from './table.js';
import type { View } from './view.js';

export function progressText(r: { step: number | null; totalSteps: number | null }): string {
  return `${int(r.step)} / ${int(r.totalSteps)}`;
}

export const statusBadge = (status: string) => h('span', { class: `badge status-${status.replace(/[^a-z]/g, '')}` }, status);

export function runsView(source: DataSource, go: (hash: string) => void): View {
  const selected = new Set<string>();
  const compare = h('button', { attrs: { type: 'button', disabled: '' }, on: { click: () => go(`#/compare/${[...selected].map(encodeURIComponent).join(',')}`) } }, 'compare selected');
  const columns: Column<RunRow>[] = [
    {
      key: 'pick', label: '', width: '28px', value: () => null,
      render: (r) => {
        if (r.kind !== 'run') return '';
        const box = h('input', { attrs: { type: 'checkbox', 'aria-label': 'select for compare' } });
        box.checked = selected.has(r.folder);
        box.addEventListener('change', () => {
          if (box.checked) selected.add(r.folder);
          else selected.delete(r.folder);
          compare.toggleAttribute('disabled', selected.size < 2);
        });
        return box;
      },
    },
    { key: 'name', label: 'name', width: '1.4fr', value: (r) => r.name },
    { key: 'folder', label: 'folder', width: '1.6fr', value: (r) => r.folder },
    { key: 'kind', label: 'kind', width: '70px', value: (r) => r.kind },
    { key: 'status', label: 'status', width: '100px', value: (r) => r.status, render: (r) => statusBadge(r.status) },
    { key: 'backend', label: 'backend', width: '110px', value: (r) => r.backend },
    { key: 'step', label: 'steps / trials', width: '130px', numeric: true, value: (r) => r.step, render: progressText },
    { key: 'bestVal', label: 'best val acc', width: '100px', numeric: true, value: (r) => r.bestVal, render: (r) => pct(r.bestVal) },
    { key: 'testAcc', label: 'test acc', width: '90px', numeric: true, value: (r) => r.testAcc, render: (r) => pct(r.testAcc) },
    { key: 'seconds', label: 'wall time', width: '100px', numeric: true, value: (r) => r.seconds, render: (r) => duration(r.seconds) },
  ];
  const table = new VirtualTable<RunRow>(columns, {
    rowKey: (r) => r.folder,
    text: (r) => `${r.name} ${r.folder} ${r.kind} ${r.status} ${r.backend ?? ''}`,
    onOpen: (r) => go(`#/${r.kind}/${encodeURIComponent(r.folder)}`),
    height: 'calc(100vh - 150px)',
    sort: { key: 'folder', desc: false },
  });
  const el = h('section', { class: 'view runs' }, h('div', { class: 'toolbar' }, h('h2', null, 'Runs and searches'), compare), table.el);
  let loaded = false;
  const early: DashboardEvent[] = [];
  const apply = (e: DashboardEvent) => {
    if (e.type === 'run' || e.type === 'status') table.upsert(e.row);
    else if (e.type === 'metrics' && e.search === null) {
      const r = table.get(e.folder);
      if (!r) return;
      const val = e.point[pointIndex('val_acc')];
      table.upsert({ ...r, step: e.step, bestVal: val !== null && (r.bestVal === null || val > r.bestVal) ? val : r.bestVal, seconds: e.point[pointIndex('elapsed_s')] ?? r.seconds, status: r.status === 'unknown' ? 'running' : r.status });
    }
  };
  const ready = source.runs().then((rows) => {
    table.setRows(rows);
    loaded = true;
    for (const e of early.splice(0)) apply(e);
    table.schedule();
  });
  return {
    el,
    ready,
    onEvent: (e) => (loaded ? apply(e) : early.push(e)),
    mounted: () => table.schedule(),
  };
}

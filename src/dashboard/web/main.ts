/**
 * The dashboard's page: a hash router over the views (#/ runs, #/run/<folder>, #/search/<folder>,
 * #/compare/<folder>,<folder>…), each fed by one event stream; or, in an exported page, the one view whose data is
 * inlined (no network, no router).
 */
import './locale-guard.js';
import uplotCss from 'uplot/dist/uPlot.min.css';
import type { ExportedData } from '../api-types.js';
import { compareView } from './compare-view.js';
import { clear, h } from './dom.js';
import { runView } from './run-view.js';
import { runsView } from './runs-view.js';
import { searchView } from './search-view.js';
import { exportedSource, serverSource, type DataSource } from './source.js';
import css from './style.css';
import type { View } from './view.js';

declare global {
  interface Window {
    /**
     * When the current view first drew its data (tests and the benchmark read it): ms since navigation start, and
     * since the view was asked for.
     */
    __dashboard?: { paintedAt: number; viewMs: number; view: string; figuresAt?: number };
  }
}

const style = document.createElement('style');
style.textContent = `${uplotCss}\n${css}`;
document.head.appendChild(style);

const app = document.getElementById('app')!;
const inlined = document.getElementById('exported-data');
const exported = inlined ? (JSON.parse(inlined.textContent ?? 'null') as ExportedData) : null;

const connection = h('span', { class: 'connection', attrs: { id: 'connection' } }, exported ? `exported ${exported.exportedAt} (offline copy)` : 'connecting…');
const main = h('main');
app.append(h('header', null, exported ? h('strong', null, 'cifar-mlp') : h('a', { attrs: { href: '#/' } }, h('strong', null, 'cifar-mlp dashboard')), connection), main);

const source: DataSource = exported ? exportedSource(exported) : serverSource(() => show());
let current: View | null = null;
const go = (hash: string) => {
  if (!exported) location.hash = hash;
};

function route(): View {
  if (exported) {
    return exported.view === 'search'
      ? searchView(source, exported.search!.row.folder, go)
      : runView(source, exported.run!.row.folder);
  }
  const [, kind, arg] = /^#\/(run|search|compare)\/(.+)$/.exec(location.hash) ?? [];
  if (kind === 'run') return runView(source, decodeURIComponent(arg));
  if (kind === 'search') return searchView(source, decodeURIComponent(arg), go);
  if (kind === 'compare') return compareView(source, arg.split(',').map(decodeURIComponent));
  return runsView(source, go);
}

function show(): void {
  const started = performance.now();
  const view = (current = route());
  clear(main);
  main.appendChild(view.el);
  view.mounted?.();
  window.__dashboard = undefined;
  // Frame callbacks run in the order asked for: this one after the view's own (its table's paint).
  void (view.ready ?? Promise.resolve()).then(() => requestAnimationFrame(() => {
    if (current === view) window.__dashboard = { ...window.__dashboard, paintedAt: performance.now(), viewMs: performance.now() - started, view: location.hash || '#/' };
  }));
}

source.subscribe((e) => current?.onEvent(e));
window.addEventListener('hashchange', show);
show();

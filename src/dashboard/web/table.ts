/**
 * A sortable, filterable table that renders only the rows in view (a search of 10,000 trials keeps a few dozen
 * row elements in the page), updated row by row as events come.
 */
import { clear, coalesced, h } from './dom.js';

export interface Column<T> {
  key: string;
  label: string;
  /** The value sorted by (and shown, unless `render`). */
  value: (r: T) => number | string | null;
  render?: (r: T) => Node | string;
  width?: string;
  numeric?: boolean;
}

export interface TableOptions<T> {
  rowKey: (r: T) => string;
  onOpen?: (r: T) => void;
  /** Text a row is filtered by. */
  text: (r: T) => string;
  rowClass?: (r: T) => string;
  /** Visible height of the body (CSS). */
  height?: string;
  sort?: { key: string; desc: boolean };
}

const ROW_HEIGHT = 26;

export class VirtualTable<T> {
  readonly el: HTMLElement;
  private readonly rows = new Map<string, T>();
  private view: T[] = [];
  private readonly body: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly window: HTMLElement;
  private readonly head: HTMLElement;
  private readonly count: HTMLElement;
  private filterText = '';
  private sort: { key: string; desc: boolean } | null;
  private dirty = true;
  readonly schedule: () => void;
  private readonly template: string;

  constructor(private readonly columns: Column<T>[], private readonly opts: TableOptions<T>) {
    this.sort = opts.sort ?? null;
    this.template = columns.map((c) => c.width ?? '1fr').join(' ');
    this.head = h('div', { class: 'vt-head', style: { gridTemplateColumns: this.template } });
    this.spacer = h('div', { class: 'vt-spacer' });
    this.window = h('div', { class: 'vt-window' });
    this.body = h('div', { class: 'vt-body', style: { maxHeight: opts.height ?? '60vh' }, on: { scroll: () => this.paint() } }, this.spacer, this.window);
    const filter = h('input', { class: 'vt-filter', attrs: { type: 'search', placeholder: 'filter…', 'aria-label': 'filter rows' } });
    filter.addEventListener('input', () => {
      this.filterText = filter.value.trim().toLowerCase();
      this.dirty = true;
      this.schedule();
    });
    this.count = h('span', { class: 'vt-count' });
    this.el = h('div', { class: 'vt' }, h('div', { class: 'vt-tools' }, filter, this.count), this.head, this.body);
    this.schedule = coalesced(() => this.paint());
    this.paintHead();
  }

  setRows(rows: T[]): void {
    this.rows.clear();
    for (const r of rows) this.rows.set(this.opts.rowKey(r), r);
    this.dirty = true;
    this.schedule();
  }

  upsert(row: T): void {
    this.rows.set(this.opts.rowKey(row), row);
    this.dirty = true;
    this.schedule();
  }

  get(key: string): T | undefined {
    return this.rows.get(key);
  }

  all(): T[] {
    return [...this.rows.values()];
  }

  private paintHead(): void {
    clear(this.head);
    for (const c of this.columns) {
      const mark = this.sort?.key === c.key ? (this.sort.desc ? ' ▼' : ' ▲') : '';
      this.head.appendChild(h('div', { class: `vt-cell${c.numeric ? ' num' : ''}`, attrs: { role: 'columnheader', 'data-col': c.key }, on: { click: () => this.sortBy(c.key) } }, c.label + mark));
    }
  }

  sortBy(key: string): void {
    this.sort = this.sort?.key === key ? { key, desc: !this.sort.desc } : { key, desc: this.columns.find((c) => c.key === key)?.numeric ?? false };
    this.paintHead();
    this.dirty = true;
    this.schedule();
  }

  private recompute(): void {
    let rows = [...this.rows.values()];
    if (this.filterText) rows = rows.filter((r) => this.opts.text(r).toLowerCase().includes(this.filterText));
    const col = this.columns.find((c) => c.key === this.sort?.key);
    if (col) {
      const dir = this.sort!.desc ? -1 : 1;
      rows.sort((a, b) => {
        const x = col.value(a), y = col.value(b);
        if (x === null || x === '') return y === null || y === '' ? 0 : 1;
        if (y === null || y === '') return -1;
        return (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), 'en', { numeric: true })) * dir;
      });
    }
    this.view = rows;
    this.count.textContent = `${rows.length.toLocaleString('en-US')} of ${this.rows.size.toLocaleString('en-US')}`;
  }

  private paint(): void {
    if (this.dirty) {
      this.recompute();
      this.dirty = false;
    }
    this.spacer.style.height = `${this.view.length * ROW_HEIGHT}px`;
    const top = this.body.scrollTop;
    const visible = Math.ceil((this.body.clientHeight || 600) / ROW_HEIGHT);
    const start = Math.max(0, Math.floor(top / ROW_HEIGHT) - 5);
    const end = Math.min(this.view.length, start + visible + 10);
    clear(this.window);
    this.window.style.transform = `translateY(${start * ROW_HEIGHT}px)`;
    for (let i = start; i < end; i++) {
      const r = this.view[i];
      const row = h('div', {
        class: `vt-row ${this.opts.rowClass?.(r) ?? ''}`,
        style: { gridTemplateColumns: this.template, height: `${ROW_HEIGHT}px` },
        attrs: { 'data-key': this.opts.rowKey(r), role: 'row' },
        on: this.opts.onOpen ? { click: (e) => { if (!(e.target instanceof HTMLInputElement)) this.opts.onOpen!(r); } } : {},
      });
      for (const c of this.columns) {
        const v = c.render ? c.render(r) : c.value(r);
        row.appendChild(h('div', { class: `vt-cell${c.numeric ? ' num' : ''}`, attrs: { 'data-col': c.key } }, v === null ? '—' : (v as Node | string)));
      }
      this.window.appendChild(row);
    }
  }
}

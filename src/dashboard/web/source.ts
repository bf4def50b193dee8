/**
 * Where the page gets its data: the dashboard's API and its event stream, or (an exported page) the data inlined
 * in the page, with no network at all.
 */
import type { DashboardEvent, ExportedData, RunDetail, RunRow, SearchDetail } from '../api-types.js';

export interface DataSource {
  live: boolean;
  exported: ExportedData | null;
  runs(): Promise<RunRow[]>;
  run(folder: string): Promise<RunDetail>;
  search(folder: string): Promise<SearchDetail>;
  subscribe(listener: (e: DashboardEvent) => void): void;
}

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { credentials: 'same-origin' });
  const body = await res.json();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${(body as { error?: string }).error ?? ''}`);
  return body as T;
}

/**
 * The API and the event stream. Every fetch waits for the stream's `ready` event (sent once the server has
 * subscribed it), so that no change between a fetch and the stream is missed; after a reconnection `onResync` is
 * called (the view reloads what it shows).
 */
export function serverSource(onResync: () => void): DataSource {
  const listeners = new Set<(e: DashboardEvent) => void>();
  const status = () => document.getElementById('connection');
  let markReady: () => void;
  const ready = new Promise<void>((r) => { markReady = r; });
  let connections = 0;
  const es = new EventSource('api/events');
  es.addEventListener('ready', () => {
    const s = status();
    if (s) s.textContent = 'live';
    if (connections++ === 0) markReady();
    else onResync();
  });
  es.onerror = () => {
    const s = status();
    if (s) s.textContent = 'reconnecting…';
  };
  es.onmessage = (m) => {
    const e = JSON.parse(m.data) as DashboardEvent;
    for (const l of listeners) l(e);
  };
  const get = async <T>(path: string) => {
    await ready;
    return getJson<T>(path);
  };
  return {
    live: true,
    exported: null,
    runs: async () => (await get<{ runs: RunRow[] }>('api/runs')).runs,
    run: (folder) => get<RunDetail>(`api/run?folder=${encodeURIComponent(folder)}`),
    search: (folder) => get<SearchDetail>(`api/search?folder=${encodeURIComponent(folder)}`),
    subscribe: (l) => void listeners.add(l),
  };
}

export function exportedSource(data: ExportedData): DataSource {
  const missing = () => Promise.reject(new Error('not in this exported page'));
  return {
    live: false,
    exported: data,
    runs: async () => [data.run?.row ?? data.search!.row],
    run: async (folder) => (data.run && data.run.row.folder === folder ? data.run : missing()),
    search: async (folder) => (data.search && data.search.row.folder === folder ? data.search : missing()),
    subscribe: () => undefined,
  };
}

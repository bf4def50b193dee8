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

export function serverSource(): DataSource {
  const listeners = new Set<(e: DashboardEvent) => void>();
  const status = document.getElementById('connection');
  const connect = () => {
    const es = new EventSource('api/events');
    es.onopen = () => status && (status.textContent = 'live');
    es.onerror = () => status && (status.textContent = 'reconnecting…');
    es.onmessage = (m) => {
      const e = JSON.parse(m.data) as DashboardEvent;
      for (const l of listeners) l(e);
    };
  };
  connect();
  return {
    live: true,
    exported: null,
    runs: async () => (await getJson<{ runs: RunRow[] }>('api/runs')).runs,
    run: (folder) => getJson<RunDetail>(`api/run?folder=${encodeURIComponent(folder)}`),
    search: (folder) => getJson<SearchDetail>(`api/search?folder=${encodeURIComponent(folder)}`),
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

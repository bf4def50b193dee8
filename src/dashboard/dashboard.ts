/**
 * `cifar-mlp dashboard`: the catalog of the folders, their watcher, the queue poller (with a queue URL) and the
 * server, started and stopped together; and `--export`, one page written as a self-contained file.
 */
import { randomBytes } from 'node:crypto';
import { resolve, sep } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { checkQueueUrl } from '../search/queue-protocol.js';
import { UsageError } from '../util/errors.js';
import type { ExportedData } from './api-types.js';
import { Catalog } from './catalog.js';
import { exportedHtml } from './page.js';
import { QueuePoller } from './queue-state.js';
import { makeRoots } from './roots.js';
import { isLoopback, startServer } from './server.js';
import { FolderWatcher } from './watcher.js';

export interface DashboardOptions {
  dirs: string[];
  host: string;
  port: number;
  /** Required (else generated) for a host that is not the loopback. */
  token?: string;
  /** Redis URL of queue searches: their workers panel (read-only). */
  queue?: string;
  log?: (line: string) => void;
}

export interface Dashboard {
  url: string;
  /** The URL to open: with ?token= when a token is required. */
  openUrl: string;
  token: string | null;
  catalog: Catalog;
  /** Resolves once every metrics.csv has been read (until then a run's row shows its summary's figures). */
  loaded: Promise<void>;
  close(): Promise<void>;
}

export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  const roots = makeRoots(o.dirs);
  const token = o.token ?? (isLoopback(o.host) ? null : randomBytes(24).toString('base64url'));
  if (token !== null && !/^[A-Za-z0-9._~-]{16,200}$/.test(token)) throw new UsageError('--token: 16 to 200 letters, digits or . _ ~ - (e.g. the output of `openssl rand -hex 24`)');
  if (o.queue) checkQueueUrl(o.queue); // a UsageError before anything starts
  const catalog = new Catalog(roots);
  await catalog.scan(true); // the folders, their summaries and the searches; metrics.csv files once serving
  const watcher = new FolderWatcher(catalog, roots.map((r) => r.abs), { log: o.log });
  await watcher.ready();
  await catalog.scan(true); // folders that appeared while the watches were being set up
  const poller = o.queue ? new QueuePoller(catalog, o.queue, { log: o.log }) : null;
  poller?.start();
  let server;
  try {
    server = await startServer(catalog, { host: o.host, port: o.port, token: token ?? undefined });
  } catch (e) {
    await watcher.close();
    await poller?.close();
    throw new UsageError(`dashboard: ${(e as Error).message}`);
  }
  const pending = catalog.readPending().catch((e) => o.log?.(`dashboard: ${(e as Error).message}`));
  return {
    url: server.url,
    openUrl: token ? `${server.url}?token=${token}` : server.url,
    token,
    catalog,
    loaded: pending.then(() => undefined),
    close: async () => {
      await watcher.close();
      await poller?.close();
      await server.close();
    },
  };
}

/** Writes the page of the run or search in `dir` into `file`, data inlined. */
export async function exportPage(dir: string, file: string): Promise<{ view: ExportedData['view']; name: string }> {
  const roots = makeRoots([dir]);
  const target = resolve(file);
  if (target.startsWith(roots[0].abs + sep)) throw new UsageError(`--export ${file}: inside ${dir}; the dashboard never writes into a run or search folder: choose a file elsewhere`);
  const catalog = new Catalog(roots, { maxPoints: 2000 });
  await catalog.scan();
  const kind = catalog.kindOf('.');
  if (!kind) throw new UsageError(`--export: ${dir} is neither a run folder (metrics.csv, summary.json) nor a search folder (plan.json)`);
  const data: ExportedData = kind === 'search'
    ? { exportedAt: new Date().toISOString(), view: 'search', search: catalog.searchDetail('.') }
    : { exportedAt: new Date().toISOString(), view: 'run', run: await catalog.runDetail('.') };
  const name = (data.search ?? data.run)!.row.name;
  writeFileAtomic(target, exportedHtml(data, name));
  return { view: kind, name };
}

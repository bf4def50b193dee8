/**
 * `cifar-mlp dashboard [DIR…] [--port N] [--host H] [--token T] [--export FILE]`: the live web view of the runs and
 * searches under the folders (src/dashboard/), until Ctrl-C; or, with --export, one run's or search's page as a
 * self-contained HTML file.
 */
import { existsSync } from 'node:fs';
import { exportPage, startDashboard } from '../../dashboard/dashboard.js';
import { UsageError } from '../../util/errors.js';
import { log } from '../log.js';

export interface DashboardCommandOptions {
  port: string;
  host: string;
  token?: string;
  queue?: string;
  export?: string;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--port: expected a whole number from 0 to 65535 (got ${JSON.stringify(value)})`);
  return n;
}

export async function dashboardCommand(dirs: string[], o: DashboardCommandOptions): Promise<number> {
  const folders = dirs.length ? dirs : ['runs'];
  for (const d of folders) if (!existsSync(d)) throw new UsageError(`dashboard: ${d}: no such folder${dirs.length ? '' : ' (the default; give the folders of your runs and searches)'}`);
  if (o.export) {
    if (folders.length !== 1) throw new UsageError('--export: give exactly one run or search folder');
    const { view, name } = await exportPage(folders[0], o.export);
    log(`cifar-mlp: the ${view} page of ${name} written to ${o.export} (self-contained: opens offline)`);
    return 0;
  }
  const dashboard = await startDashboard({ dirs: folders, host: o.host, port: port(o.port), token: o.token, queue: o.queue, log });
  // The address goes to stdout only (it carries the token where one is needed); nothing else prints the token.
  process.stdout.write(`${dashboard.openUrl}\n`);
  log(`cifar-mlp: dashboard of ${folders.join(', ')} at ${dashboard.url} (${dashboard.catalog.rows().length} runs and searches; Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await dashboard.close();
  return 0;
}

/**
 * `cifar-mlp plot <dir>`: the plots and report.html of a run folder, a search folder (the search's and every
 * trial's) or one of its trials, drawn again from the files there. Drawing only reads, so it takes no lock: a running
 * run or search may be drawn as it is now (a partial last row of a CSV is not a row). Every picture and page is
 * written atomically (a temporary file, then a rename), so a reader, or the running process drawing the same files
 * when it ends, never sees half a file; the running process's own pictures at its end replace these.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isSearchFolder } from '../../formats/search-plan.js';
import { readSearchSummary } from '../../formats/search-summary.js';
import { readMetricsCsv } from '../../formats/metrics-csv.js';
import { renderRunArtifacts } from '../../report/run-artifacts.js';
import { UsageError } from '../../util/errors.js';
import { describeHolder, folderHolder } from '../../util/folder-lock.js';
import { FileReadError } from '../../util/read-file.js';
import { log } from '../log.js';

/** Says that the folder is in use, and what that means for the pictures. */
function noteLiveFolder(dir: string): void {
  const holder = folderHolder(dir);
  if (holder) log(`cifar-mlp: ${dir}: in use by ${describeHolder(holder)}: drawn from its files as they are now (it draws them again when it ends)`);
}

export async function plotCommand(dir: string): Promise<number> {
  if (isSearchFolder(dir)) {
    noteLiveFolder(dir);
    const { writeSearchReport } = await import('../../search/report.js');
    await writeSearchReport(dir, readSearchSummary(dir));
    log(`cifar-mlp: search plots, every trial's plots and report pages, and report.html written to ${dir}`);
    return 0;
  }
  const csv = join(dir, 'metrics.csv');
  if (!existsSync(csv)) throw new UsageError(`${dir}: no metrics.csv in this folder (neither a run nor a search folder)`);
  let metrics;
  try {
    metrics = await readMetricsCsv(csv);
  } catch (e) {
    throw e instanceof FileReadError ? new UsageError(e.message) : e;
  }
  if (metrics.rows.length === 0) {
    throw new UsageError(`no usable rows in ${csv} (${metrics.skipped} malformed line${metrics.skipped === 1 ? '' : 's'} skipped); nothing plotted`);
  }
  noteLiveFolder(dir);
  let failed = false;
  await renderRunArtifacts(dir, (l) => { failed = true; log(l); });
  if (failed) return 1;
  log(`cifar-mlp: plots and report.html written to ${dir}`);
  return 0;
}

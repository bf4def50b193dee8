/**
 * trials.csv of a search: one row per finished trial, appended as trials finish; on resume rows are appended, and a
 * trial that ran again has a later row that supersedes its earlier one.
 *
 *   trial, one column per searched parameter named by its config path (e.g. base.train.lambda), then status
 *   (completed, pruned, diverged, failed), train_acc, val_acc (a pruned trial: at the rung it stopped at),
 *   train_cost, val_cost, steps (done), total_steps (of a full run), seconds, backend, threads, reason.
 *
 * No test accuracy: only the chosen trial's is measured (summary.json `chosen`), so that nothing is chosen on the
 * test set. NA for every missing value.
 */
import { join } from 'node:path';
import type { ParamSpec, TrialParams } from '../config/search-schema.js';
import { CsvLog } from '../util/csv-log.js';
import { CsvTail, cutPartialLine, headerCell, headerMismatch, MAX_SEARCH_CSV_BYTES, readSearchCsv } from './csv-file.js';

export const TRIALS_CSV = 'trials.csv';

export const STAT_COLUMNS = [
  'status', 'train_acc', 'val_acc', 'train_cost', 'val_cost', 'steps', 'total_steps', 'seconds', 'backend', 'threads', 'reason',
] as const;

/** The header of a search's trials.csv. */
export const trialColumns = (paths: string[]): string[] => ['trial', ...paths, ...STAT_COLUMNS];

export type RowStatus = 'completed' | 'diverged' | 'pruned' | 'failed';
const STATUSES = new Set<RowStatus>(['completed', 'diverged', 'pruned', 'failed']);

export interface TrialRow {
  trial: number;
  params: TrialParams;
  status: RowStatus;
  train_acc: number | null;
  val_acc: number | null;
  train_cost: number | null;
  val_cost: number | null;
  steps: number | null;
  total_steps: number | null;
  seconds: number | null;
  backend: string | null;
  threads: number | null;
  reason: string | null;
}

/** A parameter value as a CSV cell (numbers as they are: reading them back gives the same values). */
const paramCell = (v: unknown): string | number => (v === undefined ? 'NA' : typeof v === 'number' ? v : String(v));

/** The row as CSV cells: NA for every missing value. */
export function trialRecord(row: TrialRow, paths: string[]): Record<string, string | number> {
  const out: Record<string, string | number> = { trial: row.trial };
  for (const p of paths) out[p] = paramCell(row.params[p]);
  for (const c of STAT_COLUMNS) {
    const v = row[c];
    out[c] = v === null || (typeof v === 'number' && !Number.isFinite(v)) ? 'NA' : v;
  }
  return out;
}

/** trials.csv open for appending rows (a resumed search keeps the rows it has). */
export class TrialsLog {
  private readonly log: CsvLog;

  constructor(dir: string, private readonly paths: string[], append: boolean) {
    this.log = new CsvLog(join(dir, TRIALS_CSV), trialColumns(paths), append);
  }

  /** Appends the row; rejects with a FileWriteError naming the file (the row is then not in the file). */
  write(row: TrialRow): Promise<void> {
    return this.log.write(trialRecord(row, this.paths));
  }

  close(): Promise<void> {
    return this.log.close();
  }
}

const NUMERIC = new Set<string>(['train_acc', 'val_acc', 'train_cost', 'val_cost', 'steps', 'total_steps', 'seconds', 'threads']);

function parseParam(spec: ParamSpec | undefined, s: string): TrialParams[string] | undefined {
  if (s === 'NA' || s === '') return undefined;
  if (spec?.dist === 'choice') return spec.values.find((v) => String(v) === s) ?? s;
  const v = Number(s);
  return Number.isFinite(v) ? v : s;
}

function parseRow(cells: string[], columns: string[], space: Record<string, ParamSpec>): TrialRow | null {
  if (cells.length !== columns.length) return null;
  const row: Record<string, unknown> = { params: {} };
  for (let i = 0; i < cells.length; i++) {
    const c = columns[i], s = cells[i].trim();
    if (c === 'trial') row.trial = Number(s);
    else if (Object.hasOwn(space, c)) {
      const v = parseParam(space[c], s);
      if (v !== undefined) (row.params as TrialParams)[c] = v;
    } else if (NUMERIC.has(c)) {
      if (s === 'NA' || s === '') row[c] = null;
      else {
        const v = Number(s);
        if (!Number.isFinite(v)) return null;
        row[c] = v;
      }
    } else row[c] = s === 'NA' || s === '' ? null : s;
  }
  if (!Number.isInteger(row.trial) || (row.trial as number) < 1) return null;
  if (!STATUSES.has(row.status as RowStatus)) return null;
  return row as unknown as TrialRow;
}

export interface ReadTrials {
  rows: TrialRow[];
  /** Lines that were not valid rows (skipped). */
  skipped: number;
  /** Whether the file existed with a header. */
  hasHeader: boolean;
}

/**
 * The rows of a search's trials.csv over `space` (its parameter columns in this order): complete rows only (a partial
 * last line is not a row). Throws a UsageError naming the file when its header is not the expected one. With `repair`
 * (a search about to append to it), a partial last line is cut off the file; a reader of a live search passes false.
 */
export async function readTrialsCsv(path: string, space: Record<string, ParamSpec>, repair = true): Promise<ReadTrials> {
  const read = await readSearchCsv(path, 'a trials.csv file');
  const [header, ...body] = read?.records ?? [];
  const columns = trialColumns(Object.keys(space));
  if (header && header.map(headerCell).join(',') !== columns.join(',')) throw headerMismatch(path, header, columns, 'trials file');
  if (repair) cutPartialLine(path, read);
  if (!header) return { rows: [], skipped: 0, hasHeader: false };
  const rows: TrialRow[] = [];
  let skipped = 0;
  for (const cells of body) {
    const r = parseRow(cells, columns, space);
    if (r) rows.push(r);
    else skipped++;
  }
  return { rows, skipped, hasHeader: true };
}

/**
 * trials.csv of a live search read as it grows (csv-file.ts CsvTail): each read() returns the rows appended since the
 * last one; `restarted` when the file was replaced. A header that is not this space's is a UsageError naming the file.
 */
export class TrialsTail {
  private readonly tail: CsvTail;
  private readonly columns: string[];

  constructor(readonly path: string, private readonly space: Record<string, ParamSpec>) {
    this.tail = new CsvTail(path, { maxBytes: MAX_SEARCH_CSV_BYTES, expected: 'a trials.csv file' });
    this.columns = trialColumns(Object.keys(space));
  }

  async read(): Promise<{ rows: TrialRow[]; restarted: boolean }> {
    const { records, restarted } = await this.tail.read();
    const header = this.tail.header;
    if (header && header.join(',') !== this.columns.join(',')) throw headerMismatch(this.path, header, this.columns, 'trials file');
    return { rows: records.map((c) => parseRow(c, this.columns, this.space)).filter((r) => r !== null), restarted };
  }
}

/**
 * metrics.csv: one row per evaluation point of a run, appended as it happens (`tail -f` works).
 *
 *   step,epoch,eta,train_loss,train_cost,train_acc,val_loss,val_cost,val_acc,elapsed_s
 *
 * `NA` for a value that is not a finite number. Written through a CsvLog (every row whole, newline included); read
 * with fast-csv, tolerantly: columns in any order, unknown ones ignored, absent ones null; a row with the wrong
 * number of cells or a cell that is not a number is skipped and counted. `MetricsTail` reads a file that is being
 * written, row by row as rows complete.
 */
import { statSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic.js';
import { CsvLog } from '../util/csv-log.js';
import { UsageError } from '../util/errors.js';
import { FileReadError } from '../util/read-file.js';
import type { SplitMetrics } from '../model/split-metrics.js';
import { headerCell, parseCsv, readCsv } from './csv-file.js';

export const METRICS_FILE = 'metrics.csv';
export const METRICS_COLUMNS = ['step', 'epoch', 'eta', 'train_loss', 'train_cost', 'train_acc', 'val_loss', 'val_cost', 'val_acc', 'elapsed_s'] as const;

export type MetricsColumn = (typeof METRICS_COLUMNS)[number];

/** One row of metrics.csv. `step` is always a number; any other value may be missing (`NA`) → null. */
export type MetricsRow = { step: number } & Record<Exclude<MetricsColumn, 'step'>, number | null>;

export interface ParsedMetrics {
  rows: MetricsRow[];
  /** Header cells as found in the file. */
  header: string[];
  /** Lines that could not be used (malformed rows, rows without a step, a partial last line taken as a row). */
  skipped: number;
}

/** Largest metrics.csv read (a run of a million evaluation points is about 100 MB). */
export const MAX_METRICS_BYTES = 512 * 2 ** 20;

// ---------------------------------------------------------------------------------------------------------
// Writing

/** An evaluation point as the training stream measures it (one row of metrics.csv). */
export interface StepMetrics {
  step: number;
  epoch: number;
  eta: number;
  train: SplitMetrics;
  val: SplitMetrics;
  elapsed_s: number;
}

const num = (v: number) => (Number.isFinite(v) ? v : 'NA');

/** The cells of an evaluation point's row. */
export function metricsRecord(m: StepMetrics): Record<MetricsColumn, number | string> {
  return {
    step: m.step, epoch: num(Number(m.epoch.toFixed(6))), eta: num(m.eta),
    train_loss: num(m.train.loss), train_cost: num(m.train.cost), train_acc: num(m.train.accuracy),
    val_loss: num(m.val.loss), val_cost: num(m.val.cost), val_acc: num(m.val.accuracy),
    elapsed_s: Number(m.elapsed_s.toFixed(3)),
  };
}

/** metrics.csv open for appending rows (a resumed run keeps the rows it has; see trimMetricsForResume). */
export class MetricsLog {
  private readonly log: CsvLog;

  constructor(path: string, append: boolean) {
    this.log = new CsvLog(path, METRICS_COLUMNS, append);
  }

  /** Appends an evaluation point's row; rejects with a FileWriteError naming the file. */
  write(m: StepMetrics): Promise<void> {
    return this.log.write(metricsRecord(m));
  }

  close(): Promise<void> {
    return this.log.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Reading

const MISSING = new Set(['', 'NA', 'NaN', 'nan', 'null', 'undefined']);
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A cell → number, null when missing, undefined when it is not a number at all (malformed). */
function parseCell(raw: string): number | null | undefined {
  const s = raw.trim();
  if (MISSING.has(s)) return null;
  // Number('') and Number(' ') are 0, and Number('0x10') is 16: require a decimal literal.
  if (!DECIMAL.test(s) && s !== 'Infinity' && s !== '-Infinity') return undefined;
  const v = Number(s);
  return Number.isNaN(v) ? undefined : v;
}

/** The rows of records under `header`; malformed ones counted in `skipped`. */
function rowsOf(records: string[][], header: string[]): { rows: MetricsRow[]; skipped: number } {
  const index = new Map(header.map((h, j) => [h, j] as const));
  const rows: MetricsRow[] = [];
  let skipped = 0;
  for (const cells of records) {
    const values = cells.map(parseCell);
    if (cells.length !== header.length || values.some((v) => v === undefined)) {
      skipped++;
      continue;
    }
    const row = {} as Record<MetricsColumn, number | null>;
    for (const col of METRICS_COLUMNS) {
      const j = index.get(col);
      row[col] = j === undefined ? null : (values[j] as number | null);
    }
    if (row.step === null || !Number.isFinite(row.step)) {
      skipped++;
      continue;
    }
    rows.push(row as MetricsRow);
  }
  return { rows, skipped };
}

/** Parses the text of a metrics.csv (a last line without newline is a row when it is well-formed). */
export async function parseMetricsCsv(text: string): Promise<ParsedMetrics> {
  const [first, ...records] = await parseCsv(text.replace(/^\uFEFF/, ''));
  if (!first) return { rows: [], header: [], skipped: 0 };
  const header = first.map(headerCell);
  return { header, ...rowsOf(records, header) };
}

/** Reads a finished metrics.csv whole. Throws a FileReadError when it is missing, not a regular file or too large. */
export async function readMetricsCsv(path: string): Promise<ParsedMetrics> {
  const read = await readCsv(path, { maxBytes: MAX_METRICS_BYTES, expected: 'a metrics.csv file', lastLine: 'row' });
  if (!read) throw new FileReadError(path, 'file not found', 'ENOENT');
  const [first, ...records] = read.records;
  if (!first) return { rows: [], header: [], skipped: 0 };
  const header = first.map(headerCell);
  return { header, ...rowsOf(records, header) };
}

/**
 * A metrics.csv being written, read as it grows: each `read()` returns the rows completed since the last one (a
 * partial last line waits for its newline). A file that shrank (a resumed run trimmed it) is read again from the top.
 */
export class MetricsTail {
  private offset = 0;
  private header: string[] | null = null;

  constructor(readonly path: string) {}

  /** The rows completed since the last read; [] when the file does not exist (yet). */
  async read(): Promise<MetricsRow[]> {
    let size: number;
    try {
      size = statSync(this.path).size;
    } catch {
      return [];
    }
    if (size < this.offset) {
      this.offset = 0; // cut back (a resumed run trims rows after its checkpoint): read it again
      this.header = null;
    }
    if (size === this.offset) return [];
    const read = await readCsv(this.path, { maxBytes: MAX_METRICS_BYTES, expected: 'a metrics.csv file', from: this.offset });
    if (!read) return [];
    this.offset = read.end;
    let records = read.records;
    if (!this.header) {
      if (records.length === 0) return [];
      this.header = records[0].map(headerCell);
      records = records.slice(1);
    }
    return rowsOf(records, this.header).rows;
  }
}

/**
 * Keeps metrics.csv consistent with the checkpoint a run resumes from: every complete row up to the checkpoint's step
 * is kept; rows after it (written after the last checkpoint by a run that was killed) and a partial last line are
 * dropped, atomically. A file that is not this tool's metrics file is a UsageError. Resolves with the elapsed_s of the
 * last row kept (null when none).
 */
export async function trimMetricsForResume(path: string, step: number): Promise<number | null> {
  let read;
  try {
    read = await readCsv(path, { maxBytes: MAX_METRICS_BYTES, expected: 'a metrics.csv file' });
  } catch (e) {
    throw e instanceof FileReadError ? new UsageError(`${e.message}; cannot resume into it`) : e;
  }
  if (!read) return null;
  const [first, ...records] = read.records;
  if (!first) {
    // Killed before its first row was complete: start the file afresh (the run writes the header again).
    if (read.partial || read.end > 0) writeFileAtomic(path, '');
    return null;
  }
  if (first.map(headerCell).join(',') !== METRICS_COLUMNS.join(',')) {
    throw new UsageError(`${path}: not a metrics file of this tool (unexpected header); cannot resume into it`);
  }
  const kept = records.filter((cells) => {
    const s = Number(cells[0]);
    return cells.length === METRICS_COLUMNS.length && Number.isInteger(s) && s <= step;
  });
  const elapsed = kept.length ? Number(kept[kept.length - 1][METRICS_COLUMNS.indexOf('elapsed_s')]) : NaN;
  if (kept.length !== records.length || read.partial) writeFileAtomic(path, `${[METRICS_COLUMNS.join(','), ...kept.map((c) => c.join(','))].join('\n')}\n`);
  return Number.isFinite(elapsed) ? elapsed : null;
}

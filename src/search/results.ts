/**
 * A search's results: trials.csv (one row per finished trial, streamed with CsvLog; on resume rows are appended, and
 * a trial that ran again has a later row that supersedes its earlier one), rungs.csv (every pruning decision), and
 * the ranking that summary.json holds.
 *
 * trials.csv: `trial`, one column per searched parameter named by its config path (e.g. base.train.lambda), then
 * status (completed, pruned, diverged, failed), train_acc, val_acc (a pruned trial: at the rung it stopped at),
 * train_cost, val_cost, steps (done), total_steps (of a full run), seconds, backend, threads, reason. No test
 * accuracy: only the chosen trial's is measured (summary.json `chosen`), so that nothing is chosen on the test set.
 */
import { existsSync, truncateSync } from 'node:fs';
import { parseString } from 'fast-csv';
import type { ParamSpec } from '../config/search-schema.js';
import type { RungRecord } from './pruner.js';
import type { ParamValues } from './space.js';
import { UsageError } from '../util/errors.js';
import { readRegularText } from '../util/read-file.js';
import type { TrialResult } from './types.js';

export const STAT_COLUMNS = [
  'status', 'train_acc', 'val_acc', 'train_cost', 'val_cost', 'steps', 'total_steps', 'seconds', 'backend', 'threads', 'reason',
] as const;

/** The header of a search's trials.csv. */
export const trialColumns = (paths: string[]): string[] => ['trial', ...paths, ...STAT_COLUMNS];

export type RowStatus = 'completed' | 'diverged' | 'pruned' | 'failed';

export interface TrialRow {
  trial: number;
  params: ParamValues;
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

const finite = (v: number | undefined | null): number | null => (v !== undefined && v !== null && Number.isFinite(v) ? v : null);

/** The row of a finished trial (not for 'interrupted' results: those are not rows). */
export function trialRow(plan: { trial: number; params: ParamValues }, r: TrialResult): TrialRow {
  if (r.status === 'interrupted') throw new Error(`trial ${plan.trial} was interrupted: not a result`);
  return {
    trial: plan.trial,
    params: { ...plan.params },
    status: r.status,
    train_acc: finite(r.final?.train.accuracy),
    val_acc: finite(r.final?.val.accuracy ?? r.pruned?.valAccuracy),
    train_cost: finite(r.final?.train.cost),
    val_cost: finite(r.final?.val.cost),
    steps: finite(r.steps),
    total_steps: finite(r.totalSteps),
    seconds: finite(r.seconds === undefined ? undefined : Math.round(r.seconds * 1000) / 1000),
    backend: r.backend || null,
    threads: finite(r.threads),
    reason: r.reason ? r.reason.replace(/\s+/g, ' ').trim() : null,
  };
}

/** A parameter value as a CSV cell (numbers as they are: reading them back gives the same values). */
const paramCell = (v: unknown): string | number => (v === undefined ? 'NA' : typeof v === 'number' ? v : String(v));

/** The row as CSV cells: NA for every missing value. */
export function csvRecord(row: TrialRow, paths: string[]): Record<string, string | number> {
  const out: Record<string, string | number> = { trial: row.trial };
  for (const p of paths) out[p] = paramCell(row.params[p]);
  for (const c of STAT_COLUMNS) {
    const v = row[c];
    out[c] = v === null || (typeof v === 'number' && !Number.isFinite(v)) ? 'NA' : v;
  }
  return out;
}

const STATUSES = new Set<RowStatus>(['completed', 'diverged', 'pruned', 'failed']);
const NUMERIC = new Set<string>(['train_acc', 'val_acc', 'train_cost', 'val_cost', 'steps', 'total_steps', 'seconds', 'threads']);

function parseParam(spec: ParamSpec | undefined, s: string): ParamValues[string] | undefined {
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
      if (v !== undefined) (row.params as ParamValues)[c] = v;
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

/** Largest trials.csv or rungs.csv read (a row is about 150 bytes). */
const MAX_CSV_BYTES = 256 * 2 ** 20;

/**
 * The records of a CSV this tool writes: every row that ends with its newline (CsvLog writes each row whole, newline
 * included); null when the file is missing or empty. `cutPartialRow` cuts a partial last line (the process died
 * mid-write) off the file, so that rows appended later start on a line of their own: the caller calls it once the
 * header shows the file is ours (an empty one is cut at once unless `repair` is false). A file that cannot be read is a UsageError (exit 2) naming it.
 */
async function readCsvRecords(path: string, expected: string, repair: boolean): Promise<{ records: string[][]; cutPartialRow: () => void } | null> {
  if (!existsSync(path)) return null;
  let text: string;
  try {
    text = readRegularText(path, { maxBytes: MAX_CSV_BYTES, expected });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const partial = text.length > 0 && !text.endsWith('\n');
  if (partial) text = text.slice(0, text.lastIndexOf('\n') + 1);
  const cutPartialRow = () => {
    if (partial) truncateSync(path, Buffer.byteLength(text, 'utf8'));
  };
  const records: string[][] = text.trim() === '' ? [] : await new Promise((resolve, reject) => {
    const out: string[][] = [];
    parseString<string[], string[]>(text, { headers: false, ignoreEmpty: true })
      .on('error', reject)
      .on('data', (r: string[]) => out.push(r))
      .on('end', () => resolve(out));
  });
  if (records.length === 0) {
    if (repair) cutPartialRow();
    return null;
  }
  return { records, cutPartialRow };
}

const headerMismatch = (path: string, header: string[], columns: readonly string[], what: string) => {
  const shown = header.join(',');
  return new UsageError(`${path}: not a ${what} of this tool: unexpected header ${JSON.stringify(shown.length > 80 ? `${shown.slice(0, 77)}...` : shown)} ` +
    `(expected ${columns.join(',')}); resume with the folder of a search, or start a new one with --force or another --out`);
};

/**
 * Reads trials.csv of a search over `space` (its parameter columns in this order). Throws a UsageError naming the
 * file when the header is not the expected one. A partial last line is cut off the file unless `repair` is false.
 */
export async function readTrialsCsv(path: string, space: Record<string, ParamSpec>, repair = true): Promise<ReadTrials> {
  const read = await readCsvRecords(path, 'a trials.csv file', repair);
  if (!read) return { rows: [], skipped: 0, hasHeader: false };
  const columns = trialColumns(Object.keys(space));
  const [header, ...body] = read.records;
  if (header.join(',') !== columns.join(',')) throw headerMismatch(path, header, columns, 'trials file');
  if (repair) read.cutPartialRow();
  const rows: TrialRow[] = [];
  let skipped = 0;
  for (const cells of body) {
    const r = parseRow(cells, columns, space);
    if (r) rows.push(r);
    else skipped++;
  }
  return { rows, skipped, hasHeader: true };
}

/** The latest row of every trial (a trial that ran again after a failure has a later row). */
export function latestRows(rows: TrialRow[]): Map<number, TrialRow> {
  const m = new Map<number, TrialRow>();
  for (const r of rows) m.set(r.trial, r);
  return m;
}

export interface RankedTrial extends TrialRow {
  rank: number;
}

/** Completed trials by validation accuracy, best first (ties: lower trial number first). */
export function rankTrials(rows: Iterable<TrialRow>): RankedTrial[] {
  return [...rows]
    .filter((r) => r.status === 'completed' && r.val_acc !== null)
    .sort((a, b) => b.val_acc! - a.val_acc! || a.trial - b.trial)
    .map((r, i) => ({ rank: i + 1, ...r }));
}

// ---------------------------------------------------------------------------------------------------------
// rungs.csv

export const RUNG_COLUMNS = ['trial', 'rung', 'step', 'val_acc', 'cutoff', 'margin', 'reported', 'decision'] as const;

export function rungRecord(r: RungRecord): Record<string, string | number> {
  return {
    trial: r.trial, rung: Number.isFinite(r.rung) ? r.rung : 'NA', step: r.step, val_acc: r.valAccuracy,
    cutoff: Number.isFinite(r.cutoff) ? r.cutoff : 'NA', margin: r.margin, reported: r.reported, decision: r.decision,
  };
}

/** Reads rungs.csv (every pruning decision so far, in the order made); unreadable lines are skipped. */
export async function readRungsCsv(path: string, repair = true): Promise<{ records: RungRecord[]; skipped: number }> {
  const read = await readCsvRecords(path, 'a rungs.csv file', repair);
  if (!read) return { records: [], skipped: 0 };
  const [header, ...body] = read.records;
  if (header.join(',') !== RUNG_COLUMNS.join(',')) throw headerMismatch(path, header, RUNG_COLUMNS, 'rungs file');
  if (repair) read.cutPartialRow();
  const out: RungRecord[] = [];
  let skipped = 0;
  for (const c of body) {
    const [trial, rung, step, acc, cutoff, margin, reported] = c.slice(0, 7).map((s) => (s === 'NA' ? NaN : Number(s)));
    const decision = c[7];
    if (c.length !== RUNG_COLUMNS.length || !Number.isInteger(trial) || !Number.isInteger(step) || !Number.isFinite(acc) || (decision !== 'continue' && decision !== 'prune')) {
      skipped++;
      continue;
    }
    out.push({ trial, rung, step, valAccuracy: acc, cutoff, margin: Number.isFinite(margin) ? margin : 0, reported, decision });
  }
  return { records: out, skipped };
}

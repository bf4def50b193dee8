/**
 * A search's results: trials.csv (one row per finished trial, streamed with CsvLog; on resume rows are
 * appended, and a trial that ran again has a later row that supersedes its earlier one), and the
 * ranking that summary.json holds.
 */
import { existsSync, truncateSync } from 'node:fs';
import { parseString } from 'fast-csv';
import { UsageError } from '../config/errors.js';
import { readRegularText } from '../util/read-file.js';
import type { PlannedTrial } from './plan.js';
import type { TrialResult } from './types.js';

export const TRIAL_COLUMNS = [
  'trial', 'l', 'lambda', 'status', 'train_acc', 'val_acc', 'test_acc', 'train_cost', 'val_cost', 'steps', 'seconds', 'backend', 'threads', 'reason',
] as const;

export type RowStatus = 'completed' | 'diverged' | 'pruned' | 'failed';

export interface TrialRow {
  trial: number;
  l: number;
  lambda: number;
  status: RowStatus;
  train_acc: number | null;
  val_acc: number | null;
  test_acc: number | null;
  train_cost: number | null;
  val_cost: number | null;
  steps: number | null;
  seconds: number | null;
  backend: string | null;
  threads: number | null;
  reason: string | null;
}

const finite = (v: number | undefined | null): number | null => (v !== undefined && v !== null && Number.isFinite(v) ? v : null);

/** The row of a finished trial (not for 'interrupted' results: those are not rows). */
export function trialRow(plan: PlannedTrial, r: TrialResult): TrialRow {
  if (r.status === 'interrupted') throw new Error(`trial ${plan.trial} was interrupted: not a result`);
  return {
    trial: plan.trial,
    l: plan.l,
    lambda: plan.lambda,
    status: r.status,
    train_acc: finite(r.final?.train.accuracy),
    val_acc: finite(r.final?.val.accuracy),
    test_acc: finite(r.final?.test.accuracy),
    train_cost: finite(r.final?.train.cost),
    val_cost: finite(r.final?.val.cost),
    steps: finite(r.steps),
    seconds: finite(r.seconds === undefined ? undefined : Math.round(r.seconds * 1000) / 1000),
    backend: r.backend || null,
    threads: finite(r.threads),
    reason: r.reason ? r.reason.replace(/\s+/g, ' ').trim() : null,
  };
}

/** The row as CSV cells: NA for every missing value. */
export function csvRecord(row: TrialRow): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const c of TRIAL_COLUMNS) {
    const v = row[c];
    out[c] = v === null || (typeof v === 'number' && !Number.isFinite(v)) ? 'NA' : c === 'lambda' ? Number((v as number).toPrecision(10)) : v;
  }
  return out;
}

const STATUSES = new Set<RowStatus>(['completed', 'diverged', 'pruned', 'failed']);
const NUMERIC = new Set(['trial', 'l', 'lambda', 'train_acc', 'val_acc', 'test_acc', 'train_cost', 'val_cost', 'steps', 'seconds', 'threads']);

function parseRow(cells: string[]): TrialRow | null {
  if (cells.length !== TRIAL_COLUMNS.length) return null;
  const row: Record<string, unknown> = {};
  for (let i = 0; i < cells.length; i++) {
    const c = TRIAL_COLUMNS[i], s = cells[i].trim();
    if (NUMERIC.has(c)) {
      if (s === 'NA' || s === '') row[c] = null;
      else {
        const v = Number(s);
        if (!Number.isFinite(v)) return null;
        row[c] = v;
      }
    } else row[c] = s === 'NA' || s === '' ? null : s;
  }
  if (!Number.isInteger(row.trial) || (row.trial as number) < 1 || row.l === null || row.lambda === null) return null;
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

/** Largest trials.csv read (a row is about 150 bytes). */
const MAX_TRIALS_BYTES = 256 * 2 ** 20;

/**
 * Reads trials.csv: every row that ends with its newline (CsvLog writes each row whole, newline included). A partial
 * last line (the process died mid-write) is cut off the file, so that rows appended later start on a line of their
 * own. Throws a UsageError (exit 2) naming the file when the header is not the expected one or the file cannot be read.
 */
export async function readTrialsCsv(path: string, repair = true): Promise<ReadTrials> {
  if (!existsSync(path)) return { rows: [], skipped: 0, hasHeader: false };
  let text: string;
  try {
    text = readRegularText(path, { maxBytes: MAX_TRIALS_BYTES, expected: 'a trials.csv file' });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const partial = text.length > 0 && !text.endsWith('\n');
  if (partial) text = text.slice(0, text.lastIndexOf('\n') + 1);
  const cutPartialRow = () => {
    if (partial && repair) truncateSync(path, Buffer.byteLength(text, 'utf8'));
  };
  if (text.trim() === '') {
    cutPartialRow();
    return { rows: [], skipped: 0, hasHeader: false };
  }
  const records: string[][] = await new Promise((resolve, reject) => {
    const out: string[][] = [];
    parseString<string[], string[]>(text, { headers: false, ignoreEmpty: true })
      .on('error', reject)
      .on('data', (r: string[]) => out.push(r))
      .on('end', () => resolve(out));
  });
  if (records.length === 0) {
    cutPartialRow();
    return { rows: [], skipped: 0, hasHeader: false };
  }
  const [header, ...body] = records;
  if (header.join(',') !== TRIAL_COLUMNS.join(',')) {
    const shown = header.join(',');
    throw new UsageError(`${path}: not a trials file of this tool: unexpected header ${JSON.stringify(shown.length > 80 ? `${shown.slice(0, 77)}...` : shown)} ` +
      `(expected ${TRIAL_COLUMNS.join(',')}); resume with the folder of a search, or start a new one with --force or another --out`);
  }
  cutPartialRow();
  const rows: TrialRow[] = [];
  let skipped = 0;
  for (const cells of body) {
    const r = parseRow(cells);
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

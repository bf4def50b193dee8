/**
 * rungs.csv of a search with pruning: one row per decision of the pruner, in the order made (appended as they happen).
 *
 *   trial,rung,step,val_acc,cutoff,margin,reported,decision
 */
import { join } from 'node:path';
import { CsvLog } from '../util/csv-log.js';
import { UsageError } from '../util/errors.js';
import { headerCell, readCsv } from './csv-file.js';

export const RUNGS_CSV = 'rungs.csv';
export const RUNG_COLUMNS = ['trial', 'rung', 'step', 'val_acc', 'cutoff', 'margin', 'reported', 'decision'] as const;

/** What a trial does at a rung. */
export type RungDecision = 'continue' | 'prune';

export interface RungRecord {
  trial: number;
  /** Rung index (0 = the first rung). */
  rung: number;
  step: number;
  valAccuracy: number;
  /** The rung's promotion quantile at the time. */
  cutoff: number;
  /** How far below the cutoff it could fall and still continue (tolerance × its standard error; 0 for plain ASHA). */
  margin: number;
  /** Accuracies the rung held when it decided, this one included. */
  reported: number;
  decision: RungDecision;
}

/** Largest trials.csv or rungs.csv read (a row is about 150 bytes). */
export const MAX_SEARCH_CSV_BYTES = 256 * 2 ** 20;

export function rungRecord(r: RungRecord): Record<string, string | number> {
  return {
    trial: r.trial, rung: Number.isFinite(r.rung) ? r.rung : 'NA', step: r.step, val_acc: r.valAccuracy,
    cutoff: Number.isFinite(r.cutoff) ? r.cutoff : 'NA', margin: r.margin, reported: r.reported, decision: r.decision,
  };
}

/** rungs.csv open for appending decisions (a resumed search keeps those it has). */
export class RungsLog {
  private readonly log: CsvLog;

  constructor(dir: string, append: boolean) {
    this.log = new CsvLog(join(dir, RUNGS_CSV), RUNG_COLUMNS, append);
  }

  write(r: RungRecord): Promise<void> {
    return this.log.write(rungRecord(r));
  }

  close(): Promise<void> {
    return this.log.close();
  }
}

/** "resume with the folder of a search" message of a CSV whose header is not this tool's. */
export function headerMismatch(path: string, header: string[], columns: readonly string[], what: string): UsageError {
  const shown = header.join(',');
  return new UsageError(`${path}: not a ${what} of this tool: unexpected header ${JSON.stringify(shown.length > 80 ? `${shown.slice(0, 77)}...` : shown)} ` +
    `(expected ${columns.join(',')}); resume with the folder of a search, or start a new one with --force or another --out`);
}

/** A CSV of a search folder that cannot be read is a UsageError (exit 2) naming it. */
export async function readSearchCsv(path: string, expected: string): Promise<Awaited<ReturnType<typeof readCsv>>> {
  try {
    return await readCsv(path, { maxBytes: MAX_SEARCH_CSV_BYTES, expected });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** The decisions of rungs.csv (complete rows; unreadable ones skipped and counted); none when the file is absent. */
export async function readRungsCsv(path: string): Promise<{ records: RungRecord[]; skipped: number }> {
  const read = await readSearchCsv(path, 'a rungs.csv file');
  const [header, ...body] = read?.records ?? [];
  if (!header) return { records: [], skipped: 0 };
  if (header.map(headerCell).join(',') !== RUNG_COLUMNS.join(',')) throw headerMismatch(path, header, RUNG_COLUMNS, 'rungs file');
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

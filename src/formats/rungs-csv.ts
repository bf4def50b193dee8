/**
 * rungs.csv of a search with pruning: one row per decision of the pruner, in the order made (appended as they happen).
 *
 *   trial,rung,step,val_acc,cutoff,margin,reported,decision
 */
import { join } from 'node:path';
import { CsvLog } from '../util/csv-log.js';
import { CsvTail, cutPartialLine, headerCell, headerMismatch, MAX_SEARCH_CSV_BYTES, readSearchCsv } from './csv-file.js';

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

/** A record of rungs.csv as a decision; null when it is not one. */
function parseRung(c: string[]): RungRecord | null {
  const [trial, rung, step, acc, cutoff, margin, reported] = c.slice(0, 7).map((s) => (s === 'NA' ? NaN : Number(s)));
  const decision = c[7];
  if (c.length !== RUNG_COLUMNS.length || !Number.isInteger(trial) || !Number.isInteger(step) || !Number.isFinite(acc) || (decision !== 'continue' && decision !== 'prune')) return null;
  return { trial, rung, step, valAccuracy: acc, cutoff, margin: Number.isFinite(margin) ? margin : 0, reported, decision };
}

/** The decisions of rungs.csv (complete rows; unreadable ones skipped and counted); none when the file is absent. */
export async function readRungsCsv(path: string, repair = true): Promise<{ records: RungRecord[]; skipped: number }> {
  const read = await readSearchCsv(path, 'a rungs.csv file');
  const [header, ...body] = read?.records ?? [];
  if (header && header.map(headerCell).join(',') !== RUNG_COLUMNS.join(',')) throw headerMismatch(path, header, RUNG_COLUMNS, 'rungs file');
  if (repair) cutPartialLine(path, read);
  if (!header) return { records: [], skipped: 0 };
  const out: RungRecord[] = [];
  let skipped = 0;
  for (const c of body) {
    const r = parseRung(c);
    if (r) out.push(r);
    else skipped++;
  }
  return { records: out, skipped };
}

/** rungs.csv of a live search read as it grows (csv-file.ts CsvTail): the decisions appended since the last read. */
export class RungsTail {
  private readonly tail: CsvTail;

  constructor(readonly path: string) {
    this.tail = new CsvTail(path, { maxBytes: MAX_SEARCH_CSV_BYTES, expected: 'a rungs.csv file' });
  }

  async read(): Promise<{ records: RungRecord[]; restarted: boolean }> {
    const { records, restarted } = await this.tail.read();
    const header = this.tail.header;
    if (header && header.join(',') !== RUNG_COLUMNS.join(',')) throw headerMismatch(this.path, header, RUNG_COLUMNS, 'rungs file');
    return { records: records.map(parseRung).filter((r) => r !== null), restarted };
  }
}

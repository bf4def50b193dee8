/**
 * The files of a learning-rate range test: lr-find.csv (one row per update step: step, eta, loss, smoothed; written
 * as the sweep goes) and lr-find.json (how the sweep ended and the suggested range).
 */
import { join } from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from '../util/atomic.js';
import { CsvLog } from '../util/csv-log.js';
import { parseJsonBounded } from '../util/bounded-json.js';
import { FileReadError, readRegularText } from '../util/read-file.js';
import { readCsv } from './csv-file.js';

export const LR_FIND_CSV = 'lr-find.csv';
export const LR_FIND_JSON = 'lr-find.json';
export const LR_FIND_COLUMNS = ['step', 'eta', 'loss', 'smoothed'] as const;

/** One step of the sweep. */
export interface LrFindPoint {
  step: number; // 0-based update step
  eta: number;
  loss: number; // the batch loss before the step's update
  smoothed: number;
}

export const lrSuggestionSchema = z.object({
  etaMin: z.number(),
  etaMax: z.number(),
  /** The step and learning rate of the lowest smoothed loss. */
  lowest: z.object({ step: z.number(), eta: z.number(), smoothed: z.number() }),
});
export type LrSuggestion = z.infer<typeof lrSuggestionSchema>;

const lrFindSummarySchema = z.looseObject({
  name: z.string(),
  status: z.string(),
  stopped: z.string().nullable(),
  steps: z.number(),
  seconds: z.number(),
  sweep: z.unknown(),
  suggestion: lrSuggestionSchema.nullable(),
  backend: z.string(),
});
export type LrFindSummary = z.infer<typeof lrFindSummarySchema>;

const g = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(6)) : 'NA');

/** lr-find.csv open for appending the sweep's points. */
export class LrFindLog {
  private readonly log: CsvLog;

  constructor(dir: string) {
    this.log = new CsvLog(join(dir, LR_FIND_CSV), LR_FIND_COLUMNS);
  }

  write(p: LrFindPoint): Promise<void> {
    return this.log.write({ step: p.step, eta: g(p.eta), loss: g(p.loss), smoothed: g(p.smoothed) });
  }

  close(): Promise<void> {
    return this.log.close();
  }
}

export function writeLrFindSummary(dir: string, s: LrFindSummary): void {
  writeJsonAtomic(join(dir, LR_FIND_JSON), s);
}

/** lr-find.json of a folder; null when absent or not a range test's summary. */
export function readLrFindSummary(dir: string): LrFindSummary | null {
  try {
    const parsed = lrFindSummarySchema.safeParse(parseJsonBounded(readRegularText(join(dir, LR_FIND_JSON), { maxBytes: 1 << 20, expected: 'an lr-find.json file' })));
    return parsed.success ? parsed.data : null;
  } catch (e) {
    if (e instanceof FileReadError && e.code !== 'ENOENT') throw e;
    return null;
  }
}

/** The points of lr-find.csv (complete rows only); [] when absent. */
export async function readLrFindPoints(dir: string): Promise<LrFindPoint[]> {
  const read = await readCsv(join(dir, LR_FIND_CSV), { maxBytes: 64 * 2 ** 20, expected: 'an lr-find.csv file' });
  if (!read) return [];
  const num = (s: string | undefined) => (s === undefined || s === 'NA' ? NaN : Number(s));
  return read.records.slice(1).filter((r) => r.length === LR_FIND_COLUMNS.length)
    .map(([step, eta, loss, smoothed]) => ({ step: num(step), eta: num(eta), loss: num(loss), smoothed: num(smoothed) }));
}

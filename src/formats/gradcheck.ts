/**
 * The files of a gradient check: gradcheck.csv (one row per check, lambda and parameter, written as each is
 * measured) and its summary.json (kind "gradcheck": the status, every row, the worst error of each check).
 */
import { join } from 'node:path';
import { z } from 'zod';
import type { GradcheckConfig } from '../config/schema.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { parseJsonBounded } from '../util/bounded-json.js';
import { CsvLog } from '../util/csv-log.js';
import { FileReadError, readRegularText } from '../util/read-file.js';
import { MAX_SUMMARY_BYTES, SUMMARY_FILE } from './run-summary.js';

export const GRADCHECK_CSV = 'gradcheck.csv';
export const GRADCHECK_COLUMNS = [
  'check', 'backend', 'lambda', 'param', 'size', 'checked',
  'max_abs_diff', 'max_rel_error', 'inf_rel_error', 'norm_rel_error', 'max_abs_grad',
  'criterion', 'threshold', 'passed',
] as const;

export type CheckKind = 'numerical-f64' | 'float32-vs-f64';

/** How far one parameter's gradient is from its reference. */
export interface GradientError {
  param: string;
  /** Entries of the parameter. */
  size: number;
  /** Entries compared. */
  checked: number;
  /** max_i |a_i − b_i|. */
  maxAbsDiff: number;
  /** max_i |a_i − b_i| / max(eps, |a_i| + |b_i|). */
  maxRelError: number;
  /** max_i |b_i| (the reference's largest entry among those compared). */
  maxAbsGrad: number;
  /** max_i |a_i − b_i| / max_i |b_i| (0 when both are all zero). */
  infRelError: number;
  /** ‖a − b‖₂ / ‖b‖₂ over the compared entries (0 when both are all zero). */
  normRelError: number;
}

export interface GradcheckRow extends GradientError {
  check: CheckKind;
  backend: string;
  lambda: number;
  /** The error judged against the threshold: max_rel_error (numerical) or inf_rel_error (float32). */
  criterion: 'max_rel_error' | 'inf_rel_error';
  threshold: number;
  passed: boolean;
}

export interface GradcheckSummary {
  kind: 'gradcheck';
  status: 'passed' | 'failed' | 'interrupted';
  name: string;
  seed: number;
  shape: { n: number; d: number; m: number; k: number };
  /** Largest error per check, lambda and parameter; the rows of gradcheck.csv. */
  results: GradcheckRow[];
  /** Per check: the largest criterion value over lambdas and parameters, and its threshold. */
  worst: Partial<Record<CheckKind, { value: number; threshold: number; passed: boolean }>>;
  float32Backend: string | null;
  seconds: number;
  startedAt: string;
  finishedAt: string;
  config: GradcheckConfig;
}

const sci = (v: number) => (Number.isFinite(v) ? v.toExponential(3) : String(v));

export function gradcheckRecord(r: GradcheckRow): Record<(typeof GRADCHECK_COLUMNS)[number], string | number> {
  return {
    check: r.check, backend: r.backend, lambda: r.lambda, param: r.param, size: r.size, checked: r.checked,
    max_abs_diff: sci(r.maxAbsDiff), max_rel_error: sci(r.maxRelError), inf_rel_error: sci(r.infRelError),
    norm_rel_error: sci(r.normRelError), max_abs_grad: sci(r.maxAbsGrad),
    criterion: r.criterion, threshold: r.threshold, passed: r.passed ? 'yes' : 'NO',
  };
}

/** gradcheck.csv, open for its rows. */
export class GradcheckLog {
  private readonly log: CsvLog;

  constructor(dir: string) {
    this.log = new CsvLog(join(dir, GRADCHECK_CSV), GRADCHECK_COLUMNS);
  }

  write(row: GradcheckRow): Promise<void> {
    return this.log.write(gradcheckRecord(row));
  }

  close(): Promise<void> {
    return this.log.close();
  }
}

export function writeGradcheckSummary(dir: string, s: GradcheckSummary): void {
  writeJsonAtomic(join(dir, SUMMARY_FILE), s);
}

const storedGradcheckSummary = z.looseObject({
  kind: z.literal('gradcheck'),
  status: z.enum(['passed', 'failed', 'interrupted']),
  name: z.string(),
  results: z.array(z.looseObject({ check: z.string(), param: z.string(), passed: z.boolean() })),
});

/** A gradient check's summary.json; null when absent or another kind of summary. */
export function readGradcheckSummary(dir: string): z.infer<typeof storedGradcheckSummary> | null {
  try {
    const raw = parseJsonBounded(readRegularText(join(dir, SUMMARY_FILE), { maxBytes: MAX_SUMMARY_BYTES, expected: 'a summary.json file' }));
    const parsed = storedGradcheckSummary.safeParse(raw);
    return parsed.success ? parsed.data : null;
  } catch (e) {
    if (e instanceof FileReadError && e.code !== 'ENOENT') throw e;
    return null;
  }
}

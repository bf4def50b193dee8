/**
 * What `cifar-mlp evaluate` leaves beside a model: evaluation.json (accuracy per split and class, confusion matrices,
 * which networks were measured on which data and backend) and one confusion-<split>.csv per split, written atomically.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { parseJsonBounded } from '../util/bounded-json.js';
import { FileReadError, readRegularText } from '../util/read-file.js';

export const EVALUATION_FILE = 'evaluation.json';
export const confusionFile = (split: string) => `confusion-${split}.csv`;

export interface SplitEvaluation {
  records: number;
  accuracy: number;
  perClass: Record<string, { records: number; accuracy: number }>;
  /** confusion[true][predicted] */
  confusion: number[][];
}

export interface EvaluationFile {
  model: string;
  /** The model's run name (its config's). */
  name: string;
  step: number;
  totalSteps: number;
  networks: { name: string; step: number }[];
  average: 'softmax' | 'weights';
  dataDir: string;
  backend: string;
  classes: string[];
  splits: Record<string, SplitEvaluation>;
}

/** A confusion matrix as CSV: a header of predicted classes, one row per true class. */
export function confusionCsv(confusion: number[][], classes: string[]): string {
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return [['true\\predicted', ...classes].map(q).join(','), ...confusion.map((row, c) => [q(classes[c]), ...row].join(','))].join('\n') + '\n';
}

/** Writes confusion-<split>.csv for every split, then evaluation.json; a write failure throws a FileWriteError naming the file. */
export function writeEvaluation(dir: string, e: EvaluationFile): void {
  for (const [split, r] of Object.entries(e.splits)) writeFileAtomic(join(dir, confusionFile(split)), confusionCsv(r.confusion, e.classes));
  writeJsonAtomic(join(dir, EVALUATION_FILE), e);
}

const storedEvaluation = z.looseObject({
  model: z.string(),
  classes: z.array(z.string()),
  splits: z.record(z.string(), z.looseObject({
    records: z.number(),
    accuracy: z.number().nullable(),
    perClass: z.record(z.string(), z.looseObject({ records: z.number(), accuracy: z.number().nullable() })),
    confusion: z.array(z.array(z.number())),
  })),
});

/** Whether a folder holds an evaluation.json (the folder was evaluated). */
export const hasEvaluation = (dir: string) => existsSync(join(dir, EVALUATION_FILE));

/** evaluation.json of a folder; null when absent or not an evaluation. */
export function readEvaluation(dir: string): z.infer<typeof storedEvaluation> | null {
  try {
    const parsed = storedEvaluation.safeParse(parseJsonBounded(readRegularText(join(dir, EVALUATION_FILE), { maxBytes: 16 * 2 ** 20, expected: 'an evaluation.json file' })));
    return parsed.success ? parsed.data : null;
  } catch (e) {
    if (e instanceof FileReadError && e.code !== 'ENOENT') throw e;
    return null;
  }
}

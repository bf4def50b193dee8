/**
 * What an output folder holds, from the files this tool writes there: a search (plan.json), a run (a run's
 * summary.json or metrics.csv), or neither. Only looks: nothing is opened for writing, nothing is locked.
 */
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { METRICS_FILE } from './metrics-csv.js';
import { SUMMARY_FILE } from './run-summary.js';
import { EVALUATION_FILE } from './evaluation.js';
import { QUEUE_FILE } from './queue-file.js';
import { RUNGS_CSV } from './rungs-csv.js';
import { PLAN_FILE } from './search-plan.js';
import { TRIALS_CSV } from './trials-csv.js';

export type FolderKind = 'search' | 'run';

const isRegularFile = (path: string) => lstatSync(path, { throwIfNoEntry: false })?.isFile() ?? false;

/** The kind of output folder `dir` is, or null. A search's summary.json is the search's, not a run's. */
export function folderKind(dir: string): FolderKind | null {
  if (isRegularFile(join(dir, PLAN_FILE))) return 'search';
  if (isRegularFile(join(dir, METRICS_FILE)) || isRegularFile(join(dir, SUMMARY_FILE))) return 'run';
  return null;
}

/** The files whose change can change what a folder of either kind shows. */
export const WATCHED_FILES = new Set([PLAN_FILE, SUMMARY_FILE, METRICS_FILE, TRIALS_CSV, RUNGS_CSV, QUEUE_FILE, EVALUATION_FILE]);

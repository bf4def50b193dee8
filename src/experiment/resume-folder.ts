/** The folder and model file a `--resume` continues, checked before anything is written. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { METRICS_FILE, trimMetricsForResume } from '../formats/metrics-csv.js';
import { loadCheckpoint, MODEL_FILE, type Checkpoint } from '../formats/model-file.js';
import { readRunSummary } from '../formats/run-summary.js';
import { UsageError } from '../util/errors.js';
import type { FolderRunOptions } from './options.js';

/** The folder a `resume` continues, checked: --out given, without --force, and there. */
export function resumeFolder(opts: Pick<FolderRunOptions, 'out' | 'force'>): string {
  if (!opts.out) throw new UsageError('--resume needs --out DIR: the folder of the run to continue');
  if (opts.force) throw new UsageError('--resume and --force exclude each other: --force would overwrite the run that --resume continues');
  if (!existsSync(opts.out)) throw new UsageError(`--out ${opts.out}: no such folder to resume`);
  return opts.out;
}

/** The checkpoint a `resume` continues: `<out>/model.json`, verified. */
export function resumeCheckpoint(opts: Pick<FolderRunOptions, 'out' | 'force'>): Checkpoint {
  const out = resumeFolder(opts);
  const file = join(out, MODEL_FILE);
  if (!existsSync(file)) throw new UsageError(`--out ${out}: no ${MODEL_FILE} checkpoint to resume from (start the run again with --force)`);
  return loadCheckpoint(file);
}

/**
 * Cuts the run folder's metrics.csv back to the checkpoint's step and resolves with the seconds the run had taken up
 * to that step, for elapsed time that continues across resumes: the summary's when it stopped at that step (Ctrl-C),
 * else the last kept row's elapsed_s (a killed run), else 0.
 */
export async function resumeMetrics(dir: string, step: number): Promise<number> {
  const lastRow = await trimMetricsForResume(join(dir, METRICS_FILE), step);
  const before = readRunSummary(dir);
  if (before?.steps === step && before.seconds !== undefined && before.seconds >= (lastRow ?? 0)) return before.seconds;
  return lastRow ?? 0;
}

/** Output folders: a non-empty folder is never silently reused. */
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../config/errors.js';

const isNonEmptyDir = (p: string) => existsSync(p) && statSync(p).isDirectory() && readdirSync(p).length > 0;

function timestamp(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/**
 * The result files of a run. `--force` removes these (and only these) before a new run writes into a folder,
 * so that no stale model.json or summary.json of an earlier run is left beside the new run's files; any other
 * file in the folder is left alone.
 */
export const RUN_FILES = [
  'model.json', 'summary.json', 'metrics.csv', 'config.yaml', 'report.html',
  'lr.svg', 'lr.png', 'loss.svg', 'loss.png', 'accuracy.svg', 'accuracy.png', 'evaluation.json',
  'lr-find.csv', 'lr-find.json', 'lr-find.svg', 'lr-find.png',
];

/** Removes the run files of `dir`, and those of the member runs of an ensemble run (member-<i> folders) in it. */
function clearRunFiles(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const known = RUN_FILES.includes(name) || /^confusion-[a-z]+\.csv$/.test(name) || /^\..+\.tmp$/.test(name);
    if (known && lstatSync(p).isFile()) rmSync(p, { force: true });
    if (/^member-\d+$/.test(name) && lstatSync(p).isDirectory()) clearRunFiles(p);
  }
}

function makeDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new UsageError(`--out ${dir}: cannot create the folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/**
 * --out given: used as is when absent or empty; a non-empty one needs --force (its run files are replaced)
 * or --resume (the run in it continues).
 * No --out: runs/<name>, or runs/<name>-<timestamp> when that is taken.
 */
export function prepareOutDir(name: string, out: string | undefined, opts: { force?: boolean; resume?: boolean } = {}): string {
  let dir: string;
  if (out) {
    if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`--out ${out}: exists and is not a directory`);
    if (isNonEmptyDir(out)) {
      if (!opts.force && !opts.resume) {
        throw new UsageError(`--out ${out}: folder is not empty; pass --force to overwrite it, --resume to continue the run in it, or choose another --out`);
      }
      if (opts.force && !opts.resume) clearRunFiles(out);
    }
    dir = out;
  } else {
    const safe = name.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^\.+/, '_') || 'run';
    dir = join('runs', safe);
    if (isNonEmptyDir(dir)) dir = join('runs', `${safe}-${timestamp()}`);
    for (let i = 2; isNonEmptyDir(dir); i++) dir = join('runs', `${safe}-${timestamp()}-${i}`);
  }
  makeDir(dir);
  return dir;
}

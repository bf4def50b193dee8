/** Output folders: a non-empty folder is never silently reused. */
import { accessSync, constants, existsSync, lstatSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from './errors.js';
import { FolderLockedError, LOCK_FILE, lockFolder, type FolderLock } from './folder-lock.js';
import { makeDirs } from './make-dirs.js';

const isNonEmptyDir = (p: string, ignore?: string) => existsSync(p) && statSync(p).isDirectory() && readdirSync(p).some((n) => n !== ignore);

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
    const known = RUN_FILES.includes(name) || /^confusion-[a-z]+\.(csv|svg|png)$/.test(name) || /^\..+\.tmp$/.test(name);
    if (known && lstatSync(p).isFile()) rmSync(p, { force: true });
    if (/^member-\d+$/.test(name) && lstatSync(p).isDirectory()) clearRunFiles(p);
  }
}

/** An output folder, created and locked for this process (release the lock when done; process exit also does). */
export interface OutDir {
  dir: string;
  lock: FolderLock;
}

/** Creates `dir` (level by level) and takes its lock; `label` names it in messages. */
export function claimDir(dir: string, label: string, log?: (line: string) => void): FolderLock {
  makeDirs(dir, label);
  return lockFolder(dir, { log });
}

/**
 * Whether `--out` can be used, checked before a run does anything long (a download, loading data): what prepareOutDir
 * refuses (not a folder, a non-empty one without --force or --resume), and a missing one whose nearest existing
 * parent is not a writable folder. A UsageError naming --out; nothing is created.
 */
export function checkOutDir(out: string, opts: { force?: boolean; resume?: boolean } = {}): void {
  if (existsSync(out)) {
    if (!statSync(out).isDirectory()) throw new UsageError(`--out ${out}: exists and is not a directory`);
    if (!opts.force && !opts.resume && isNonEmptyDir(out, LOCK_FILE)) {
      throw new UsageError(`--out ${out}: folder is not empty; pass --force to overwrite it, --resume to continue the run in it, or choose another --out`);
    }
    return;
  }
  let parent = dirname(resolve(out));
  while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
  if (!statSync(parent).isDirectory()) throw new UsageError(`--out ${out}: cannot create the folder: ${parent} is not a directory`);
  try {
    accessSync(parent, constants.W_OK | constants.X_OK);
  } catch {
    throw new UsageError(`--out ${out}: cannot create the folder: ${parent} is not writable`);
  }
}

/**
 * --out given: used as is when absent or empty; a non-empty one needs --force (its run files are replaced)
 * or --resume (the run in it continues).
 * No --out: runs/<name>, or runs/<name>-<timestamp> when that is taken (or held by another process).
 * The folder is locked before anything is written into it (--force's removals included).
 */
export function prepareOutDir(name: string, out: string | undefined, opts: { force?: boolean; resume?: boolean; log?: (line: string) => void } = {}): OutDir {
  if (out) {
    if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`--out ${out}: exists and is not a directory`);
    const nonEmpty = isNonEmptyDir(out, LOCK_FILE);
    if (nonEmpty && !opts.force && !opts.resume) {
      throw new UsageError(`--out ${out}: folder is not empty; pass --force to overwrite it, --resume to continue the run in it, or choose another --out`);
    }
    const lock = claimDir(out, `--out ${out}`, opts.log);
    if (nonEmpty && opts.force && !opts.resume) {
      try {
        clearRunFiles(out);
      } catch (e) {
        lock.release();
        throw e;
      }
    }
    return { dir: out, lock };
  }
  const safe = name.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^\.+/, '_') || 'run';
  const candidates = function* () {
    yield join('runs', safe);
    const stamp = timestamp();
    yield join('runs', `${safe}-${stamp}`);
    for (let i = 2; ; i++) yield join('runs', `${safe}-${stamp}-${i}`);
  };
  for (const dir of candidates()) {
    if (isNonEmptyDir(dir, LOCK_FILE)) continue;
    try {
      const lock = claimDir(dir, `--out ${dir}`, opts.log);
      if (!isNonEmptyDir(dir, LOCK_FILE)) return { dir, lock }; // still empty now that it is ours
      lock.release();
    } catch (e) {
      if (!(e instanceof FolderLockedError)) throw e; // another process just took this one: try the next name
    }
  }
  throw new Error('unreachable');
}

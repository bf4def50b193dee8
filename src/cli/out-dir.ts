/** Output folders: a non-empty folder is never silently reused. */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../config/errors.js';

const isNonEmptyDir = (p: string) => existsSync(p) && statSync(p).isDirectory() && readdirSync(p).length > 0;

function timestamp(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/**
 * --out given: used as is when absent or empty; a non-empty one needs --force (overwrite) or --resume.
 * No --out: runs/<name>, or runs/<name>-<timestamp> when that is taken.
 */
export function prepareOutDir(name: string, out: string | undefined, opts: { force?: boolean; resume?: boolean } = {}): string {
  let dir: string;
  if (out) {
    if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`--out ${out}: exists and is not a directory`);
    if (isNonEmptyDir(out) && !opts.force && !opts.resume) {
      throw new UsageError(`--out ${out}: folder is not empty; pass --force to overwrite it, --resume to continue the run in it, or choose another --out`);
    }
    dir = out;
  } else {
    const safe = name.replace(/[^A-Za-z0-9_.-]+/g, '-');
    dir = join('runs', safe);
    if (isNonEmptyDir(dir)) dir = join('runs', `${safe}-${timestamp()}`);
    for (let i = 2; isNonEmptyDir(dir); i++) dir = join('runs', `${safe}-${timestamp()}-${i}`);
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

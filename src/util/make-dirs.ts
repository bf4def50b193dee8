/**
 * Folder creation, one level at a time. Node 20's `mkdirSync(dir, { recursive: true })` loops forever at 100% CPU
 * under /proc (mkdir answers ENOENT there, and it keeps creating the parent that exists) and reports ENOENT on a
 * read-only file system (EROFS); here every level is created once and a failure names the level and its errno.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from './errors.js';
import { errnoText } from './errno.js';

function isDir(path: string): boolean | 'missing' {
  try {
    return statSync(path).isDirectory();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw e;
  }
}

/**
 * Creates `dir` and its missing parents. Returns the first folder it created (the top of what is new), or
 * undefined when `dir` already existed. Throws a one-line UsageError (exit 2):
 * `<label>: cannot create the folder[ <level>] (<errno>: <meaning>)`; `label` defaults to `dir`.
 */
export function makeDirs(dir: string, label: string = dir): string | undefined {
  const target = resolve(dir);
  const missing: string[] = [];
  let level = target;
  try {
    for (;;) {
      const state = isDir(level);
      if (state === true) break;
      if (state === false) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${level}'`), { code: 'ENOTDIR' });
      missing.unshift(level);
      const parent = dirname(level);
      if (parent === level) break;
      level = parent;
    }
    for (level of missing) {
      try {
        mkdirSync(level);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || isDir(level) !== true) throw e;
      }
    }
  } catch (e) {
    const where = level === target ? '' : ` ${level}`;
    throw new UsageError(`${label}: cannot create the folder${where} (${errnoText(e)})`);
  }
  return missing[0];
}

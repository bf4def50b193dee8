/**
 * Result files are written whole or not at all: a temporary file beside the target, then a rename. A failure
 * removes the temporary file and throws a FileWriteError naming the target: "<file>: cannot write (ENOSPC: …)".
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FileWriteError } from './errno.js';

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // the write's error is the one to report
    }
    throw new FileWriteError(path, e);
  }
}

export function writeJsonAtomic(path: string, value: unknown, replacer?: (key: string, value: unknown) => unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, replacer, 2)}\n`);
}

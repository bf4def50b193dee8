/** File-system errors as one line: the file, what failed and the errno with its meaning. */

/** "ENOSPC: no space left on device" from a Node.js system error (its message without the syscall and path). */
export function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const message = String(err?.message ?? e).split('\n')[0];
  if (typeof err?.code === 'string') {
    const m = /^([A-Z][A-Z0-9_]+): ([^,]+)/.exec(message);
    return m && m[1] === err.code ? `${m[1]}: ${m[2]}` : err.code;
  }
  return message;
}

/** A result file that could not be written: "<file>: cannot write (ENOSPC: no space left on device)". Exit code 1. */
export class FileWriteError extends Error {
  override name = 'FileWriteError';
  readonly code: string | undefined;
  constructor(readonly path: string, cause: unknown, what = 'cannot write') {
    super(`${path}: ${what} (${errnoText(cause)})`, { cause });
    this.code = (cause as NodeJS.ErrnoException)?.code;
  }
}

/**
 * Reading an input file whole, safely: regular files only (a device such as /dev/zero, a named pipe, a socket or a
 * folder is refused, and a named pipe never blocks: it is opened non-blocking and checked with fstat), and never
 * more than a size cap (at most cap + 1 bytes are read, whatever stat says: a device reports size 0).
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { errnoText } from './errno.js';

/** Why a file could not be read; `message` is one line: "<file>: <reason>". */
export class FileReadError extends Error {
  override name = 'FileReadError';
  constructor(readonly path: string, readonly reason: string, readonly code?: string) {
    super(`${path}: ${reason}`);
  }
}

/** "a named pipe", "a character device"… for a file that is not a regular file. */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

const notRegular = (path: string, st: Stats, expected: string) =>
  new FileReadError(path, `is ${fileKind(st)}, expected ${expected}`, 'ENOTREG');

export interface ReadOptions {
  /** Largest size accepted, in bytes. */
  maxBytes: number;
  /** What the file should be, for messages ("a YAML config file"). */
  expected: string;
  /** Byte offset to read from (default 0): the rest of a file being appended to; `maxBytes` caps what is read. */
  from?: number;
}

/** The bytes of a regular file of at most `maxBytes`; throws a FileReadError otherwise. */
export function readRegularFile(path: string, opts: ReadOptions): Buffer {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileReadError(path, code === 'ENOENT' ? 'file not found' : `cannot read it (${errnoText(e)})`, code);
  }
  if (!st.isFile()) throw notRegular(path, st, opts.expected);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new FileReadError(path, `cannot read it (${errnoText(e)})`, (e as NodeJS.ErrnoException).code);
  }
  try {
    const fst = fstatSync(fd); // the file opened, which may have been swapped since the stat above
    if (!fst.isFile()) throw notRegular(path, fst, opts.expected);
    const chunks: Buffer[] = [];
    let total = 0;
    const from = opts.from ?? 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, opts.maxBytes + 1 - total));
      const n = readSync(fd, buf, 0, buf.length, from + total);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (total > opts.maxBytes) throw new FileReadError(path, `larger than ${opts.maxBytes} bytes, too large for ${opts.expected}`, 'EFBIG');
    }
    return Buffer.concat(chunks, total);
  } catch (e) {
    if (e instanceof FileReadError) throw e;
    throw new FileReadError(path, `cannot read it (${errnoText(e)})`, (e as NodeJS.ErrnoException).code);
  } finally {
    closeSync(fd);
  }
}

/** readRegularFile as UTF-8 text. */
export function readRegularText(path: string, opts: ReadOptions): string {
  return readRegularFile(path, opts).toString('utf8');
}

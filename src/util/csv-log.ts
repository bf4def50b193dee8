/**
 * A CSV log written row by row as results happen: metrics.csv of a run, trials.csv of a search, gradcheck.csv.
 *
 * Rows are formatted by fast-csv and appended with one write each, every row ending with its newline, so that
 * whatever kills the process (kill -9 included) the file ends with a complete row. A write that fails (full disk,
 * file size limit, I/O error) rejects at once with a one-line FileWriteError naming the file and the errno, and
 * the file is cut back to its last complete row: a log never holds half a row.
 */
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { writeToString, type FormatterRow as Row } from 'fast-csv';
import { FileWriteError } from './errno.js';

export type CsvRow = Row;

const NEWLINE = 0x0a;

/** Offset just past the last newline of the file open on `fd` (0 when there is none). */
function endOfLastLine(fd: number, size: number): number {
  const chunk = Buffer.alloc(64 * 1024);
  for (let end = size; end > 0;) {
    const start = Math.max(0, end - chunk.length);
    const n = readSync(fd, chunk, 0, end - start, start);
    const i = chunk.subarray(0, n).lastIndexOf(NEWLINE);
    if (i >= 0) return start + i + 1;
    end = start;
  }
  return 0;
}

export class CsvLog {
  private fd: number | null;
  /** Bytes of complete rows (header included) in the file. */
  private size: number;
  private rowsWritten = 0;
  private pending: Promise<void> = Promise.resolve();

  /**
   * Opens `path` for writing, created or emptied; with `append`, a file that has content keeps it (and its header),
   * cut back to its last complete row should it end with a partial one. Throws a FileWriteError when the file cannot
   * be opened.
   */
  constructor(readonly path: string, readonly columns: readonly string[], append = false) {
    try {
      this.fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_APPEND | (append ? 0 : constants.O_TRUNC), 0o644);
    } catch (e) {
      throw new FileWriteError(path, e, 'cannot open for writing');
    }
    try {
      const st = fstatSync(this.fd);
      this.size = append && st.isFile() ? st.size : 0;
      if (this.size > 0) {
        const complete = endOfLastLine(this.fd, this.size);
        if (complete < this.size) {
          ftruncateSync(this.fd, complete);
          this.size = complete;
        }
      }
    } catch (e) {
      closeSync(this.fd);
      throw new FileWriteError(path, e, 'cannot open for writing');
    }
  }

  /** Rows this log has written (not counting those the file held when it was opened). */
  get rows(): number {
    return this.rowsWritten;
  }

  /**
   * Appends one row (the header before the first row of an empty file). Resolves once the row is in the file
   * (handed to the operating system); rejects with a FileWriteError, the file cut back to its last complete row.
   * Rows are written in the order of the calls.
   */
  write(row: CsvRow): Promise<void> {
    const done = this.pending.then(() => this.append(row));
    this.pending = done.catch(() => {});
    return done;
  }

  private async append(row: CsvRow): Promise<void> {
    if (this.fd === null) throw new FileWriteError(this.path, new Error('the log is closed'));
    const text = await writeToString([row], { headers: [...this.columns], writeHeaders: this.size === 0, includeEndRowDelimiter: true });
    const bytes = Buffer.from(text, 'utf8');
    try {
      for (let off = 0; off < bytes.length;) off += writeSync(this.fd, bytes, off, bytes.length - off);
    } catch (e) {
      try {
        ftruncateSync(this.fd, this.size);
      } catch {
        // a device (/dev/full) has no size to cut back to; a file that cannot be truncated keeps its error below
      }
      throw new FileWriteError(this.path, e);
    }
    this.size += bytes.length;
    this.rowsWritten++;
  }

  /** Waits for the rows being written (their errors went to their `write`) and closes the file. */
  async close(): Promise<void> {
    await this.pending;
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      closeSync(fd);
    } catch (e) {
      throw new FileWriteError(this.path, e, 'cannot close');
    }
  }
}

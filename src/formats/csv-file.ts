/**
 * Reading the CSV files this tool appends to (metrics.csv, trials.csv, rungs.csv, gradcheck.csv, lr-find.csv), also
 * while they are being written: the rows come from fast-csv; a file is read from a byte offset to its last newline,
 * so that a row still being appended (a partial last line) is not taken for a row, and the next read starts there.
 * Writing is util/csv-log.ts (each row one write, newline included).
 */
import { statSync, truncateSync } from 'node:fs';
import { parseString } from 'fast-csv';
import { UsageError } from '../util/errors.js';
import { FileReadError, readRegularFile } from '../util/read-file.js';

const NEWLINE = 0x0a;

/** What a read of a CSV file found: its records (header included when read from 0), and where the next read starts. */
export interface CsvRead {
  records: string[][];
  /** Byte offset just past the last complete line read (the offset to read from next time). */
  end: number;
  /** Whether the file ended with a partial line (left for the next read, or taken as a row with `lastLine: 'row'`). */
  partial: boolean;
}

export interface CsvReadOptions {
  maxBytes: number;
  /** What the file should be, for messages. */
  expected: string;
  /** Offset to read from: a previous read's `end` (default 0, the whole file). */
  from?: number;
  /**
   * What a last line without its newline is: 'partial' (default: a row still being written, left for the next read)
   * or 'row' (a finished file written by hand or by another tool: parsed, and dropped by the caller if malformed).
   */
  lastLine?: 'partial' | 'row';
}

/** The records of a CSV text. */
export function parseCsv(text: string): Promise<string[][]> {
  if (text.trim() === '') return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const out: string[][] = [];
    parseString<string[], string[]>(text, { headers: false, ignoreEmpty: true })
      .on('error', reject)
      .on('data', (r: string[]) => out.push(r))
      .on('end', () => resolve(out));
  });
}

/** The records of `path` from `from` on; null when the file does not exist. Throws a FileReadError when it cannot be read. */
export async function readCsv(path: string, opts: CsvReadOptions): Promise<CsvRead | null> {
  const from = opts.from ?? 0;
  let bytes: Buffer;
  try {
    bytes = readRegularFile(path, { maxBytes: opts.maxBytes, expected: opts.expected, from });
  } catch (e) {
    if (e instanceof FileReadError && e.code === 'ENOENT') return null;
    throw e;
  }
  const complete = bytes.lastIndexOf(NEWLINE) + 1;
  const partial = complete < bytes.length;
  const taken = partial && opts.lastLine === 'row' ? bytes.length : complete;
  return { records: await parseCsv(bytes.subarray(0, taken).toString('utf8').replace(/^\uFEFF/, '')), end: from + complete, partial };
}

/** A header cell as written, unquoted and trimmed. */
export const headerCell = (s: string) => s.trim().replace(/^"(.*)"$/, '$1');

/**
 * A CSV file being appended to, read as it grows: each read() returns the records completed since the last one,
 * the header apart (`header` once read). A file that shrank (replaced, cut back) is read again from its start, and
 * that read says `restarted`. Nothing is written: the reader of a live folder.
 */
export class CsvTail {
  private offset = 0;
  header: string[] | null = null;

  constructor(readonly path: string, private readonly opts: { maxBytes: number; expected: string }) {}

  async read(): Promise<{ records: string[][]; restarted: boolean }> {
    const size = statSync(this.path, { throwIfNoEntry: false })?.size;
    if (size === undefined) return { records: [], restarted: false };
    const restarted = size < this.offset;
    if (restarted) {
      this.offset = 0;
      this.header = null;
    }
    if (size === this.offset) return { records: [], restarted };
    const read = await readCsv(this.path, { ...this.opts, from: this.offset });
    if (!read) return { records: [], restarted };
    this.offset = read.end;
    let records = read.records;
    if (!this.header) {
      if (records.length === 0) return { records: [], restarted };
      this.header = records[0].map(headerCell);
      records = records.slice(1);
    }
    return { records, restarted };
  }
}

// ---------------------------------------------------------------------------------------------------------
// The CSV files of a search folder (trials.csv, rungs.csv)

/** Largest trials.csv or rungs.csv read (a row is about 150 bytes). */
export const MAX_SEARCH_CSV_BYTES = 256 * 2 ** 20;

/** "resume with the folder of a search" message of a CSV whose header is not this tool's. */
export function headerMismatch(path: string, header: string[], columns: readonly string[], what: string): UsageError {
  const shown = header.join(',');
  return new UsageError(`${path}: not a ${what} of this tool: unexpected header ${JSON.stringify(shown.length > 80 ? `${shown.slice(0, 77)}...` : shown)} ` +
    `(expected ${columns.join(',')}); resume with the folder of a search, or start a new one with --force or another --out`);
}

/** A CSV of a search folder that cannot be read is a UsageError (exit 2) naming it. */
export async function readSearchCsv(path: string, expected: string): Promise<CsvRead | null> {
  try {
    return await readCsv(path, { maxBytes: MAX_SEARCH_CSV_BYTES, expected });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * Cuts a partial last line (a row being written when the process died) off a file this tool appends to, so that rows
 * appended later start on a line of their own. Called by the search that resumes into it, once the header shows the
 * file is ours; never by a reader of a live folder.
 */
export function cutPartialLine(path: string, read: CsvRead | null): void {
  if (!read?.partial) return;
  try {
    truncateSync(path, read.end);
  } catch (e) {
    throw new UsageError(`${path}: cannot cut its partial last line (${(e as Error).message})`);
  }
}


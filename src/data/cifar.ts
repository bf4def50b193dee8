/**
 * Reader for CIFAR-10's binary layout: records of 3073 bytes, one label byte (0..9) then
 * 1024 red, 1024 green, 1024 blue bytes. Pixels stay uint8 in memory, in a SharedArrayBuffer
 * so that worker threads (search trials) share one copy.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../util/errors.js';

export const RECORD_BYTES = 3073;
export const PIXELS = 3072;
export const CLASSES = 10;

/** count records: pixels is count × 3072 uint8, labels count uint8. */
export interface Dataset {
  pixels: Uint8Array;
  labels: Uint8Array;
  count: number;
}

/** A data file that cannot be used: one line naming the file and the problem; exit code 2. */
export class DataError extends UsageError {
  override name = 'DataError';
  constructor(message: string) {
    super(message);
  }
}

function fsProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT': return 'file not found';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'is a directory, expected a CIFAR-10 batch file';
    case 'ENOTDIR': return 'a part of the path is not a directory';
    case 'ELOOP': return 'too many symbolic links';
    case 'ENAMETOOLONG': return 'path too long';
    default: return `cannot read it (${code ?? (e as Error).message})`;
  }
}

/** Bytes of a CIFAR batch file after validating that it is a regular, non-empty file of whole records. */
function recordCount(path: string): number {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new DataError(`${path}: ${fsProblem(e)}`);
  }
  if (st.isDirectory()) throw new DataError(`${path}: is a directory, expected a CIFAR-10 batch file`);
  if (!st.isFile()) throw new DataError(`${path}: not a regular file`);
  if (st.size === 0) throw new DataError(`${path}: file is empty`);
  if (st.size % RECORD_BYTES !== 0) {
    throw new DataError(`${path}: size ${st.size} is not a multiple of ${RECORD_BYTES} bytes (truncated or not a CIFAR-10 binary batch)`);
  }
  return st.size / RECORD_BYTES;
}

/** Reads and validates several batch files into one shared dataset (records in file order). */
export function readBatches(paths: string[]): Dataset {
  const counts = paths.map(recordCount);
  const count = counts.reduce((a, b) => a + b, 0);
  let pixels: Uint8Array, labels: Uint8Array;
  try {
    pixels = new Uint8Array(new SharedArrayBuffer(count * PIXELS));
    labels = new Uint8Array(new SharedArrayBuffer(count));
  } catch {
    throw new DataError(`${paths.join(', ')}: ${count} records (${(count * PIXELS / 2 ** 30).toFixed(1)} GiB) do not fit in memory`);
  }
  const chunkRecords = 1000;
  const buf = Buffer.allocUnsafe(chunkRecords * RECORD_BYTES);
  let at = 0;
  paths.forEach((path, f) => {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new DataError(`${path}: ${fsProblem(e)}`);
    }
    try {
      if (fstatSync(fd).size !== counts[f] * RECORD_BYTES) throw new DataError(`${path}: file changed while reading`);
      for (let done = 0; done < counts[f]; ) {
        const n = Math.min(chunkRecords, counts[f] - done);
        const bytes = n * RECORD_BYTES;
        let got = 0;
        while (got < bytes) {
          let r: number;
          try {
            r = readSync(fd, buf, got, bytes - got, null);
          } catch (e) {
            throw new DataError(`${path}: ${fsProblem(e)}`);
          }
          if (r === 0) throw new DataError(`${path}: unexpected end of file`);
          got += r;
        }
        for (let i = 0; i < n; i++) {
          const o = i * RECORD_BYTES, label = buf[o];
          if (label >= CLASSES) {
            throw new DataError(`${path}: record ${done + i} has label ${label}, expected 0..9 (not a CIFAR-10 binary batch?)`);
          }
          labels[at] = label;
          pixels.set(buf.subarray(o + 1, o + RECORD_BYTES), at * PIXELS);
          at++;
        }
        done += n;
      }
    } finally {
      closeSync(fd);
    }
  });
  return { pixels, labels, count };
}

export function batchPath(dir: string, name: string): string {
  return join(dir, name.endsWith('.bin') ? name : `${name}.bin`);
}

/** Records [start, end) of a dataset, sharing its memory. */
export function slice(ds: Dataset, start: number, end: number): Dataset {
  return { pixels: ds.pixels.subarray(start * PIXELS, end * PIXELS), labels: ds.labels.subarray(start, end), count: end - start };
}

/** Writes records in CIFAR binary layout (for tests and synthetic data). */
export function encodeRecords(labels: ArrayLike<number>, pixels: Uint8Array): Buffer {
  const out = Buffer.alloc(labels.length * RECORD_BYTES);
  for (let i = 0; i < labels.length; i++) {
    out[i * RECORD_BYTES] = labels[i];
    out.set(pixels.subarray(i * PIXELS, (i + 1) * PIXELS), i * RECORD_BYTES + 1);
  }
  return out;
}

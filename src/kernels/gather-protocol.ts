/**
 * What the gather helper (gather-thread.ts, the worker) and its owner (gather-worker.ts, the calling thread) share:
 * the slots of the control Int32Array, the worker's start data, the one message it receives, and the gather of one
 * chunk of rows that both threads run.
 *
 * Control: an Int32Array over a SharedArrayBuffer. Addresses in the memory (up to 4 GiB) are read back unsigned
 * (`>>> 0`): one above 2 GiB is negative as an int32. The caller writes a job (a gather: SEQ; a product's half: GSEQ)
 * and bumps WAKE; the idle worker sleeps on WAKE. New record sets reach the worker as RecordsMessages that it reads
 * synchronously (receiveMessageOnPort) when it wakes; MESSAGES counts those posted, so none is missed.
 */
import type { MessagePort } from 'node:worker_threads';
import { copyRows } from './copy-rows.js';
import { transformRows } from './image-transform.js';

export const SLOT = {
  SEQ: 0, NEXT: 1, TOTAL: 2, COMPLETED: 3, COUNT: 4, D: 5, STAGING: 6, OUT: 7, RECORDS: 8, NORM: 9, FAIL: 10,
  MESSAGES: 11, PAUSE: 12, DEAD: 13,
  // set by the worker when it cannot run products (the FFI or the library did not load there): NOBLAS = 1
  NOBLAS: 15,
  // any new job (a gather or a product) bumps WAKE, on which the idle worker sleeps
  WAKE: 14,
  // a product's half (gemmAsync): its number, the last one done, failure, then cblas_sgemm's arguments; alpha and beta
  // are float64 at Int32 slots GF, GF + 1 (alpha) and GF + 2, GF + 3 (beta)
  GSEQ: 16, GDONE: 17, GFAIL: 18, G_TA: 19, G_TB: 20, G_M: 21, G_N: 22, G_K: 23, G_A: 24, G_LDA: 25, G_B: 26, G_LDB: 27,
  G_C: 28, G_LDC: 29, GF: 32,
  // an augmented gather: AUGMENT = 1, the padding image's address (FILL), and where the rows' packed transforms start
  // (CODES: an Int32 index, after the rows)
  AUGMENT: 30, FILL: 31, CODES: 36,
  ROWS: 40,
} as const;

/** Rows per chunk (one group of copyRows; a few microseconds per row of 3072 values): the most the caller may wait for at join(). */
export const ROWS_PER_CHUNK = 8;

/** The wasm exports both threads run. */
export interface NormaliseExports {
  normalisers(mean: number, invStd: number, scale: number, shift: number, d: number): void;
  normaliseRows(src: number, d: number, scale: number, shift: number, out: number, r0: number, r1: number): void;
}

/** What the helper needs to run products' halves on the caller's BLAS. */
export interface HelperBlas {
  /** The koffi module's file (require.resolve), so that the worker loads the same FFI. */
  koffi: string;
  /** The library, as the caller loaded it (a path or a name the system loader resolves). */
  path: string;
  /** cblas_sgemm's C declaration. */
  decl: string;
}

/** The worker's workerData. */
export interface GatherWorkerData {
  /** The wasm kernels module, instantiated by the worker over `memory`. */
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** The control slots (SLOT), then the rows of the gather (from SLOT.ROWS), then their transforms (from ctrl[SLOT.CODES]). */
  ctrl: SharedArrayBuffer;
  /** Where RecordsMessages arrive. */
  port: MessagePort;
  /** The BLAS for products' halves; null: gathers only. */
  blas: HelperBlas | null;
  /** Microseconds the idle worker watches WAKE before it sleeps on it (a job that comes sooner needs no futex wake). */
  spinMicros: number;
}

/** The one message the worker posts: it has loaded (the kernels, and the BLAS where it was given one) and waits for jobs. */
export const GATHER_READY = 'ready';

/** A record set, sent once: gathers name it by `id` (SLOT.RECORDS). */
export interface RecordsMessage {
  id: number;
  records: SharedArrayBuffer;
  byteOffset: number;
  length: number;
}

/**
 * Gathers chunk `chunk` of the job in `ctrl`: copies its rows' records (transformed, for an augmented gather) into
 * the staging rows, then normalises them.
 */
export function runChunk(ctrl: Int32Array, ex: NormaliseExports, buffer: ArrayBufferLike, src: Uint8Array, chunk: number): void {
  const count = ctrl[SLOT.COUNT], d = ctrl[SLOT.D], staging = ctrl[SLOT.STAGING] >>> 0, norm = ctrl[SLOT.NORM] >>> 0;
  const r0 = chunk * ROWS_PER_CHUNK, r1 = Math.min(count, r0 + ROWS_PER_CHUNK);
  const rows = new Uint8Array(buffer, staging + r0 * d, (r1 - r0) * d);
  if (ctrl[SLOT.AUGMENT]) transformRows(src, ctrl, SLOT.ROWS, r0, r1, ctrl, ctrl[SLOT.CODES], new Uint8Array(buffer, ctrl[SLOT.FILL] >>> 0, d), rows);
  else copyRows(src, ctrl, SLOT.ROWS, r0, r1, d, rows);
  ex.normaliseRows(staging, d, norm, norm + d * 4, ctrl[SLOT.OUT] >>> 0, r0, r1);
}

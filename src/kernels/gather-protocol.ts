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
  /** The control slots (SLOT), then the rows of the gather (from SLOT.ROWS). */
  ctrl: SharedArrayBuffer;
  /** Where RecordsMessages arrive. */
  port: MessagePort;
  /** The BLAS for products' halves; null: gathers only. */
  blas: HelperBlas | null;
}

/** A record set, sent once: gathers name it by `id` (SLOT.RECORDS). */
export interface RecordsMessage {
  id: number;
  records: SharedArrayBuffer;
  byteOffset: number;
  length: number;
}

/** Gathers chunk `chunk` of the job in `ctrl`: copies its rows' records into the staging rows, then normalises them. */
export function runChunk(ctrl: Int32Array, ex: NormaliseExports, buffer: ArrayBufferLike, src: Uint8Array, chunk: number): void {
  const count = ctrl[SLOT.COUNT], d = ctrl[SLOT.D], staging = ctrl[SLOT.STAGING] >>> 0, norm = ctrl[SLOT.NORM] >>> 0;
  const r0 = chunk * ROWS_PER_CHUNK, r1 = Math.min(count, r0 + ROWS_PER_CHUNK);
  copyRows(src, ctrl, SLOT.ROWS, r0, r1, d, new Uint8Array(buffer, staging + r0 * d, (r1 - r0) * d));
  ex.normaliseRows(staging, d, norm, norm + d * 4, ctrl[SLOT.OUT] >>> 0, r0, r1);
}

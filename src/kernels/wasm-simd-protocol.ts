/**
 * What the wasm-simd backend (wasm-simd.ts, the calling thread) and its worker threads (wasm-simd-thread.ts, bundled
 * as dist/wasm-simd-thread.js) share: the control slots, the workers' start data and the chunk loop both run.
 *
 * A job is a kernel call whose output range (args[RANGE], args[RANGE + 1]) is cut into TOTAL chunks of CHUNK
 * (a multiple of the kernel's block size, so results do not depend on the thread count). Every thread, the caller
 * included, claims chunks with Atomics.add on NEXT until none is left: a thread that starts late (descheduled on
 * a busy machine) takes fewer chunks instead of holding everyone up.
 *
 * Control SharedArrayBuffer (Int32 slots; f64 slots for the arguments):
 *   SEQ       job generation: the caller bumps it and notifies; idle workers spin spinMicros, then Atomics.wait on it
 *   NEXT      next chunk to claim; CLOSED (huge) while no job is open, so a late worker claims nothing stale
 *   TOTAL     chunks in the job;  COMPLETED  chunks finished (the thread finishing the last one notifies)
 *   FAIL      set to 1 by a worker whose chunk threw (the caller rethrows after the join)
 *   OP        index in OPS of the kernel export, or −1: quit
 *   RANGE, CHUNK, NARGS, SCRATCH (argument index of a per-thread scratch pointer, or −1)
 *   DEAD      set by a worker thread that exits (the caller stops waiting for a chunk that will never finish)
 *   f64 args at ARGS_AT, per-thread scratch pointers at SCRATCH_AT + thread index.
 * The caller writes a job's arguments only while NEXT is CLOSED and opens it (Atomics.store) after them, so a
 * worker that claims a chunk sees that job's arguments. A worker posts one message, WORKER_READY, once it waits
 * for jobs.
 */
export const CTRL = { SEQ: 0, NEXT: 1, TOTAL: 2, COMPLETED: 3, FAIL: 4, OP: 5, RANGE: 6, CHUNK: 7, NARGS: 8, SCRATCH: 9, DEAD: 10 } as const;
export const CLOSED = 0x40000000;
export const ARGS_AT = 8; // in f64 slots (byte offset 64, after the Int32 slots)
export const MAX_ARGS = 24;
export const SCRATCH_AT = ARGS_AT + MAX_ARGS; // f64 slots, one per thread
export const MAX_THREADS = 256;
export const CTRL_BYTES = (SCRATCH_AT + MAX_THREADS) * 8;

/** Kernel exports callable through the job queue, by index. */
export const OPS = ['gemmNT', 'gemmBcast', 'gemmGeneric', 'normaliseRows'] as const;

/** A worker's workerData. */
export interface WasmSimdWorkerData {
  /** The wasm kernels module, instantiated by the worker over `memory`. */
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** The control slots (CTRL; f64 arguments at ARGS_AT, scratch pointers at SCRATCH_AT). */
  ctrl: SharedArrayBuffer;
  /** The thread's index (1 …; the caller is 0): its scratch pointer is at SCRATCH_AT + index. */
  index: number;
  /** Microseconds an idle worker spins before it sleeps. */
  spinMicros: number;
}

/** The message a worker posts once it waits for jobs. */
export const WORKER_READY = 'ready';
export type WasmSimdWorkerMessage = typeof WORKER_READY;

/** A kernel export callable through the job queue. */
export type KernelFn = (...args: number[]) => void;

/**
 * Claims and runs chunks of the open job until none is left (the caller and the workers alike).
 * Returns how many chunks this thread ran; errors go to `errors` (and set FAIL).
 */
export function runChunks(ctrl: Int32Array, f64: Float64Array, fns: KernelFn[], index: number, args: number[], errors: unknown[]): number {
  for (let ran = 0; ; ran++) {
    const i = Atomics.add(ctrl, CTRL.NEXT, 1);
    const total = Atomics.load(ctrl, CTRL.TOTAL);
    if (i >= total) return ran;
    const n = ctrl[CTRL.NARGS], r = ctrl[CTRL.RANGE], sc = ctrl[CTRL.SCRATCH], chunk = ctrl[CTRL.CHUNK];
    args.length = n;
    for (let k = 0; k < n; k++) args[k] = f64[ARGS_AT + k];
    const lo = args[r] + i * chunk, hi = Math.min(args[r + 1], lo + chunk);
    args[r] = lo;
    args[r + 1] = hi;
    if (sc >= 0) args[sc] = f64[SCRATCH_AT + index];
    try {
      fns[ctrl[CTRL.OP]](...args);
    } catch (e) {
      errors.push(e);
      Atomics.store(ctrl, CTRL.FAIL, 1);
    }
    if (Atomics.add(ctrl, CTRL.COMPLETED, 1) + 1 === total) Atomics.notify(ctrl, CTRL.COMPLETED);
  }
}

/**
 * The worker side of the wasm-simd backend, as source text run with `new Worker(code, { eval: true })`:
 * one string works the same from src/ under vitest and from the esbuild bundle in dist/, with no file to locate.
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
 * worker that claims a chunk sees that job's arguments.
 */
export const CTRL = { SEQ: 0, NEXT: 1, TOTAL: 2, COMPLETED: 3, FAIL: 4, OP: 5, RANGE: 6, CHUNK: 7, NARGS: 8, SCRATCH: 9, DEAD: 10 } as const;
export const CLOSED = 0x40000000;
export const ARGS_AT = 8; // in f64 slots (byte offset 64, after the Int32 slots)
export const MAX_ARGS = 24;
export const SCRATCH_AT = ARGS_AT + MAX_ARGS; // f64 slots, one per thread
export const MAX_THREADS = 256;
export const CTRL_BYTES = (SCRATCH_AT + MAX_THREADS) * 8;

/** Kernel exports callable through the job queue, by index. */
export const OPS = ['gemmNT', 'gemmBcast', 'gemmGeneric', 'normaliseRows', 'sgdUpdate'] as const;

/**
 * Claims and runs chunks of the open job until none is left (shared by the caller and, as source text, the workers).
 * Returns how many chunks this thread ran; errors go to `errors` (and set FAIL).
 */
export function runChunks(ctrl: Int32Array, f64: Float64Array, fns: ((...a: number[]) => void)[], index: number, args: number[], C: typeof CTRL, ARGS: number, SCRATCH: number, errors: unknown[]): number {
  for (let ran = 0; ; ran++) {
    const i = Atomics.add(ctrl, C.NEXT, 1);
    const total = Atomics.load(ctrl, C.TOTAL);
    if (i >= total) return ran;
    const n = ctrl[C.NARGS], r = ctrl[C.RANGE], sc = ctrl[C.SCRATCH], chunk = ctrl[C.CHUNK];
    args.length = n;
    for (let k = 0; k < n; k++) args[k] = f64[ARGS + k];
    const lo = args[r] + i * chunk, hi = Math.min(args[r + 1], lo + chunk);
    args[r] = lo;
    args[r + 1] = hi;
    if (sc >= 0) args[sc] = f64[SCRATCH + index];
    try {
      fns[ctrl[C.OP]](...args);
    } catch (e) {
      errors.push(e);
      Atomics.store(ctrl, C.FAIL, 1);
    }
    if (Atomics.add(ctrl, C.COMPLETED, 1) + 1 === total) Atomics.notify(ctrl, C.COMPLETED);
  }
}

export const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { module, memory, ctrl: sab, index, spinMicros } = workerData;
const C = ${JSON.stringify(CTRL)}, ARGS_AT = ${ARGS_AT}, SCRATCH_AT = ${SCRATCH_AT};
const OPS = ${JSON.stringify(OPS)};
const runChunks = ${runChunks.toString()};
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const fns = OPS.map((name) => ex[name]);
const ctrl = new Int32Array(sab), f64 = new Float64Array(sab);
const args = [], errors = [];
process.on('exit', () => { Atomics.store(ctrl, C.DEAD, 1); Atomics.notify(ctrl, C.COMPLETED); });
let seen = Atomics.load(ctrl, C.SEQ); // before 'ready': the first job may follow it at once
parentPort.postMessage('ready');
for (;;) {
  // spin for spinMicros (the next job of a training step usually follows within a few hundred µs), then sleep
  let s = 0, t0 = -1;
  while (Atomics.load(ctrl, C.SEQ) === seen) {
    if ((++s & 63) !== 0) continue;
    const now = performance.now();
    if (t0 < 0) t0 = now;
    else if ((now - t0) * 1000 >= spinMicros) Atomics.wait(ctrl, C.SEQ, seen);
  }
  seen = Atomics.load(ctrl, C.SEQ);
  if (Atomics.load(ctrl, C.OP) < 0) break;
  errors.length = 0;
  runChunks(ctrl, f64, fns, index, args, C, ARGS_AT, SCRATCH_AT, errors);
}
`;

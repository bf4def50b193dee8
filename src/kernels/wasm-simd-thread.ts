/**
 * A worker thread of the wasm-simd backend (bundled as dist/wasm-simd-thread.js; protocol: wasm-simd-protocol.ts):
 * waits for a job (spinning spinMicros, then sleeping on SEQ), claims its chunks until none is left, and again.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CTRL, OPS, runChunks, WORKER_READY, type KernelFn, type WasmSimdWorkerData, type WasmSimdWorkerMessage } from './wasm-simd-protocol.js';

const { module, memory, ctrl: sab, index, spinMicros } = workerData as WasmSimdWorkerData;
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as Record<string, KernelFn>;
const fns = OPS.map((name) => exports[name]);
const ctrl = new Int32Array(sab), f64 = new Float64Array(sab);
const args: number[] = [], errors: unknown[] = [];
process.on('exit', () => {
  Atomics.store(ctrl, CTRL.DEAD, 1);
  Atomics.notify(ctrl, CTRL.COMPLETED);
});
let seen = Atomics.load(ctrl, CTRL.SEQ); // before 'ready': the first job may follow it at once
parentPort!.postMessage(WORKER_READY satisfies WasmSimdWorkerMessage);
for (;;) {
  // spin for spinMicros (the next job of a training step usually follows within a few hundred µs), then sleep
  let s = 0, t0 = -1;
  while (Atomics.load(ctrl, CTRL.SEQ) === seen) {
    if ((++s & 63) !== 0) continue;
    const now = performance.now();
    if (t0 < 0) t0 = now;
    else if ((now - t0) * 1000 >= spinMicros) Atomics.wait(ctrl, CTRL.SEQ, seen);
  }
  seen = Atomics.load(ctrl, CTRL.SEQ);
  if (Atomics.load(ctrl, CTRL.OP) < 0) break;
  errors.length = 0;
  runChunks(ctrl, f64, fns, index, args, errors);
}

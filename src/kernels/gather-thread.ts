/**
 * The gather helper's thread (bundled as dist/gather-thread.js; started by gather-worker.ts, which describes what it
 * does). It sleeps on WAKE; woken, it runs a product's half when one is posted (it comes first: the caller waits for
 * it), then claims chunks of the open gather until none is left, looking at PAUSE between chunks.
 */
import { createRequire } from 'node:module';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { Koffi, Sgemm } from './blas-library.js';
import { GATHER_READY, runChunk, SLOT, type GatherWorkerData, type NormaliseExports, type RecordsMessage } from './gather-protocol.js';

const { module, memory, ctrl: sab, port, blas, spinMicros } = workerData as GatherWorkerData;
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as NormaliseExports;
const ctrl = new Int32Array(sab);
const scalars = new Float64Array(sab, SLOT.GF * 4, 2);
const records = new Map<number, Uint8Array>();

process.on('exit', () => {
  Atomics.store(ctrl, SLOT.DEAD, 1);
  Atomics.notify(ctrl, SLOT.COMPLETED);
  Atomics.notify(ctrl, SLOT.GDONE);
});

function loadSgemm(): Sgemm | null {
  if (!blas) return null;
  try {
    return (createRequire(import.meta.url)(blas.koffi) as Koffi).load(blas.path).func(blas.decl) as Sgemm;
  } catch (e) {
    Atomics.store(ctrl, SLOT.NOBLAS, 1); // the caller computes its products whole
    Atomics.notify(ctrl, SLOT.GDONE);
    console.error(`cifar-mlp: the helper thread cannot run products: ${(e as Error).message}`);
    return null;
  }
}
const sgemm = loadSgemm();
parentPort!.postMessage(GATHER_READY);

/**
 * The memory as this thread sees it, reaching at least byte `end`: another thread's memory.grow reaches this one's
 * view asynchronously; grow(0) brings it up to date at once.
 */
function bufferReaching(end: number): ArrayBufferLike {
  if (memory.buffer.byteLength < end) memory.grow(0);
  return memory.buffer;
}

let gemmSeen = 0;
function runGemm(): void {
  if (!sgemm) return; // the caller sees NOBLAS
  const g = Atomics.load(ctrl, SLOT.GSEQ);
  if (g === gemmSeen) return;
  gemmSeen = g;
  try {
    const a = ctrl[SLOT.G_A] >>> 0, b = ctrl[SLOT.G_B] >>> 0, c = ctrl[SLOT.G_C] >>> 0;
    const buf = bufferReaching(Math.max(a, b, c) + 4);
    sgemm(101, ctrl[SLOT.G_TA], ctrl[SLOT.G_TB], ctrl[SLOT.G_M], ctrl[SLOT.G_N], ctrl[SLOT.G_K], scalars[0],
      new Float32Array(buf, a), ctrl[SLOT.G_LDA], new Float32Array(buf, b), ctrl[SLOT.G_LDB],
      scalars[1], new Float32Array(buf, c), ctrl[SLOT.G_LDC]);
  } catch (e) {
    Atomics.store(ctrl, SLOT.GFAIL, 1);
    console.error(`cifar-mlp: a product on the helper thread failed: ${(e as Error).message}`);
  }
  Atomics.store(ctrl, SLOT.GDONE, g);
  Atomics.notify(ctrl, SLOT.GDONE);
}

let received = 0;
/** Reads the record sets posted since the last call. */
function receiveRecords(): void {
  while (received < Atomics.load(ctrl, SLOT.MESSAGES)) {
    const m = receiveMessageOnPort(port);
    if (!m) continue;
    received++;
    const { id, records: buffer, byteOffset, length } = m.message as RecordsMessage;
    records.set(id, new Uint8Array(buffer, byteOffset, length));
  }
}

/** Returns once WAKE differs from `seen`: watched for spinMicros (the next product of a step is usually that close), then slept on. */
function waitForJob(seen: number): void {
  const t0 = performance.now();
  for (let s = 1; Atomics.load(ctrl, SLOT.WAKE) === seen; s++) {
    if ((s & 63) === 0 && (performance.now() - t0) * 1000 >= spinMicros) {
      Atomics.wait(ctrl, SLOT.WAKE, seen);
      return;
    }
  }
}

let wake = 0, gen = -1, doneGen = 0, total = 0;
let src: Uint8Array | undefined;
for (;;) {
  waitForJob(wake);
  wake = Atomics.load(ctrl, SLOT.WAKE);
  if (Atomics.load(ctrl, SLOT.SEQ) < 0) break;
  for (;;) {
    runGemm();
    while (Atomics.load(ctrl, SLOT.PAUSE) === 1) Atomics.wait(ctrl, SLOT.PAUSE, 1, 20);
    if ((Atomics.load(ctrl, SLOT.SEQ) & 0x7fff) === doneGen) break; // no gather opened since the last one ran out
    // a claim names its job: a claim on a job opened since the last one (its fields all written) switches to it
    const claim = Atomics.add(ctrl, SLOT.NEXT, 1), chunk = claim & 0xffff;
    if (claim >>> 16 !== gen) {
      receiveRecords();
      gen = claim >>> 16;
      src = records.get(ctrl[SLOT.RECORDS]);
      total = ctrl[SLOT.TOTAL];
    }
    if (chunk >= total) {
      doneGen = gen;
      break;
    }
    try {
      const n = ctrl[SLOT.COUNT] * ctrl[SLOT.D];
      runChunk(ctrl, ex, bufferReaching(Math.max((ctrl[SLOT.STAGING] >>> 0) + n, (ctrl[SLOT.OUT] >>> 0) + 4 * n, (ctrl[SLOT.FILL] >>> 0) + ctrl[SLOT.D])), src!, chunk);
    } catch {
      Atomics.store(ctrl, SLOT.FAIL, 1);
    }
    if (Atomics.add(ctrl, SLOT.COMPLETED, 1) + 1 === total) Atomics.notify(ctrl, SLOT.COMPLETED);
  }
}

/**
 * A helper thread that assembles the next mini-batch (gathers its uint8 records, normalises them to float32) into a
 * matrix of a shared WebAssembly.Memory while the calling thread trains on the current one: the batch gather off
 * the critical path. Both threads run the wasm kernels module's `normaliseRows` over the same memory. Created with
 * the BLAS (the blas backend on two threads), it also computes one half of each large product (gemmAsync), before
 * any gather chunk it has not begun: the caller computes the other half meanwhile and waits for this one.
 *
 * It is meant to use the time a core would otherwise idle, and never to make a step slower:
 * - where the BLAS runs its own threads, the caller pauses it around the multi-threaded products (pause()/resume()),
 *   whose threads need every core; it looks at the pause flag between chunks of a few rows, and sleeps
 *   (Atomics.wait) while it is set;
 * - the rows are cut into chunks that both threads claim (Atomics.add on NEXT): when the caller needs the batch
 *   (join()), it gathers whatever chunks the helper has not claimed yet itself, and waits only for a chunk under way.
 *   So on a machine so loaded that the helper seldom runs, the caller simply gathers inline, as without a helper.
 *
 * Control: an Int32Array over a SharedArrayBuffer. Addresses in the memory (up to 4 GiB) are read back unsigned
 * (`>>> 0`): one above 2 GiB is negative as an int32. The caller writes a job (a gather: SEQ; a product's half: GSEQ)
 * and bumps WAKE; the idle worker sleeps on WAKE. New record sets reach the worker as messages that it reads
 * synchronously (receiveMessageOnPort) when it wakes; MESSAGES counts those posted, so none is missed.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
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

/** A gather whose chunks have not advanced for this long means the worker is gone (a chunk takes microseconds). */
const STALL_MS = 10_000;
/** A product's half not done after this long means the worker is gone (the largest take a fraction of a second). */
const GEMM_STALL_MS = 60_000;

/** The wasm exports both threads run. */
export interface NormaliseExports {
  normalisers(mean: number, invStd: number, scale: number, shift: number, d: number): void;
  normaliseRows(src: number, d: number, scale: number, shift: number, out: number, r0: number, r1: number): void;
}

/**
 * Gathers chunk `chunk` of the job in `ctrl`: copies its rows' records into the staging rows, then normalises them.
 * The same function, as source text, runs in the worker (so it names nothing from outside: copyRows is a parameter).
 */
export function runChunk(ctrl: Int32Array, S: typeof SLOT, ex: NormaliseExports, buffer: ArrayBufferLike, src: Uint8Array, chunk: number, rowsPerChunk: number, copy: typeof copyRows): void {
  const count = ctrl[S.COUNT], d = ctrl[S.D], staging = ctrl[S.STAGING] >>> 0, norm = ctrl[S.NORM] >>> 0;
  const r0 = chunk * rowsPerChunk, r1 = Math.min(count, r0 + rowsPerChunk);
  copy(src, ctrl, S.ROWS, r0, r1, d, new Uint8Array(buffer, staging + r0 * d, (r1 - r0) * d));
  ex.normaliseRows(staging, d, norm, norm + d * 4, ctrl[S.OUT] >>> 0, r0, r1);
}

const SOURCE = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { module, memory, ctrl: sab, port, blas } = workerData;
const S = ${JSON.stringify(SLOT)}, ROWS_PER_CHUNK = ${ROWS_PER_CHUNK};
const copyRows = ${copyRows.toString()};
const runChunk = ${runChunk.toString()};
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctrl = new Int32Array(sab);
const records = new Map();
process.on('exit', () => { Atomics.store(ctrl, S.DEAD, 1); Atomics.notify(ctrl, S.COMPLETED); Atomics.notify(ctrl, S.GDONE); });
let sgemm = null;
try {
  if (blas) sgemm = require(blas.koffi).load(blas.path).func(blas.decl);
} catch (e) {
  Atomics.store(ctrl, S.NOBLAS, 1); // the caller computes its products whole
  Atomics.notify(ctrl, S.GDONE);
  console.error('cifar-mlp: the helper thread cannot run products: ' + e.message);
}
const scalars = new Float64Array(sab, S.GF * 4, 2);
// The memory as this thread sees it, reaching at least byte \`end\`: another thread's memory.grow reaches this one's
// view asynchronously; grow(0) brings it up to date at once.
const bufferReaching = (end) => {
  if (memory.buffer.byteLength < end) memory.grow(0);
  return memory.buffer;
};
let gemmSeen = 0;
const runGemm = () => {
  if (!sgemm) return; // the caller sees NOBLAS
  const g = Atomics.load(ctrl, S.GSEQ);
  if (g === gemmSeen) return;
  gemmSeen = g;
  try {
    const a = ctrl[S.G_A] >>> 0, b = ctrl[S.G_B] >>> 0, c = ctrl[S.G_C] >>> 0;
    const buf = bufferReaching(Math.max(a, b, c) + 4);
    sgemm(101, ctrl[S.G_TA], ctrl[S.G_TB], ctrl[S.G_M], ctrl[S.G_N], ctrl[S.G_K], scalars[0], new Float32Array(buf, a), ctrl[S.G_LDA],
      new Float32Array(buf, b), ctrl[S.G_LDB], scalars[1], new Float32Array(buf, c), ctrl[S.G_LDC]);
  } catch (e) {
    Atomics.store(ctrl, S.GFAIL, 1);
    console.error('cifar-mlp: a product on the helper thread failed: ' + e.message);
  }
  Atomics.store(ctrl, S.GDONE, g);
  Atomics.notify(ctrl, S.GDONE);
};
let wake = 0, received = 0, gen = -1, doneGen = 0, src = null, total = 0;
for (;;) {
  Atomics.wait(ctrl, S.WAKE, wake);
  wake = Atomics.load(ctrl, S.WAKE);
  if (Atomics.load(ctrl, S.SEQ) < 0) break;
  for (;;) {
    runGemm(); // a product's half comes first: the caller waits for it
    while (Atomics.load(ctrl, S.PAUSE) === 1) Atomics.wait(ctrl, S.PAUSE, 1, 20);
    if ((Atomics.load(ctrl, S.SEQ) & 0x7fff) === doneGen) break; // no gather opened since the last one ran out
    // a claim names its job: a claim on a job opened since the last one (its fields all written) switches to it
    const claim = Atomics.add(ctrl, S.NEXT, 1), chunk = claim & 0xffff;
    if (claim >>> 16 !== gen) {
      while (received < Atomics.load(ctrl, S.MESSAGES)) {
        const m = receiveMessageOnPort(port);
        if (!m) continue;
        received++;
        records.set(m.message.id, new Uint8Array(m.message.records, m.message.byteOffset, m.message.length));
      }
      gen = claim >>> 16;
      src = records.get(ctrl[S.RECORDS]);
      total = ctrl[S.TOTAL];
    }
    if (chunk >= total) {
      doneGen = gen;
      break;
    }
    try {
      const n = ctrl[S.COUNT] * ctrl[S.D];
      runChunk(ctrl, S, ex, bufferReaching(Math.max((ctrl[S.STAGING] >>> 0) + n, (ctrl[S.OUT] >>> 0) + 4 * n)), src, chunk, ROWS_PER_CHUNK, copyRows);
    } catch (e) {
      Atomics.store(ctrl, S.FAIL, 1);
    }
    if (Atomics.add(ctrl, S.COMPLETED, 1) + 1 === total) Atomics.notify(ctrl, S.COMPLETED);
  }
}
`;

/** What the helper needs to run products' halves on the caller's BLAS. */
export interface HelperBlas {
  /** The koffi module's file (require.resolve), so that the worker loads the same FFI. */
  koffi: string;
  /** The library, as the caller loaded it (a path or a name the system loader resolves). */
  path: string;
  /** cblas_sgemm's C declaration. */
  decl: string;
}

/** Addresses in the shared memory that a gather uses (reserved by the caller). */
export interface GatherArea {
  /** count · d bytes: the batch's uint8 rows. */
  staging: number;
  /** 2 · d floats: scale (invStd / 255), then shift (−mean · invStd), as the kernels module's `normalisers` makes them. */
  norm: number;
}

export class GatherWorker {
  private readonly ctrl: Int32Array;
  private seq = 0;
  private pending = false;
  private records: Uint8Array | null = null;
  private readonly recordIds = new WeakMap<ArrayBufferLike, Map<number, number>>();
  private nextId = 1;
  private disposed = false;
  private exited = false;
  /** Why the helper thread stopped, when it failed (the backend then works without it). */
  failure: string | null = null;
  private gseq = 0;
  private readonly scalars: Float64Array;
  /** Chunks gathered by the caller at join() and by the helper, since creation (what the helper takes off the caller). */
  readonly stats = { chunks: 0, byCaller: 0 };

  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly ex: NormaliseExports,
    private readonly worker: Worker,
    private readonly port: MessagePort,
    ctrl: SharedArrayBuffer,
    readonly maxRows: number,
    private readonly canGemm: boolean,
  ) {
    this.ctrl = new Int32Array(ctrl);
    this.scalars = new Float64Array(ctrl, SLOT.GF * 4, 2);
  }

  /**
   * `ex`: the kernels module instantiated over `memory` on the calling thread. `blas`: the BLAS for products' halves
   * (gemmAsync): the koffi module's file, the library's path and cblas_sgemm's declaration; without it, gathers only.
   */
  static create(module: WebAssembly.Module, memory: WebAssembly.Memory, ex: NormaliseExports, maxRows: number, blas: HelperBlas | null = null): GatherWorker {
    if (Math.ceil(maxRows / ROWS_PER_CHUNK) > 0x8000) throw new RangeError(`gather worker: at most ${0x8000 * ROWS_PER_CHUNK} rows`);
    const ctrl = new SharedArrayBuffer((SLOT.ROWS + maxRows) * 4);
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(SOURCE, { eval: true, workerData: { module, memory, ctrl, port: port2, blas }, transferList: [port2] });
    worker.unref();
    port1.unref();
    const w = new GatherWorker(memory, ex, worker, port1, ctrl, maxRows, blas !== null);
    worker.on('error', (e) => {
      w.disposed = true;
      w.failure = e.message;
    });
    worker.on('exit', () => { w.exited = true; }); // no more products' halves (a gather still ends by its own checks)
    return w;
  }

  /** Whether it can take this gather: records in a SharedArrayBuffer (the worker reads them), rows that fit, idle. */
  accepts(records: Uint8Array, count: number): boolean {
    if (this.pending && !this.busy) this.join(); // finished, never waited for (the run stopped): collect it (and its error)
    return !this.disposed && !this.pending && records.buffer instanceof SharedArrayBuffer && count <= this.maxRows;
  }

  /**
   * Starts gathering rows[0 .. count) of `records` (d bytes each) into the float32 rows at address `out`, normalised
   * with the scale and shift vectors at area.norm (filled by the caller).
   */
  start(records: Uint8Array, rows: ArrayLike<number>, count: number, d: number, out: number, area: GatherArea): void {
    if (this.pending) throw new Error('gather worker: a gather is already under way');
    const c = this.ctrl, total = Math.floor(records.length / d);
    for (let r = 0; r < count; r++) {
      const i = rows[r];
      if (!(i >= 0 && i < total)) throw new RangeError(`gatherNormalized: record ${i} out of range (${total} records)`);
      c[SLOT.ROWS + r] = i;
    }
    let byOffset = this.recordIds.get(records.buffer);
    if (!byOffset) this.recordIds.set(records.buffer, (byOffset = new Map()));
    let id = byOffset.get(records.byteOffset);
    if (id === undefined) {
      id = this.nextId++;
      byOffset.set(records.byteOffset, id);
      this.port.postMessage({ id, records: records.buffer, byteOffset: records.byteOffset, length: records.length });
      Atomics.add(c, SLOT.MESSAGES, 1);
    }
    this.records = records;
    c[SLOT.COUNT] = count;
    c[SLOT.D] = d;
    c[SLOT.STAGING] = area.staging;
    c[SLOT.NORM] = area.norm;
    c[SLOT.OUT] = out;
    c[SLOT.RECORDS] = id;
    c[SLOT.FAIL] = 0;
    c[SLOT.COMPLETED] = 0;
    c[SLOT.TOTAL] = Math.ceil(count / ROWS_PER_CHUNK);
    this.seq++;
    this.pending = true;
    // open the job after its fields: claims carry its generation in their high bits, chunks in the low 16
    Atomics.store(c, SLOT.NEXT, (this.seq & 0x7fff) << 16);
    Atomics.store(c, SLOT.SEQ, this.seq);
    this.wake();
  }

  private wake(): void {
    Atomics.add(this.ctrl, SLOT.WAKE, 1);
    Atomics.notify(this.ctrl, SLOT.WAKE);
  }

  /** Whether products' halves can run here (created with the BLAS, and alive). */
  get computes(): boolean {
    return this.canGemm && !this.disposed && !this.exited && Atomics.load(this.ctrl, SLOT.NOBLAS) === 0;
  }

  /**
   * Starts cblas_sgemm(RowMajor, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc) on the helper thread, A, B and
   * C given as byte addresses in the shared memory; it runs before any gather chunk not yet begun. Returns the wait:
   * true once the half is done, false if the thread cannot run products after all (the caller computes the half);
   * it throws if the product failed or the thread is gone.
   */
  gemmAsync(ta: number, tb: number, m: number, n: number, k: number, alpha: number, a: number, lda: number, b: number, ldb: number,
    beta: number, c: number, ldc: number): () => boolean {
    const s = this.ctrl;
    s[SLOT.G_TA] = ta; s[SLOT.G_TB] = tb; s[SLOT.G_M] = m; s[SLOT.G_N] = n; s[SLOT.G_K] = k;
    s[SLOT.G_A] = a; s[SLOT.G_LDA] = lda; s[SLOT.G_B] = b; s[SLOT.G_LDB] = ldb; s[SLOT.G_C] = c; s[SLOT.G_LDC] = ldc;
    this.scalars[0] = alpha;
    this.scalars[1] = beta;
    s[SLOT.GFAIL] = 0;
    const g = ++this.gseq;
    Atomics.store(s, SLOT.GSEQ, g);
    this.wake();
    return () => this.gemmJoin(g);
  }

  /** Waits for half g; false when the worker cannot run products (NOBLAS): the caller then computes it. */
  private gemmJoin(g: number): boolean {
    const s = this.ctrl, since = performance.now();
    for (let i = 0; Atomics.load(s, SLOT.GDONE) !== g; i++) {
      if (Atomics.load(s, SLOT.NOBLAS)) return false;
      if (i < 20_000) continue; // the halves take about as long as each other: spin a little first
      Atomics.wait(s, SLOT.GDONE, Atomics.load(s, SLOT.GDONE), 50);
      if (Atomics.load(s, SLOT.GDONE) !== g && (Atomics.load(s, SLOT.DEAD) || performance.now() - since > GEMM_STALL_MS)) {
        this.disposed = true;
        throw new Error(`gemm: the helper thread ${Atomics.load(s, SLOT.DEAD) ? 'died' : `did not finish its half in ${GEMM_STALL_MS / 1000} s`}`);
      }
    }
    if (s[SLOT.GFAIL]) throw new Error('gemm: cblas_sgemm failed on the helper thread');
    return true;
  }

  /** Keeps the worker off the cores (from its next chunk on) until resume(). */
  pause(): void {
    if (this.pending) Atomics.store(this.ctrl, SLOT.PAUSE, 1);
  }

  resume(): void {
    if (Atomics.load(this.ctrl, SLOT.PAUSE) === 0) return;
    Atomics.store(this.ctrl, SLOT.PAUSE, 0);
    Atomics.notify(this.ctrl, SLOT.PAUSE);
  }

  /** A gather is under way (started, and not all of its chunks done). */
  get busy(): boolean {
    return this.pending && Atomics.load(this.ctrl, SLOT.COMPLETED) < this.ctrl[SLOT.TOTAL];
  }

  /**
   * Completes the gather under way, if any: gathers the chunks nobody has claimed yet on this thread, then waits
   * for those under way in the worker (a short spin, then Atomics.wait). Throws if a chunk failed, or if the worker
   * died holding one (it made no progress for STALL_MS: a killed thread cannot say so while this one waits).
   */
  join(): void {
    if (!this.pending) return;
    const c = this.ctrl, total = c[SLOT.TOTAL];
    let mine = 0;
    try {
      for (let chunk = Atomics.add(c, SLOT.NEXT, 1) & 0xffff; chunk < total; chunk = Atomics.add(c, SLOT.NEXT, 1) & 0xffff) {
        runChunk(c, SLOT, this.ex, this.memory.buffer, this.records!, chunk, ROWS_PER_CHUNK, copyRows);
        mine++;
        Atomics.add(c, SLOT.COMPLETED, 1);
      }
    } catch (e) {
      this.pending = false;
      throw e;
    } finally {
      this.resume();
    }
    this.stats.chunks += total;
    this.stats.byCaller += mine;
    let done = Atomics.load(c, SLOT.COMPLETED), since = performance.now();
    for (let s = 0; done < total; s++, done = Atomics.load(c, SLOT.COMPLETED)) {
      if (s < 2000) continue;
      Atomics.wait(c, SLOT.COMPLETED, done, 50);
      const now = performance.now();
      if (Atomics.load(c, SLOT.COMPLETED) !== done) since = now;
      else if (Atomics.load(c, SLOT.DEAD) || now - since > STALL_MS) {
        this.pending = false;
        this.disposed = true;
        throw new Error(`gatherNormalized: the gather worker thread ${Atomics.load(c, SLOT.DEAD) ? 'died' : `made no progress for ${STALL_MS / 1000} s`}`);
      }
    }
    this.pending = false;
    this.records = null;
    if (c[SLOT.FAIL]) throw new Error('gatherNormalized failed in the gather worker');
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.resume();
    Atomics.store(this.ctrl, SLOT.SEQ, -1);
    this.wake();
    await this.worker.terminate();
  }
}

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
 * The thread runs gather-thread.ts (dist/gather-thread.js); the slots and messages they share: gather-protocol.ts.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { workerFile } from '../util/worker-file.js';
import { IMAGE_BYTES } from './image-transform.js';
import { ROWS_PER_CHUNK, runChunk, SLOT, type GatherWorkerData, type HelperBlas, type NormaliseExports, type RecordsMessage } from './gather-protocol.js';

/** A gather whose chunks have not advanced for this long means the worker is gone (a chunk takes microseconds). */
const STALL_MS = 10_000;
/** A product's half not done after this long means the worker is gone (the largest take a fraction of a second). */
const GEMM_STALL_MS = 60_000;

/** Addresses in the shared memory that a gather uses (reserved by the caller). */
export interface GatherArea {
  /** count · d bytes: the batch's uint8 rows. */
  staging: number;
  /** 2 · d floats: scale (invStd / 255), then shift (−mean · invStd), as the kernels module's `normalisers` makes them. */
  norm: number;
  /** d bytes: the padding image of an augmented gather (filled by the caller). */
  fill: number;
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
   * `spinMicros`: how long the idle thread watches for the next job before it sleeps. Resolves once the thread has
   * loaded (so that its start-up is not paid by the first products of a run), or has failed to (the helper is then
   * disposed, with its `failure`: the backend works without it).
   */
  static async create(module: WebAssembly.Module, memory: WebAssembly.Memory, ex: NormaliseExports, maxRows: number, blas: HelperBlas | null = null,
    spinMicros = 0): Promise<GatherWorker> {
    if (Math.ceil(maxRows / ROWS_PER_CHUNK) > 0x8000) throw new RangeError(`gather worker: at most ${0x8000 * ROWS_PER_CHUNK} rows`);
    const ctrl = new SharedArrayBuffer((SLOT.ROWS + 2 * maxRows) * 4); // the rows, then their transforms
    const { port1, port2 } = new MessageChannel();
    const workerData: GatherWorkerData = { module, memory, ctrl, port: port2, blas, spinMicros };
    const worker = new Worker(workerFile('gather-thread'), { workerData, transferList: [port2] });
    port1.unref();
    const w = new GatherWorker(memory, ex, worker, port1, ctrl, maxRows, blas !== null);
    worker.on('error', (e) => {
      w.disposed = true;
      w.failure = e.message;
    });
    worker.on('exit', () => { w.exited = true; }); // no more products' halves (a gather still ends by its own checks)
    await new Promise<void>((resolve) => {
      worker.once('message', () => resolve());
      worker.once('error', () => resolve());
      worker.once('exit', () => resolve());
    });
    worker.unref(); // referenced until then: the process waits for it to load
    return w;
  }

  /** Whether it can take this gather: records in a SharedArrayBuffer (the worker reads them), rows that fit, idle. */
  accepts(records: Uint8Array, count: number): boolean {
    if (this.pending && !this.busy) this.join(); // finished, never waited for (the run stopped): collect it (and its error)
    return !this.disposed && !this.pending && records.buffer instanceof SharedArrayBuffer && count <= this.maxRows;
  }

  /**
   * Starts gathering rows[0 .. count) of `records` (d bytes each) into the float32 rows at address `out`, normalised
   * with the scale and shift vectors at area.norm (filled by the caller); with `codes`, each row transformed first
   * (image-transform.ts; images of d = IMAGE_BYTES bytes, padded from the image at area.fill).
   */
  start(records: Uint8Array, rows: ArrayLike<number>, count: number, d: number, out: number, area: GatherArea, codes?: ArrayLike<number>): void {
    if (this.pending) throw new Error('gather worker: a gather is already under way');
    if (codes && d !== IMAGE_BYTES) throw new RangeError(`gatherNormalized: transforms need images of ${IMAGE_BYTES} bytes, got rows of ${d}`);
    const c = this.ctrl, total = Math.floor(records.length / d), codesAt = SLOT.ROWS + this.maxRows;
    for (let r = 0; r < count; r++) {
      const i = rows[r];
      if (!(i >= 0 && i < total)) throw new RangeError(`gatherNormalized: record ${i} out of range (${total} records)`);
      c[SLOT.ROWS + r] = i;
    }
    if (codes) for (let r = 0; r < count; r++) c[codesAt + r] = codes[r];
    c[SLOT.AUGMENT] = codes ? 1 : 0;
    c[SLOT.FILL] = area.fill;
    c[SLOT.CODES] = codesAt;
    let byOffset = this.recordIds.get(records.buffer);
    if (!byOffset) this.recordIds.set(records.buffer, (byOffset = new Map()));
    let id = byOffset.get(records.byteOffset);
    if (id === undefined) {
      id = this.nextId++;
      byOffset.set(records.byteOffset, id);
      const message: RecordsMessage = { id, records: records.buffer as SharedArrayBuffer, byteOffset: records.byteOffset, length: records.length };
      this.port.postMessage(message);
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
        runChunk(c, this.ex, this.memory.buffer, this.records!, chunk);
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

/**
 * A helper thread that assembles the next mini-batch (gathers its uint8 records, normalises them to float32) into a
 * matrix of a shared WebAssembly.Memory while the calling thread trains on the current one: the batch gather off
 * the critical path. Both threads run the wasm kernels module's `normaliseRows` over the same memory.
 *
 * It is meant to use the time a core would otherwise idle, and never to make a step slower:
 * - the caller pauses it around the multi-threaded matrix products (pause()/resume()), whose threads need every
 *   core; it looks at the pause flag between chunks of a few rows, and sleeps (Atomics.wait) while it is set;
 * - the rows are cut into chunks that both threads claim (Atomics.add on NEXT): when the caller needs the batch
 *   (join()), it gathers whatever chunks the helper has not claimed yet itself, and waits only for a chunk under way.
 *   So on a machine so loaded that the helper seldom runs, the caller simply gathers inline, as without a helper.
 *
 * Control: an Int32Array over a SharedArrayBuffer. The caller writes a job and bumps SEQ; the worker sleeps on SEQ.
 * New record sets reach the worker as messages that it reads synchronously (receiveMessageOnPort) when it wakes;
 * MESSAGES counts those posted, so none is missed.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { copyRows } from './copy-rows.js';

const SLOT = {
  SEQ: 0, NEXT: 1, TOTAL: 2, COMPLETED: 3, COUNT: 4, D: 5, STAGING: 6, OUT: 7, RECORDS: 8, NORM: 9, FAIL: 10,
  MESSAGES: 11, PAUSE: 12, DEAD: 13, ROWS: 16,
} as const;

/** Rows per chunk (one group of copyRows; a few microseconds per row of 3072 values): the most the caller may wait for at join(). */
export const ROWS_PER_CHUNK = 8;

/** A gather whose chunks have not advanced for this long means the worker is gone (a chunk takes microseconds). */
const STALL_MS = 10_000;

/** The wasm exports both threads run. */
export interface NormaliseExports {
  normalisers(mean: number, invStd: number, scale: number, shift: number, d: number): void;
  normaliseRows(src: number, d: number, scale: number, shift: number, out: number, r0: number, r1: number): void;
}

/**
 * Gathers chunk `chunk` of the job in `ctrl`: copies its rows' records into the staging rows, then normalises them.
 * The same function, as source text, runs in the worker (so it names nothing from outside: copyRows is a parameter).
 */
function runChunk(ctrl: Int32Array, S: typeof SLOT, ex: NormaliseExports, buffer: ArrayBufferLike, src: Uint8Array, chunk: number, rowsPerChunk: number, copy: typeof copyRows): void {
  const count = ctrl[S.COUNT], d = ctrl[S.D], staging = ctrl[S.STAGING], norm = ctrl[S.NORM];
  const r0 = chunk * rowsPerChunk, r1 = Math.min(count, r0 + rowsPerChunk);
  copy(src, ctrl, S.ROWS, r0, r1, d, new Uint8Array(buffer, staging + r0 * d, (r1 - r0) * d));
  ex.normaliseRows(staging, d, norm, norm + d * 4, ctrl[S.OUT], r0, r1);
}

const SOURCE = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { module, memory, ctrl: sab, port } = workerData;
const S = ${JSON.stringify(SLOT)}, ROWS_PER_CHUNK = ${ROWS_PER_CHUNK};
const copyRows = ${copyRows.toString()};
const runChunk = ${runChunk.toString()};
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctrl = new Int32Array(sab);
const records = new Map();
process.on('exit', () => { Atomics.store(ctrl, S.DEAD, 1); Atomics.notify(ctrl, S.COMPLETED); });
let seen = 0, received = 0, gen = -1, src = null, total = 0;
for (;;) {
  Atomics.wait(ctrl, S.SEQ, seen);
  seen = Atomics.load(ctrl, S.SEQ);
  if (seen < 0) break;
  for (;;) {
    while (Atomics.load(ctrl, S.PAUSE) === 1) Atomics.wait(ctrl, S.PAUSE, 1, 20);
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
    if (chunk >= total) break;
    try {
      runChunk(ctrl, S, ex, memory.buffer, src, chunk, ROWS_PER_CHUNK, copyRows);
    } catch (e) {
      Atomics.store(ctrl, S.FAIL, 1);
    }
    if (Atomics.add(ctrl, S.COMPLETED, 1) + 1 === total) Atomics.notify(ctrl, S.COMPLETED);
  }
}
`;

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
  /** Chunks gathered by the caller at join() and by the helper, since creation (what the helper takes off the caller). */
  readonly stats = { chunks: 0, byCaller: 0 };

  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly ex: NormaliseExports,
    private readonly worker: Worker,
    private readonly port: MessagePort,
    ctrl: SharedArrayBuffer,
    readonly maxRows: number,
  ) {
    this.ctrl = new Int32Array(ctrl);
  }

  /** `ex`: the kernels module instantiated over `memory` on the calling thread. */
  static create(module: WebAssembly.Module, memory: WebAssembly.Memory, ex: NormaliseExports, maxRows: number): GatherWorker {
    if (Math.ceil(maxRows / ROWS_PER_CHUNK) > 0x8000) throw new RangeError(`gather worker: at most ${0x8000 * ROWS_PER_CHUNK} rows`);
    const ctrl = new SharedArrayBuffer((SLOT.ROWS + maxRows) * 4);
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(SOURCE, { eval: true, workerData: { module, memory, ctrl, port: port2 }, transferList: [port2] });
    worker.unref();
    port1.unref();
    const w = new GatherWorker(memory, ex, worker, port1, ctrl, maxRows);
    worker.on('error', () => { w.disposed = true; });
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
    Atomics.notify(c, SLOT.SEQ);
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
    Atomics.notify(this.ctrl, SLOT.SEQ);
    await this.worker.terminate();
  }
}

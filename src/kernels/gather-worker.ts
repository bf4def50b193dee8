/**
 * A helper thread that assembles the next mini-batch (gathers its uint8 records, normalises them to float32) into a
 * matrix of a shared WebAssembly.Memory while the calling thread trains on the current one: the batch gather off
 * the critical path. It runs the wasm kernels module's `normalisers` and `normaliseRows` over the same memory.
 *
 * It is meant to use the time a core would otherwise idle: the caller pauses it around the multi-threaded matrix
 * products (pause()/resume()), whose threads need every core; it gathers a few rows at a time and checks the pause
 * flag between them, sleeping (Atomics.wait) while it is set. So it works during the single-threaded parts of a
 * step (the element-wise ops, the stream's bookkeeping) and does not slow the products down.
 *
 * Control: an Int32Array over a SharedArrayBuffer. The caller writes a job and bumps SEQ; the worker sleeps on SEQ,
 * runs the job, stores DONE = SEQ and notifies. New record sets and normalisers reach the worker as messages that it
 * reads synchronously (receiveMessageOnPort) when it wakes; MESSAGES counts those posted, so none is missed.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';

const SLOT = { SEQ: 0, DONE: 1, COUNT: 2, D: 3, STAGING: 4, OUT: 5, RECORDS: 6, NORM: 7, FAIL: 8, MESSAGES: 9, PAUSE: 10, DEAD: 11, PROGRESS: 12, ROWS: 16 } as const;

/** A gather that has not advanced for this long means the worker is gone (a chunk takes microseconds). */
const STALL_MS = 10_000;

/** Rows gathered between two looks at the pause flag (about 1 µs per row of 3072 values). */
const ROWS_PER_CHUNK = 8;

const SOURCE = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { module, memory, ctrl: sab, port } = workerData;
const S = ${JSON.stringify(SLOT)}, CHUNK = ${ROWS_PER_CHUNK};
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctrl = new Int32Array(sab);
const records = new Map();
process.on('exit', () => { Atomics.store(ctrl, S.DEAD, 1); Atomics.notify(ctrl, S.DONE); });
let seen = 0, received = 0;
for (;;) {
  Atomics.wait(ctrl, S.SEQ, seen);
  seen = Atomics.load(ctrl, S.SEQ);
  if (seen < 0) break;
  try {
    while (received < Atomics.load(ctrl, S.MESSAGES)) {
      const m = receiveMessageOnPort(port);
      if (!m) continue;
      received++;
      const msg = m.message;
      if (msg.records) records.set(msg.id, new Uint8Array(msg.records, msg.byteOffset, msg.length));
      if (msg.norm) ex.normalisers(msg.norm.mean, msg.norm.invStd, msg.norm.scale, msg.norm.shift, msg.norm.d);
    }
    const count = ctrl[S.COUNT], d = ctrl[S.D], staging = ctrl[S.STAGING], norm = ctrl[S.NORM], out = ctrl[S.OUT];
    const src = records.get(ctrl[S.RECORDS]);
    const pix = new Uint8Array(memory.buffer, staging, count * d);
    for (let r0 = 0; r0 < count; r0 += CHUNK) {
      while (Atomics.load(ctrl, S.PAUSE) === 1) Atomics.wait(ctrl, S.PAUSE, 1, 20);
      const r1 = Math.min(count, r0 + CHUNK);
      for (let r = r0; r < r1; r++) {
        const i = ctrl[S.ROWS + r];
        pix.set(src.subarray(i * d, i * d + d), r * d);
      }
      ex.normaliseRows(staging, d, norm, norm + d * 4, out, r0, r1);
      Atomics.add(ctrl, S.PROGRESS, 1);
    }
  } catch (e) {
    Atomics.store(ctrl, S.FAIL, 1);
  }
  Atomics.store(ctrl, S.DONE, seen);
  Atomics.notify(ctrl, S.DONE);
}
`;

/** Addresses in the shared memory that a gather uses (all reserved by the caller for as long as the worker lives). */
export interface GatherArea {
  /** count · d bytes: the batch's uint8 rows. */
  staging: number;
  /** 2 · d floats: scale (invStd / 255), then shift (−mean · invStd). */
  norm: number;
  /** d floats each: the mean and invStd from which the worker computes norm. */
  mean: number;
  invStd: number;
}

export class GatherWorker {
  private readonly ctrl: Int32Array;
  private seq = 0;
  private pending = false;
  private readonly recordIds = new WeakMap<ArrayBufferLike, Map<number, number>>();
  private nextId = 1;
  private normOf: { mean: Float32Array; invStd: Float32Array; area: GatherArea } | null = null;
  private disposed = false;

  private constructor(private readonly memory: WebAssembly.Memory, private readonly worker: Worker, private readonly port: MessagePort, ctrl: SharedArrayBuffer, readonly maxRows: number) {
    this.ctrl = new Int32Array(ctrl);
  }

  static create(module: WebAssembly.Module, memory: WebAssembly.Memory, maxRows: number): GatherWorker {
    const ctrl = new SharedArrayBuffer((SLOT.ROWS + maxRows) * 4);
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(SOURCE, { eval: true, workerData: { module, memory, ctrl, port: port2 }, transferList: [port2] });
    worker.unref();
    port1.unref();
    const w = new GatherWorker(memory, worker, port1, ctrl, maxRows);
    worker.on('error', () => { w.disposed = true; }); // and DEAD is set: a join under way throws
    return w;
  }

  /** Whether it can take this gather now: records in a SharedArrayBuffer (the worker reads them), rows that fit, idle. */
  accepts(records: Uint8Array, count: number): boolean {
    if (this.pending && !this.busy) this.join(); // finished, never waited for (the run stopped): collect it (and its error)
    return !this.disposed && !this.pending && records.buffer instanceof SharedArrayBuffer && count <= this.maxRows;
  }

  /** Starts gathering rows[0 .. count) of `records` (d bytes each), normalised, into the float32 rows at address `out`. */
  start(records: Uint8Array, rows: ArrayLike<number>, count: number, d: number, mean: Float32Array, invStd: Float32Array, out: number, area: GatherArea): void {
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
      this.post({ id, records: records.buffer, byteOffset: records.byteOffset, length: records.length });
    }
    if (this.normOf?.mean !== mean || this.normOf.invStd !== invStd || this.normOf.area !== area) {
      const buf = this.memory.buffer;
      new Float32Array(buf, area.mean, d).set(mean.subarray(0, d));
      new Float32Array(buf, area.invStd, d).set(invStd.subarray(0, d));
      this.post({ norm: { mean: area.mean, invStd: area.invStd, scale: area.norm, shift: area.norm + d * 4, d } });
      this.normOf = { mean, invStd, area };
    }
    c[SLOT.COUNT] = count;
    c[SLOT.D] = d;
    c[SLOT.STAGING] = area.staging;
    c[SLOT.NORM] = area.norm;
    c[SLOT.OUT] = out;
    c[SLOT.RECORDS] = id;
    c[SLOT.FAIL] = 0;
    this.pending = true;
    Atomics.store(c, SLOT.SEQ, ++this.seq);
    Atomics.notify(c, SLOT.SEQ);
  }

  private post(message: unknown): void {
    this.port.postMessage(message);
    Atomics.add(this.ctrl, SLOT.MESSAGES, 1);
  }

  /** Keeps the worker off the cores (from its next chunk of rows on) until resume(). */
  pause(): void {
    if (this.pending) Atomics.store(this.ctrl, SLOT.PAUSE, 1);
  }

  resume(): void {
    if (Atomics.load(this.ctrl, SLOT.PAUSE) === 0) return;
    Atomics.store(this.ctrl, SLOT.PAUSE, 0);
    Atomics.notify(this.ctrl, SLOT.PAUSE);
  }

  /** A gather is under way (started and not finished). */
  get busy(): boolean {
    return this.pending && Atomics.load(this.ctrl, SLOT.DONE) !== this.seq;
  }

  /**
   * Waits for the gather under way, if any (a short spin, then Atomics.wait); throws if it failed, or if the worker
   * died or made no progress for STALL_MS (a thread that was killed cannot say so while this thread waits).
   */
  join(): void {
    if (!this.pending) return;
    this.resume();
    const c = this.ctrl;
    let progress = Atomics.load(c, SLOT.PROGRESS), since = 0;
    for (let s = 0; Atomics.load(c, SLOT.DONE) !== this.seq; s++) {
      if (s < 1000) continue;
      Atomics.wait(c, SLOT.DONE, Atomics.load(c, SLOT.DONE), 50);
      const now = performance.now(), p = Atomics.load(c, SLOT.PROGRESS);
      if (p !== progress || since === 0) {
        progress = p;
        since = now;
      } else if (Atomics.load(c, SLOT.DEAD) || now - since > STALL_MS) {
        this.pending = false;
        this.disposed = true;
        throw new Error(`gatherNormalized: the gather worker thread ${Atomics.load(c, SLOT.DEAD) ? 'died' : `made no progress for ${STALL_MS / 1000} s`}`);
      }
    }
    this.pending = false;
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

/**
 * wasm-simd backend: float32 kernels in WebAssembly SIMD (f32x4), compiled from assembly/ by build.mjs
 * into dist/wasm/kernels.wasm and, with relaxed-SIMD fused multiply-add, kernels-relaxed.wasm (run where the
 * runtime has relaxed SIMD: see SimdVariant), optionally spread over worker_threads.
 *
 * - Every matrix lives in one shared WebAssembly.Memory owned by the backend; Matrix.data is a Float32Array
 *   view into it (its byteOffset is the matrix's address). The memory only grows and never moves (it is
 *   shared, so older views stay valid; each view is made on the buffer current at allocation time).
 * - gemm: NT (A·Bᵀ, the forward product X W1ᵀ) runs register-blocked dot products, B's blocks outermost (each
 *   thread reads only its own rows of W1); NN and TN (the backward product G1ᵀ X) run a broadcast kernel over
 *   packed column panels of B; TT falls back to scalar loops.
 * - Threads: the caller plus `threads − 1` workers instantiate the same module over the same memory. A big
 *   op's output range is cut into chunks aligned to the micro-kernel blocks (so results do not depend on the
 *   thread count); the caller posts the job in a control SharedArrayBuffer, claims chunks like the workers
 *   (dynamically: a descheduled worker just takes fewer) and joins with Atomics (a short spin, then
 *   Atomics.wait), so every op stays synchronous. See wasm-simd-protocol.ts for the protocol.
 * - The small element-wise ops are HostBackend's loops on the views; sumSquares and gatherNormalized run in wasm.
 */
import { readFileSync, existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { HostMatrix, Matrix } from './backend.js';
import { copyRows } from './copy-rows.js';
import { HostBackend } from './host-backend.js';
import { workerFile } from '../util/worker-file.js';
import { ARGS_AT, CLOSED, CTRL, CTRL_BYTES, MAX_ARGS, MAX_THREADS, OPS, SCRATCH_AT, runChunks, type KernelFn, type WasmSimdWorkerData } from './wasm-simd-protocol.js';

export interface WasmSimdOptions {
  /** Threads in all, the caller included (default: os.availableParallelism()). 1 = no workers. */
  threads?: number;
  /** Largest memory the backend may grow to, in MiB (default 4096, the wasm32 limit). */
  maxMemoryMiB?: number;
  /** Microseconds an idle thread spins before it sleeps in Atomics.wait (default 100; 0 sleeps at once). */
  spinMicros?: number;
  /** Smallest product (2·n·m·k flops) split across threads (default 1e6). */
  parallelFlops?: number;
  /** Chunks per thread a split op is cut into (default 4): more balance late threads better, fewer cost less. */
  chunksPerThread?: number;
  /** How the NT product is split across threads: by columns of C (default: each thread reads its own rows of B) or by its rows. */
  ntSplit?: 'rows' | 'cols';
  /**
   * Which build of the kernels runs (default auto: relaxed where the runtime has relaxed SIMD, else plain).
   * The builds round differently (fused multiply-add); each one's results do not depend on the thread count.
   */
  simd?: 'auto' | SimdVariant;
  /** A kernels module compiled elsewhere (benchmarks comparing builds); overrides `simd`. */
  module?: WebAssembly.Module;
}

interface Exports {
  gemmNT(a: number, lda: number, b: number, ldb: number, c: number, ldc: number, K: number, alpha: number, beta: number, i0: number, i1: number, j0: number, j1: number): void;
  gemmBcast(a: number, sar: number, sap: number, b: number, ldb: number, c: number, ldc: number, M: number, K: number, alpha: number, beta: number, j0: number, j1: number, pack: number): void;
  gemmGeneric(a: number, sar: number, sap: number, b: number, sbp: number, sbj: number, c: number, ldc: number, N: number, K: number, alpha: number, beta: number, i0: number, i1: number): void;
  normalisers(mean: number, invStd: number, scale: number, shift: number, d: number): void;
  normaliseRows(src: number, d: number, scale: number, shift: number, out: number, r0: number, r1: number): void;
  sumSquares(a: number, n: number): number;
  blockSizes(): number;
  relaxedSimd(): number;
}

const PAGE = 65536;
const ALIGN = 64;
const DEFAULT_SPIN_MICROS = 100;
const OP = Object.fromEntries(OPS.map((name, i) => [name, i])) as Record<(typeof OPS)[number], number>;

/** Where build.mjs puts the modules: next to a bundle in dist/ (./wasm/), or dist/wasm/ seen from src/kernels/. */
const WASM_DIRS = ['./wasm/', '../../dist/wasm/', '../dist/wasm/'];

/**
 * The two builds of the kernels: `plain` uses SIMD128 only; `relaxed` is the same source with relaxed SIMD, whose
 * f32x4.relaxed_madd is one fused multiply-add (one rounding) on hardware with FMA. Node ≥ 22 has relaxed SIMD;
 * Node 20 only with `node --experimental-wasm-relaxed-simd` (a V8 flag that NODE_OPTIONS does not accept).
 */
export type SimdVariant = 'relaxed' | 'plain';

// (module (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd))
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00,
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b,
]);

/** Whether this runtime runs relaxed-SIMD WebAssembly (checked on a one-instruction module). */
export function relaxedSimdAvailable(): boolean {
  return WebAssembly.validate(RELAXED_PROBE);
}

const compiled = new Map<SimdVariant, Promise<WebAssembly.Module>>();

/**
 * The compiled kernels module of a build (compiled once per process). CIFAR_MLP_WASM=/path/kernels.wasm overrides
 * the plain build's file; the relaxed build is then looked for beside it, as kernels-relaxed.wasm.
 */
export function wasmModule(variant: SimdVariant = 'plain'): Promise<WebAssembly.Module> {
  let module = compiled.get(variant);
  if (!module) {
    module = (async () => {
      const file = variant === 'relaxed' ? 'kernels-relaxed.wasm' : 'kernels.wasm';
      const override = process.env.CIFAR_MLP_WASM;
      const paths = override
        ? [variant === 'relaxed' ? override.replace(/(\.wasm)?$/, '-relaxed.wasm') : override]
        : WASM_DIRS.map((dir) => fileURLToPath(new URL(dir + file, import.meta.url)));
      for (const path of paths) {
        if (existsSync(path)) return WebAssembly.compile(readFileSync(path));
      }
      throw new Error(`wasm-simd: ${file} not found (run \`node build.mjs\`); looked at ${paths.join(', ')}`);
    })();
    compiled.set(variant, module);
    module.catch(() => compiled.delete(variant));
  }
  return module;
}

/** The build to run: `auto` takes the relaxed one where the runtime has relaxed SIMD and the file is there. */
async function chooseModule(simd: WasmSimdOptions['simd']): Promise<WebAssembly.Module> {
  if (simd === 'plain') return wasmModule('plain');
  if (simd === 'relaxed' && !relaxedSimdAvailable()) {
    throw new Error('wasm-simd: this runtime has no relaxed SIMD (Node >= 22 has it; Node 20 needs `node --experimental-wasm-relaxed-simd`)');
  }
  if (simd === 'relaxed') return wasmModule('relaxed');
  if (relaxedSimdAvailable()) {
    try {
      return await wasmModule('relaxed');
    } catch {
      // a dist/ built before the relaxed build existed: the plain one runs everywhere
    }
  }
  return wasmModule('plain');
}

export class WasmSimdBackend extends HostBackend {
  readonly name = 'wasm-simd';
  readonly dtype = 'float32' as const;
  /** Worker threads besides the caller. */
  readonly threads: number;
  /** The build of the kernels that runs: relaxed SIMD (fused multiply-add) or plain SIMD128. */
  readonly simd: SimdVariant;

  private readonly ex: Exports;
  private readonly fns: KernelFn[];
  private readonly args: number[] = [];
  private readonly ctrl: Int32Array;
  private readonly ctrlF64: Float64Array;
  private readonly parts: number;
  private views = new WeakSet<object>(); // the Matrix.data arrays this backend handed out (since releaseAll)
  private top = PAGE; // bump pointer; the first page stays unused (address 0 is "no scratch")
  private readonly maxBytes: number;
  private readonly spinMicros: number;
  private readonly chunksPerThread: number;
  private readonly parallelFlops: number;
  private readonly ntSplit: 'rows' | 'cols';
  private readonly blocks: { ntR: number; ntC: number; bcR: number; bcV: number };
  private scratch: number[] = []; // per-thread pack panels
  private scratchBytes = 0;
  private staging = { ptr: 0, bytes: 0 }; // uint8 rows + normalisers for gatherNormalized
  private disposed = false;
  /** Split jobs run, their chunks, and how many of those the calling thread ran itself (the rest ran on workers). */
  readonly stats = { jobs: 0, chunks: 0, callerChunks: 0 };

  private constructor(
    private readonly memory: WebAssembly.Memory,
    instance: WebAssembly.Instance,
    private readonly workers: Worker[],
    ctrl: SharedArrayBuffer,
    opts: WasmSimdOptions,
    maxBytes: number,
  ) {
    super();
    this.ex = instance.exports as unknown as Exports;
    this.fns = OPS.map((name) => (instance.exports as Record<string, KernelFn>)[name]);
    this.ctrl = new Int32Array(ctrl);
    this.ctrlF64 = new Float64Array(ctrl);
    this.threads = workers.length + 1;
    this.parts = workers.length + 1;
    this.maxBytes = maxBytes;
    this.spinMicros = opts.spinMicros ?? DEFAULT_SPIN_MICROS;
    this.chunksPerThread = Math.max(1, opts.chunksPerThread ?? 4);
    this.parallelFlops = opts.parallelFlops ?? 1e6;
    this.ntSplit = opts.ntSplit ?? 'cols';
    this.simd = this.ex.relaxedSimd() ? 'relaxed' : 'plain';
    const b = this.ex.blockSizes();
    this.blocks = { ntR: b & 255, ntC: (b >> 8) & 255, bcR: (b >> 16) & 255, bcV: (b >> 24) & 255 };
  }

  static async create(opts: WasmSimdOptions = {}): Promise<WasmSimdBackend> {
    const threads = Math.max(1, Math.min(MAX_THREADS, Math.floor(opts.threads ?? availableParallelism())));
    const module = opts.module ?? await chooseModule(opts.simd);
    const maxPages = Math.max(2, Math.min(65536, Math.floor(((opts.maxMemoryMiB ?? 4096) * 1024 * 1024) / PAGE)));
    const memory = new WebAssembly.Memory({ initial: 2, maximum: maxPages, shared: true });
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    const ctrl = new SharedArrayBuffer(CTRL_BYTES);
    new Int32Array(ctrl)[CTRL.NEXT] = CLOSED;
    const spinMicros = opts.spinMicros ?? DEFAULT_SPIN_MICROS;
    const workers: Worker[] = [];
    const file = threads > 1 ? workerFile('wasm-simd-thread') : '';
    try {
      await Promise.all(
        Array.from({ length: threads - 1 }, (_, i) => new Promise<void>((resolve, reject) => {
          const workerData: WasmSimdWorkerData = { module, memory, ctrl, index: i + 1, spinMicros };
          const w = new Worker(file, { workerData });
          workers.push(w);
          w.once('message', () => resolve());
          w.once('error', reject);
          w.once('exit', (code) => reject(new Error(`wasm-simd worker exited with code ${code} before it was ready`)));
        })),
      );
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
    for (const w of workers) {
      w.removeAllListeners('exit');
      w.removeAllListeners('error');
      w.on('error', () => {}); // a worker that dies sets DEAD: the next split op throws
      w.unref();
    }
    return new WasmSimdBackend(memory, instance, workers, ctrl, opts, maxPages * PAGE);
  }

  // ---------------------------------------------------------------- memory

  /** Reserves `bytes` (64-byte aligned) in the shared memory, growing it as needed; returns the address. */
  private alloc(bytes: number): number {
    const ptr = this.top;
    const end = ptr + Math.ceil(Math.max(bytes, 1) / ALIGN) * ALIGN;
    if (end > this.maxBytes) throw new RangeError(`wasm-simd: out of memory (${(end / 2 ** 20).toFixed(0)} MiB needed, maximum ${(this.maxBytes / 2 ** 20).toFixed(0)} MiB)`);
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      // grow by at least half again, so a run of allocations grows the memory a few times only
      const want = Math.min(this.maxBytes, Math.max(end, Math.floor(have * 1.5)));
      this.memory.grow(Math.ceil((want - have) / PAGE));
    }
    this.top = end;
    return ptr;
  }

  releaseAll(): void {
    new Uint8Array(this.memory.buffer, PAGE, this.top - PAGE).fill(0); // so that matrix() hands out zeros again
    this.top = PAGE;
    this.views = new WeakSet(); // a released matrix passed to an op now fails the "allocated by this backend" check
    this.scratch = [];
    this.scratchBytes = 0;
    this.staging = { ptr: 0, bytes: 0 };
  }

  /** The shared memory every matrix of this backend lives in (a helper thread may instantiate wasmModule() over it). */
  get sharedMemory(): WebAssembly.Memory {
    return this.memory;
  }

  private f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }

  matrix(rows: number, cols: number): HostMatrix {
    if (!(Number.isInteger(rows) && Number.isInteger(cols) && rows >= 0 && cols >= 0)) throw new RangeError(`matrix: bad shape ${rows}×${cols}`);
    const n = rows * cols;
    const data = this.f32(this.alloc(n * 4), n);
    this.views.add(data);
    return { rows, cols, data };
  }

  /** The values of a matrix allocated by this backend (since the last releaseAll). */
  protected override data(m: Matrix, what: string): Float32Array {
    const d = (m as HostMatrix).data as Float32Array;
    if (!d || !this.views.has(d) || d.length < m.rows * m.cols) {
      throw new Error(`wasm-simd: ${what} was not allocated by this backend`);
    }
    return d;
  }

  /** The address of a matrix allocated by this backend. */
  private ptr(m: Matrix, what: string): number {
    return this.data(m, what).byteOffset;
  }

  private ensureScratch(bytes: number): void {
    if (bytes <= this.scratchBytes) return;
    this.scratchBytes = Math.max(bytes, 2 * this.scratchBytes);
    this.scratch = Array.from({ length: this.parts }, () => this.alloc(this.scratchBytes));
    for (let t = 0; t < this.parts; t++) this.ctrlF64[SCRATCH_AT + t] = this.scratch[t];
  }

  // ---------------------------------------------------------------- threads

  /**
   * Runs kernel `op` with `args`, its output range args[range], args[range + 1] cut into chunks (multiples of
   * align) that the caller and the workers claim in turn; the argument at `scratchAt` gets each thread's panel.
   */
  private run(op: number, args: number[], range: number, align: number, scratchAt: number, parallel: boolean): void {
    const fn = this.fns[op];
    if (scratchAt >= 0) args[scratchAt] = this.scratch[0] ?? 0;
    const lo = args[range], hi = args[range + 1];
    if (!parallel || this.parts === 1 || hi - lo <= align) {
      fn(...args);
      return;
    }
    if (this.disposed) throw new Error('wasm-simd: backend disposed');
    if (args.length > MAX_ARGS) throw new Error('wasm-simd: too many kernel arguments');
    const c = this.ctrl, f = this.ctrlF64;
    // a few chunks per thread: fine enough for late threads, coarse enough to stay cheap
    const chunk = Math.max(align, Math.ceil((hi - lo) / (this.chunksPerThread * this.parts) / align) * align);
    const total = Math.ceil((hi - lo) / chunk);
    for (let i = 0; i < args.length; i++) f[ARGS_AT + i] = args[i];
    c[CTRL.NARGS] = args.length;
    c[CTRL.OP] = op;
    c[CTRL.RANGE] = range;
    c[CTRL.CHUNK] = chunk;
    c[CTRL.SCRATCH] = scratchAt;
    c[CTRL.TOTAL] = total;
    c[CTRL.COMPLETED] = 0;
    c[CTRL.FAIL] = 0;
    Atomics.store(c, CTRL.NEXT, 0); // open the job (after its arguments)
    Atomics.add(c, CTRL.SEQ, 1);
    Atomics.notify(c, CTRL.SEQ);
    const errors: unknown[] = [];
    const ran = runChunks(c, f, this.fns, 0, this.args, errors);
    this.stats.jobs++;
    this.stats.chunks += total;
    this.stats.callerChunks += ran;
    // join: spin (the workers' last chunks are usually a few µs away), then sleep
    let s = 0, t0 = -1;
    for (let done = Atomics.load(c, CTRL.COMPLETED); done < total; done = Atomics.load(c, CTRL.COMPLETED)) {
      if ((++s & 63) !== 0) continue;
      if (Atomics.load(c, CTRL.DEAD)) throw new Error('wasm-simd: a worker thread died');
      const now = performance.now();
      if (t0 < 0) t0 = now;
      else if ((now - t0) * 1000 >= this.spinMicros) Atomics.wait(c, CTRL.COMPLETED, done, 1000);
    }
    Atomics.store(c, CTRL.NEXT, CLOSED);
    if (errors.length) throw errors[0];
    if (Atomics.load(c, CTRL.FAIL)) throw new Error(`wasm-simd: ${OPS[op]} failed in a worker thread`);
  }

  // ---------------------------------------------------------------- ops

  gemm(a: Matrix, ta: boolean, b: Matrix, tb: boolean, c: Matrix, alpha = 1, beta = 0): void {
    const [n, m, k] = this.gemmShape(a, ta, b, tb, c);
    const pa = this.ptr(a, 'gemm a'), pb = this.ptr(b, 'gemm b'), pc = this.ptr(c, 'gemm c');
    if (n === 0 || m === 0) return;
    const parallel = 2 * n * m * k >= this.parallelFlops;
    const { ntR, ntC, bcV } = this.blocks;
    if (!ta && tb) {
      // C[i][j] = Σ_p A[i][p] B[j][p]
      const rows = this.ntSplit === 'rows';
      this.run(OP.gemmNT, [pa, a.cols, pb, b.cols, pc, m, k, alpha, beta, 0, n, 0, m], rows ? 9 : 11, rows ? ntR : ntC, -1, parallel);
    } else if (!tb) {
      // C[i][j] = Σ_p A(i,p) B[p][j], A(i,p) = ta ? a[p][i] : a[i][p]
      this.ensureScratch(k * 16 * bcV);
      const [sar, sap] = ta ? [1, a.cols] : [a.cols, 1];
      this.run(OP.gemmBcast, [pa, sar, sap, pb, b.cols, pc, m, n, k, alpha, beta, 0, m, 0], 11, 4 * bcV, 13, parallel);
    } else {
      // C[i][j] = Σ_p a[p][i] b[j][p]
      this.run(OP.gemmGeneric, [pa, 1, a.cols, pb, 1, b.cols, pc, m, m, k, alpha, beta, 0, n], 12, 1, -1, parallel);
    }
  }

  override sumSquares(a: Matrix): number {
    return this.ex.sumSquares(this.ptr(a, 'sumSquares a'), a.rows * a.cols);
  }

  override gatherNormalized(records: Uint8Array, rows: ArrayLike<number>, count: number, mean: Float32Array, invStd: Float32Array, out: Matrix): void {
    const d = out.cols;
    if (count > out.rows) throw new RangeError(`gatherNormalized: ${count} rows into a ${out.rows}-row matrix`);
    if (mean.length < d || invStd.length < d) throw new RangeError(`gatherNormalized: normalisers shorter than ${d}`);
    const po = this.ptr(out, 'gatherNormalized out');
    if (count === 0) return;
    // staging: 4 float vectors of d (mean, invStd, scale, shift), then count · d bytes of pixels
    const vec = Math.ceil((d * 4) / ALIGN) * ALIGN;
    const need = 4 * vec + count * d;
    if (need > this.staging.bytes) {
      const bytes = Math.max(need, 2 * this.staging.bytes);
      this.staging = { ptr: this.alloc(bytes), bytes };
    }
    const base = this.staging.ptr, pMean = base, pInv = base + vec, pScale = base + 2 * vec, pShift = base + 3 * vec, pPix = base + 4 * vec;
    const buf = this.memory.buffer;
    new Float32Array(buf, pMean, d).set(d === mean.length ? mean : mean.subarray(0, d));
    new Float32Array(buf, pInv, d).set(d === invStd.length ? invStd : invStd.subarray(0, d));
    this.ex.normalisers(pMean, pInv, pScale, pShift, d);
    const total = records.length / d;
    for (let r = 0; r < count; r++) {
      const i = rows[r];
      if (!(i >= 0 && i < total)) throw new RangeError(`gatherNormalized: record ${i} out of range (${total} records)`);
    }
    copyRows(records, rows, 0, 0, count, d, new Uint8Array(buf, pPix, count * d));
    this.run(OP.normaliseRows, [pPix, d, pScale, pShift, po, 0, count], 5, 1, -1, count * d >= 65536);
  }

  dispose(): Promise<void> {
    if (this.disposed) return Promise.resolve();
    this.disposed = true;
    const c = this.ctrl;
    Atomics.store(c, CTRL.OP, -1);
    Atomics.add(c, CTRL.SEQ, 1);
    Atomics.notify(c, CTRL.SEQ);
    return Promise.all(this.workers.map((w) => w.terminate())).then(() => undefined);
  }
}

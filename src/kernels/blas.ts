/**
 * blas backend: the matrix products on the machine's BLAS (cblas_sgemm through koffi, blas-library.ts), everything
 * else on a single-threaded wasm-simd backend that also owns the memory.
 *
 * - Matrices live in the wasm-simd backend's shared WebAssembly.Memory; their Float32Array views go to
 *   cblas_sgemm as they are (koffi passes a typed array's address, nothing is copied). So the wasm gather,
 *   sgdUpdate and sumSquares run on the same storage, and a step copies nothing.
 * - Threads: with exactly two, the library runs single-threaded and each large product is cut in two halves, one
 *   computed here and one on the helper thread (GatherWorker.gemmAsync, its own cblas_sgemm), which gathers the next
 *   batch between products (gatherNormalizedAhead): two threads for two cores, nothing else to wake or to pause.
 *   Otherwise the BLAS's own pool, sized to `threads` (openblas_set_num_threads & co., process-wide, set again
 *   before a product whenever another backend of this process changed it), and the helper, where there is one,
 *   is paused around the threaded products. The wasm-simd part has no workers; search workers × threads ≤ cores
 *   (search/plan.ts).
 */
import { delegateOps, gemmShape, type HostMatrix, type KernelBackend, type Matrix, type RowTransforms } from './backend.js';
import { createRequire } from 'node:module';
import { CBLAS, findBlas, SGEMM_DECL, type BlasLibrary } from './blas-library.js';
import type { NormaliseExports } from './gather-protocol.js';
import { GatherWorker, type GatherArea } from './gather-worker.js';
import { IMAGE_BYTES, transformRows } from './image-transform.js';
import { WasmSimdBackend, wasmModule } from './wasm-simd.js';

export interface BlasOptions {
  /** Threads of the BLAS in all, the caller included (default: os.availableParallelism()). */
  threads?: number;
  /** The library to use (default: findBlas(): CIFAR_MLP_BLAS, else the usual places). */
  library?: BlasLibrary;
  /** Assemble batches ahead on a helper thread (default: when threads ≥ 2). */
  gatherAhead?: boolean;
  /**
   * With exactly two threads: the library runs single-threaded and each large product is cut in two, one half on
   * the caller and one on the helper thread, which gathers the next batch in between (default: on where the
   * library's thread count can be set). Off: the library's own two threads, the helper paused around products.
   */
  splitProducts?: boolean;
  /**
   * With split products: microseconds the idle helper watches for the next product's half before it sleeps
   * (default 100: the products of a step come closer than that, and waking a sleeping thread costs tens of µs on a
   * virtual machine). 0 sleeps at once. Where the library runs its own threads the helper never spins.
   */
  helperSpinMicros?: number;
}

const HELPER_SPIN_MICROS = 100;

/** Products smaller than this (2·n·m·k flops) run single-threaded in the BLAS: the gather helper need not pause. */
const THREADED_FLOPS = 1e6;
/** Rows a gather ahead can take (larger batches gather on the calling thread). */
const AHEAD_MAX_ROWS = 4096;

/** 0, 1, …, count − 1. */
const inOrder = (count: number) => Int32Array.from({ length: count }, (_, i) => i);

/** a[i] === b[i] for i < a.length (b may be longer). */
function sameValues(a: Float32Array, b: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The ops that run on the wasm-simd backend that owns the memory, unchanged. */
const HOST_OPS = [
  'biasRelu', 'dropout', 'softmax', 'softmaxLoss', 'softmaxGradient', 'crossEntropy', 'reluBackward', 'columnSums', 'scaleAdd',
  'sumSquares', 'sgdUpdate', 'adamUpdate', 'batchStatistics', 'batchNormalize', 'affineRelu', 'columnDots', 'scaleColumns', 'batchNormBackward',
  'gatherNormalized', 'read', 'write',
] as const satisfies readonly (keyof KernelBackend)[];
type HostOps = Pick<WasmSimdBackend, (typeof HOST_OPS)[number]>;

/** The host's ops, assigned in the constructor. */
export interface BlasBackend extends HostOps {}
export class BlasBackend implements KernelBackend {
  readonly name: string;
  readonly dtype = 'float32' as const;
  /** The BLAS's threads besides the caller. */
  readonly threads: number;
  private views = new WeakSet<object>(); // the Matrix.data arrays handed out since releaseAll
  private area: (GatherArea & { rows: number; d: number; mean: number; invStd: number }) | null = null;
  private normValid = false; // the area's scale and shift were made from the mean and invStd stored beside them
  private images: Uint8Array | null = null; // augmented rows made on this thread

  private constructor(
    readonly library: BlasLibrary,
    private readonly host: WasmSimdBackend,
    threads: number,
    /** The library's own thread count: `threads`, or 1 where the products are split with the helper. */
    private readonly blasThreads: number,
    private readonly helper: GatherWorker | null,
    private readonly ex: NormaliseExports | null,
  ) {
    Object.assign(this, delegateOps(host, HOST_OPS));
    this.name = `blas-${library.flavour}`;
    this.threads = threads; // as asked: a library without a thread-count call (Accelerate) decides itself
  }

  /** How the large products use the threads: split with the helper thread, or the library's own threads. */
  get productThreads(): 'split' | 'library' {
    return this.helper?.computes ? 'split' : 'library';
  }

  static async create(opts: BlasOptions = {}): Promise<BlasBackend> {
    const library = opts.library ?? findBlas();
    const { availableParallelism } = await import('node:os');
    const threads = Math.max(1, Math.floor(opts.threads ?? availableParallelism()));
    const host = await WasmSimdBackend.create({ threads: 1 });
    const helper = opts.gatherAhead ?? threads >= 2;
    const split = helper && threads === 2 && library.threadControl && (opts.splitProducts ?? true);
    library.setThreads(split ? 1 : threads);
    if (!helper) return new BlasBackend(library, host, threads, threads, null, null);
    const module = await wasmModule();
    const ex = new WebAssembly.Instance(module, { env: { memory: host.sharedMemory } }).exports as unknown as NormaliseExports;
    const blas = split ? { koffi: createRequire(import.meta.url).resolve('koffi'), path: library.path, decl: SGEMM_DECL } : null;
    return new BlasBackend(library, host, threads, split ? 1 : threads, await GatherWorker.create(module, host.sharedMemory, ex, AHEAD_MAX_ROWS, blas,
      split ? opts.helperSpinMicros ?? HELPER_SPIN_MICROS : 0), ex);
  }

  matrix(rows: number, cols: number): HostMatrix {
    const m = this.host.matrix(rows, cols);
    this.views.add(m.data);
    return m;
  }

  private data(m: Matrix, what: string): Float32Array {
    const d = (m as HostMatrix).data as Float32Array;
    if (!d || !this.views.has(d)) throw new Error(`${this.name}: ${what} was not allocated by this backend`);
    return d;
  }

  gemm(a: Matrix, ta: boolean, b: Matrix, tb: boolean, c: Matrix, alpha = 1, beta = 0): void {
    const [n, m, k] = gemmShape(a, ta, b, tb, c);
    const A = this.data(a, 'gemm a'), B = this.data(b, 'gemm b'), C = this.data(c, 'gemm c');
    if (n === 0 || m === 0) return;
    this.library.setThreads(this.blasThreads);
    const TA = ta ? CBLAS.Trans : CBLAS.NoTrans, TB = tb ? CBLAS.Trans : CBLAS.NoTrans;
    const lda = Math.max(1, a.cols), ldb = Math.max(1, b.cols), ldc = Math.max(1, m);
    const large = 2 * n * m * k >= THREADED_FLOPS;
    if (large && this.helper?.computes && Math.max(n, m) >= 2) {
      // C's rows (or columns, whichever are more) in two halves: the second on the helper, the first here
      const byRows = n >= m, h = (byRows ? n : m) >> 1;
      const aAt = byRows ? (ta ? h : h * lda) : 0, bAt = byRows ? 0 : (tb ? h * ldb : h), cAt = byRows ? h * ldc : h;
      const [n2, m2] = byRows ? [n - h, m] : [n, m - h];
      const wait = this.helper.gemmAsync(TA, TB, n2, m2, k, alpha,
        A.byteOffset + 4 * aAt, lda, B.byteOffset + 4 * bAt, ldb, beta, C.byteOffset + 4 * cAt, ldc);
      let done = false;
      try {
        this.library.sgemm(CBLAS.RowMajor, TA, TB, byRows ? h : n, byRows ? m : h, k, alpha, A, lda, B, ldb, beta, C, ldc);
      } finally {
        done = wait();
      }
      if (!done) { // the helper cannot run products: the second half here too
        this.library.sgemm(CBLAS.RowMajor, TA, TB, n2, m2, k, alpha, A.subarray(aAt), lda, B.subarray(bAt), ldb, beta, C.subarray(cAt), ldc);
      }
      return;
    }
    const pause = this.blasThreads > 1 && this.helper?.busy && large;
    if (pause) this.helper!.pause();
    try {
      this.library.sgemm(CBLAS.RowMajor, TA, TB, n, m, k, alpha, A, lda, B, ldb, beta, C, ldc);
    } finally {
      if (pause) this.helper!.resume();
    }
  }

  gatherNormalizedAhead(records: Uint8Array, rows: ArrayLike<number>, count: number, mean: Float32Array, invStd: Float32Array, out: Matrix,
    transforms?: RowTransforms): () => void {
    const d = out.cols, y = this.data(out, 'gatherNormalized out');
    const h = this.helper;
    if (!h || !h.accepts(records, count) || count > out.rows || mean.length < d || invStd.length < d || count === 0) {
      if (!transforms) this.host.gatherNormalized(records, rows, count, mean, invStd, out); // the checks and their messages live there
      else this.host.gatherNormalized(this.transformInline(records, rows, count, transforms), inOrder(count), count, mean, invStd, out);
      return () => {};
    }
    if (!this.area || this.area.rows < count || this.area.d !== d) {
      const vec = Math.ceil(d / 16) * 16; // floats, 64-byte multiples
      const fill = Math.ceil(d / 64) * 16; // floats holding d bytes
      const base = this.host.matrix(1, 4 * vec + fill + Math.ceil((count * d) / 4)).data.byteOffset;
      this.area = { mean: base, invStd: base + vec * 4, norm: base + 2 * vec * 4, fill: base + 4 * vec * 4, staging: base + (4 * vec + fill) * 4, rows: count, d };
      this.normValid = false;
    }
    const a = this.area;
    // the scale and shift vectors, remade when the statistics differ from the last ones (compared by value: µs)
    const buf = this.host.sharedMemory.buffer;
    const lastMean = new Float32Array(buf, a.mean, d), lastInv = new Float32Array(buf, a.invStd, d);
    if (!this.normValid || !sameValues(lastMean, mean) || !sameValues(lastInv, invStd)) {
      lastMean.set(mean.subarray(0, d));
      lastInv.set(invStd.subarray(0, d));
      this.ex!.normalisers(a.mean, a.invStd, a.norm, a.norm + d * 4, d);
      this.normValid = true;
    }
    if (transforms) new Uint8Array(buf, a.fill, d).set(transforms.fill.subarray(0, d));
    h.start(records, rows, count, d, y.byteOffset, a, transforms?.codes);
    return () => h.join();
  }

  /** The transformed images of an augmented gather that the helper cannot take, made here. */
  private transformInline(records: Uint8Array, rows: ArrayLike<number>, count: number, t: RowTransforms): Uint8Array {
    const bytes = count * IMAGE_BYTES;
    if (!this.images || this.images.length < bytes) this.images = new Uint8Array(bytes);
    const images = this.images.subarray(0, bytes);
    transformRows(records, rows, 0, 0, count, t.codes, 0, t.fill, images);
    return images;
  }

  /** Chunks of batches gathered ahead: all, and those the calling thread gathered itself at the wait. */
  get gatherStats(): { chunks: number; byCaller: number; failure: string | null } | null {
    return this.helper ? { ...this.helper.stats, failure: this.helper.failure } : null;
  }

  releaseAll(): void {
    this.helper?.join(); // it writes into the memory that is about to be handed out again
    this.host.releaseAll();
    this.views = new WeakSet();
    this.area = null;
  }
  async dispose(): Promise<void> {
    await this.helper?.dispose();
    await this.host.dispose();
  }
}

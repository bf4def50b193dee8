/**
 * The kernel interface: every op the network needs, declared once.
 * Each backend (reference float64, gpu.js, wasm-simd, …) implements it; `select.ts` picks one at run time.
 *
 * Layout: matrices are row-major and samples are ROWS (a batch X is n × d), so the spec's
 * column formulas appear transposed: S1 = X W1ᵀ + b1 (n × m), dW1 = Gᵀ X (m × d), …
 * Ops write into preallocated outputs and allocate nothing, so a training step allocates nothing.
 * Ops may return a Promise (asynchronous backends such as gpu.js webgpu); callers await every op in order.
 */
export type Float = Float32Array | Float64Array;
export type MaybePromise<T> = T | Promise<T>;

/** A row-major rows × cols matrix whose storage is owned by the backend that allocated it. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float;
}

export type Labels = Uint8Array | Int32Array;

export interface KernelBackend {
  /** What actually runs, e.g. "wasm-simd", "gpujs-webasm", "gpujs-cpu", "reference-f64". */
  readonly name: string;
  readonly dtype: 'float32' | 'float64';
  /** Worker threads the backend uses besides the calling thread (0 = single-threaded). */
  readonly threads: number;

  /** A zero-filled rows × cols matrix in this backend's storage. */
  matrix(rows: number, cols: number): Matrix;

  /** c = alpha · op(a) · op(b) + beta · c, with op(x) = xᵀ when the flag is set. */
  gemm(a: Matrix, transA: boolean, b: Matrix, transB: boolean, c: Matrix, alpha?: number, beta?: number): MaybePromise<void>;

  /** a[i][j] += bias[0][j] for every row i (bias is 1 × a.cols). */
  addRowVector(a: Matrix, bias: Matrix): MaybePromise<void>;
  /** h = max(0, s). */
  relu(s: Matrix, h: Matrix): MaybePromise<void>;
  /** g[i][j] = 0 where h[i][j] <= 0 (the ReLU mask 1[s1 > 0], read off h = relu(s1)). */
  reluBackward(g: Matrix, h: Matrix): MaybePromise<void>;
  /** p = row-wise softmax of s (numerically stable). */
  softmaxRows(s: Matrix, p: Matrix): MaybePromise<void>;
  /** Σ_i −log p[i][y_i] over the first `rows` rows (default all), and the count of rows whose argmax equals y_i. */
  crossEntropy(p: Matrix, labels: Labels, rows?: number): MaybePromise<{ lossSum: number; correct: number }>;
  /** p[i][y_i] −= 1: turns probabilities into the softmax-cross-entropy gradient P − Y. */
  subtractOneHot(p: Matrix, labels: Labels): MaybePromise<void>;
  /** out[0][j] = scale · Σ_i a[i][j] (out is 1 × a.cols). */
  columnSums(a: Matrix, out: Matrix, scale: number): MaybePromise<void>;
  /** Σ a[i][j]². */
  sumSquares(a: Matrix): MaybePromise<number>;
  /** w −= eta · (g + 2 · lambda · w): the L2-regularised gradient step (lambda 0 for biases). */
  sgdUpdate(w: Matrix, g: Matrix, eta: number, lambda: number): MaybePromise<void>;
  /**
   * Mini-batch assembly: out row r = (records[rows[r]] / 255 − mean) · invStd, for r < count.
   * `records` holds uint8 pixels, record i at offset i · cols (labels already stripped).
   */
  gatherNormalized(records: Uint8Array, rows: ArrayLike<number>, count: number, mean: Float32Array, invStd: Float32Array, out: Matrix): MaybePromise<void>;

  /** Copies a matrix's values into a fresh Float64Array (for tests, checkpoints and reporting). */
  read(a: Matrix): Float64Array;
  /** Overwrites a matrix's values. */
  write(a: Matrix, values: ArrayLike<number>): void;
  /**
   * Frees every matrix handed out so far: later matrices may reuse their storage and the old ones must not be
   * used again. One backend can so serve run after run (a search worker's trials) without growing.
   */
  releaseAll(): void;
  /** Releases workers and memory. */
  dispose(): MaybePromise<void>;
}

export function assertShape(m: Matrix, rows: number, cols: number, what: string): void {
  if (m.rows !== rows || m.cols !== cols) {
    throw new Error(`${what}: expected ${rows}×${cols}, got ${m.rows}×${m.cols}`);
  }
}

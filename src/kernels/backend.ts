/**
 * The kernel interface: every op the network needs, declared once.
 * Each backend (reference float64, wasm-simd, BLAS, gpu.js, …) implements it; `select.ts` picks one at run time.
 *
 * Layout: matrices are row-major and samples are ROWS (a batch X is n × d), so the spec's
 * column formulas appear transposed: S1 = X W1ᵀ + b1 (n × m), dW1 = Gᵀ X (m × d), …
 * A matrix is a handle: its storage belongs to the backend (host memory, wasm memory, a GPU texture…) and is
 * reached only through the ops, `read` and `write`, so a device backend can keep a whole step on the device.
 * Ops write into preallocated outputs and allocate nothing, so a training step allocates nothing.
 * Ops may return a Promise (asynchronous backends such as gpu.js webgpu); callers await every op in order.
 */
export type Float = Float32Array | Float64Array;
export type MaybePromise<T> = T | Promise<T>;

/** A row-major rows × cols matrix whose storage is owned by the backend that allocated it. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
}

/** A matrix in host memory (the CPU backends'): its values are `data[0 .. rows·cols)`. */
export interface HostMatrix extends Matrix {
  readonly data: Float;
}

export type Labels = Uint8Array | Int32Array;

/** Σ −log p[i][y_i] over the rows considered, and how many of them have argmax p[i] = y_i. */
export interface LossSums {
  lossSum: number;
  correct: number;
}

/** Augmented rows: row r's record transformed by codes[r] (image-transform.ts packTransform), uncovered pixels from `fill`. */
export interface RowTransforms {
  codes: Int32Array;
  fill: Uint8Array;
}

export interface MomentumState {
  /** The velocity of this parameter (same shape), kept across steps. */
  v: Matrix;
  /** Momentum coefficient mu. */
  mu: number;
  /** Nesterov's variant. */
  nesterov: boolean;
}

export interface AdamState {
  /** First and second moments of this parameter's gradient (same shape), kept across steps. */
  m: Matrix;
  v: Matrix;
  beta1: number;
  beta2: number;
  eps: number;
  /** The update's number, from 1 (for the bias corrections 1 − beta^t). */
  t: number;
  /** Weight decay decoupled from the moments (AdamW: w −= eta 2 lambda w beside the step), else L2 in the gradient. */
  decoupled: boolean;
}

export interface KernelBackend {
  /** What actually runs, e.g. "wasm-simd", "blas-openblas", "gpujs-webasm", "reference-f64". */
  readonly name: string;
  readonly dtype: 'float32' | 'float64';
  /** Threads the backend computes on in all, the calling thread included (1 = single-threaded). */
  readonly threads: number;

  /**
   * Ops this backend runs on the host, copying their matrices from the device and back at every call (correct, but
   * far from the device's speed): `auto` does not pick the backend for a config that needs them.
   */
  readonly hostOps?: readonly (keyof KernelBackend)[];

  /** A zero-filled rows × cols matrix in this backend's storage. */
  matrix(rows: number, cols: number): Matrix;

  /** c = alpha · op(a) · op(b) + beta · c, with op(x) = xᵀ when the flag is set. c never aliases a or b. */
  gemm(a: Matrix, transA: boolean, b: Matrix, transB: boolean, c: Matrix, alpha?: number, beta?: number): MaybePromise<void>;

  /** s = max(0, s + bias) in place (bias is 1 × s.cols, added to every row): H = relu(S1 + b1). */
  biasRelu(s: Matrix, bias: Matrix): MaybePromise<void>;

  /**
   * Inverted dropout in place: h[i][j] = h[i][j] / keep where keepUnit(seed, i · cols + j, keep) (dropout-mask.ts),
   * else 0. Every backend draws the same mask for the same seed.
   */
  dropout(h: Matrix, keep: number, seed: number): MaybePromise<void>;

  /** The output layer, in place on s: s = softmax(s + bias) row by row (numerically stable): P, for prediction. */
  softmax(s: Matrix, bias: Matrix): MaybePromise<void>;

  /**
   * The loss sums of P = softmax(s + bias) against the labels, over the first `rows` rows (default all; rows beyond
   * are padding); s is left as it is.
   */
  softmaxLoss(s: Matrix, bias: Matrix, labels: Labels, rows?: number): MaybePromise<LossSums>;

  /** In place on s: s = softmax(s + bias) − Y, the gradient of the cross-entropy with respect to S, on every row. */
  softmaxGradient(s: Matrix, bias: Matrix, labels: Labels): MaybePromise<void>;

  /** Loss sums of probabilities p (e.g. an ensemble's average) over the first `rows` rows (default all). */
  crossEntropy(p: Matrix, labels: Labels, rows?: number): MaybePromise<LossSums>;

  /** g = g · scale where h > 0, else 0: the ReLU mask 1[S1 > 0] read off H (and dropout's 1/keep as scale). */
  reluBackward(g: Matrix, h: Matrix, scale?: number): MaybePromise<void>;

  /** out = alpha · Σ_i a[i][·] + beta · out (out is 1 × a.cols): bias gradients, and bias updates with beta = 1. */
  columnSums(a: Matrix, out: Matrix, alpha: number, beta?: number): MaybePromise<void>;

  /** y = alpha · x + beta · y (same shapes): ensembles average their probabilities with it. */
  scaleAdd(y: Matrix, x: Matrix, alpha: number, beta: number): MaybePromise<void>;

  /** Σ a[i][j]². */
  sumSquares(a: Matrix): MaybePromise<number>;

  /**
   * One step of SGD with momentum on w, with data gradient g and L2 strength lambda (0 for biases): g' = g + 2 lambda w;
   * v = mu v + g', then w −= eta v (Nesterov: w −= eta (g' + mu v)). Plain SGD needs no op: the network folds it into
   * the products' beta.
   */
  sgdUpdate(w: Matrix, g: Matrix, eta: number, lambda: number, momentum: MomentumState): MaybePromise<void>;

  /** Batch normalisation, per column j of s (n × m): mean_j = Σ_i s_ij / n, variance_j = Σ_i (s_ij − mean_j)² / n (1 × m each). */
  batchStatistics(s: Matrix, mean: Matrix, variance: Matrix): MaybePromise<void>;

  /** out = (s − mean) / √(variance + eps), row by row (out never aliases s): Ŝ. */
  batchNormalize(s: Matrix, mean: Matrix, variance: Matrix, eps: number, out: Matrix): MaybePromise<void>;

  /** out = max(0, gamma ⊙ x + beta), row by row (gamma, beta 1 × x.cols): H = relu(γ Ŝ + β). */
  affineRelu(x: Matrix, gamma: Matrix, beta: Matrix, out: Matrix): MaybePromise<void>;

  /** out_j = alpha · Σ_i a_ij b_ij (out 1 × a.cols): dγ = Σ_rows G ⊙ Ŝ / n. */
  columnDots(a: Matrix, b: Matrix, out: Matrix, alpha: number): MaybePromise<void>;

  /** g_ij = g_ij · gamma_j in place: G ⊙ γ. */
  scaleColumns(g: Matrix, gamma: Matrix): MaybePromise<void>;

  /**
   * The batch-normalisation backward pass in place on g (the gradient with respect to Ŝ, n × m), to the gradient
   * with respect to S: g = (g − mean_rows(g) − Ŝ ⊙ mean_rows(g ⊙ Ŝ)) / √(variance + eps), with the batch's variance.
   */
  batchNormBackward(g: Matrix, shat: Matrix, variance: Matrix, eps: number): MaybePromise<void>;

  /**
   * One Adam step on w with data gradient g: g' = g (+ 2 lambda w unless decoupled); m = beta1 m + (1 − beta1) g',
   * v = beta2 v + (1 − beta2) g'², then w −= eta (m̂ / (√v̂ + eps) (+ 2 lambda w when decoupled)), with
   * m̂ = m / (1 − beta1^t), v̂ = v / (1 − beta2^t).
   */
  adamUpdate(w: Matrix, g: Matrix, eta: number, lambda: number, state: AdamState): MaybePromise<void>;

  /**
   * Mini-batch assembly: out row r = (records[rows[r]] / 255 − mean) · invStd, for r < count.
   * `records` holds uint8 pixels, record i at offset i · cols (labels already stripped).
   */
  gatherNormalized(records: Uint8Array, rows: ArrayLike<number>, count: number, mean: Float32Array, invStd: Float32Array, out: Matrix): MaybePromise<void>;

  /**
   * Optional: the same gather, started off the calling thread (where a helper thread can use a core the ops leave
   * idle); returns a function that waits for it. Until that is called, `out` must not be used; other ops may run.
   * The training stream assembles the next batch with it while the current one trains. With `transforms`, each
   * row's record is first transformed as data augmentation does (image-transform.ts transformRows).
   */
  gatherNormalizedAhead?(records: Uint8Array, rows: ArrayLike<number>, count: number, mean: Float32Array, invStd: Float32Array, out: Matrix,
    transforms?: RowTransforms): () => MaybePromise<void>;

  /** Copies a matrix's values into a fresh Float64Array (checkpoints, reporting, tests). */
  read(a: Matrix): MaybePromise<Float64Array>;
  /** Overwrites a matrix's values. */
  write(a: Matrix, values: ArrayLike<number>): MaybePromise<void>;
  /**
   * Frees every matrix handed out so far: later matrices may reuse their storage and the old ones must not be
   * used again. One backend can so serve run after run (a search worker's trials) without growing.
   */
  releaseAll(): void;
  /** Releases workers and memory. */
  dispose(): MaybePromise<void>;
}

/** `ops` of `to`, bound to it: a backend that hands these ops on unchanged assigns them to itself. */
export function delegateOps<T extends KernelBackend, K extends keyof KernelBackend & keyof T>(to: T, ops: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const op of ops) out[op] = (to[op] as (...args: unknown[]) => unknown).bind(to) as T[K];
  return out;
}

/** The batch-normalisation ops (a network with `batchNorm` needs them). */
export const BATCH_NORM_OPS = ['batchStatistics', 'batchNormalize', 'affineRelu', 'columnDots', 'scaleColumns', 'batchNormBackward'] as const satisfies readonly (keyof KernelBackend)[];

export function assertShape(m: Matrix, rows: number, cols: number, what: string): void {
  if (m.rows !== rows || m.cols !== cols) {
    throw new Error(`${what}: expected ${rows}×${cols}, got ${m.rows}×${m.cols}`);
  }
}

/** The shape of c = op(a) · op(b), checked: [n, m, k] (c is n × m, the inner dimension k). */
export function gemmShape(a: Matrix, ta: boolean, b: Matrix, tb: boolean, c: Matrix): [n: number, m: number, k: number] {
  const n = ta ? a.cols : a.rows, k = ta ? a.rows : a.cols;
  const kb = tb ? b.cols : b.rows, m = tb ? b.rows : b.cols;
  if (k !== kb || c.rows !== n || c.cols !== m) {
    throw new Error(`gemm: shapes ${a.rows}×${a.cols}${ta ? 'ᵀ' : ''} · ${b.rows}×${b.cols}${tb ? 'ᵀ' : ''} → ${c.rows}×${c.cols} do not fit`);
  }
  return [n, m, k];
}

/** A host matrix's values, for code that needs direct access (the gradient check); throws for device matrices. */
export function hostData(m: Matrix): Float {
  const data = (m as Partial<HostMatrix>).data;
  if (!data) throw new Error('this matrix lives on a device: read() it instead');
  return data;
}

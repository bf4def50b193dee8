/**
 * The element-wise ops of the kernel interface as plain loops over host memory, shared by the float32 backends
 * whose speed lies in gemm (wasm-simd, BLAS, gpu.js's CPU modes): a backend extends HostBackend, implements
 * `matrix` and `gemm`, and overrides whichever other op it does faster. At the step's shapes these loops touch
 * n × m or n × k values: microseconds, against the milliseconds of the two products with W1.
 */
import { gemmShape, type AdamState, type Float, type HostMatrix, type KernelBackend, type Labels, type LossSums, type Matrix, type MomentumState } from './backend.js';
import { keepThreshold, maskHash } from './dropout-mask.js';

const identity = (v: number) => v;
/** How a value is rounded when stored in this array. */
const rounding = (x: Float) => (x instanceof Float32Array ? Math.fround : identity);

export abstract class HostBackend implements KernelBackend {
  abstract readonly name: string;
  abstract readonly dtype: 'float32' | 'float64';
  abstract readonly threads: number;

  abstract matrix(rows: number, cols: number): HostMatrix;
  abstract gemm(a: Matrix, transA: boolean, b: Matrix, transB: boolean, c: Matrix, alpha?: number, beta?: number): void | Promise<void>;

  /** The values of a matrix of this backend (a subclass may check that it allocated it). */
  protected data(m: Matrix, _what: string): Float {
    return (m as HostMatrix).data;
  }

  /** Checks the shapes of a product: [n, m, k]. */
  protected gemmShape(a: Matrix, ta: boolean, b: Matrix, tb: boolean, c: Matrix): [number, number, number] {
    return gemmShape(a, ta, b, tb, c);
  }

  biasRelu(s: Matrix, bias: Matrix): void {
    const { rows, cols } = s, x = this.data(s, 'biasRelu s'), b = this.data(bias, 'biasRelu bias');
    for (let i = 0; i < rows; i++) {
      const o = i * cols;
      for (let j = 0; j < cols; j++) {
        const v = x[o + j] + b[j];
        x[o + j] = v > 0 ? v : 0;
      }
    }
  }

  dropout(h: Matrix, keep: number, seed: number): void {
    const x = this.data(h, 'dropout h'), n = h.rows * h.cols, threshold = keepThreshold(keep), inv = 1 / keep;
    for (let i = 0; i < n; i++) x[i] = maskHash(seed, i) < threshold ? x[i] * inv : 0;
  }

  /**
   * The maximum (and its column) of row s[o..] + bias and 1 / Σ exp(z − max) of its stored values z: `round` is the
   * storage's rounding (Math.fround for float32), so a probability recomputed from them is the one softmax stores.
   */
  private softmaxRow(x: Float, b: Float, o: number, cols: number, round: (v: number) => number): { max: number; arg: number; inv: number } {
    let max = -Infinity, arg = 0;
    for (let j = 0; j < cols; j++) {
      const v = x[o + j] + b[j];
      if (v > max) { max = v; arg = j; }
    }
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(round(x[o + j] + b[j]) - max);
    return { max, arg, inv: 1 / sum };
  }

  softmax(s: Matrix, bias: Matrix): void {
    const { cols } = s, x = this.data(s, 'softmax s'), b = this.data(bias, 'softmax bias'), round = rounding(x);
    for (let i = 0; i < s.rows; i++) {
      const o = i * cols, { max, inv } = this.softmaxRow(x, b, o, cols, round);
      for (let j = 0; j < cols; j++) x[o + j] = round(Math.exp(round(x[o + j] + b[j]) - max)) * inv;
    }
  }

  softmaxLoss(s: Matrix, bias: Matrix, labels: Labels, rows = s.rows): LossSums {
    const { cols } = s, x = this.data(s, 'softmaxLoss s'), b = this.data(bias, 'softmaxLoss bias'), round = rounding(x);
    let lossSum = 0, correct = 0;
    for (let i = 0; i < rows; i++) {
      const o = i * cols, y = labels[i], { max, arg, inv } = this.softmaxRow(x, b, o, cols, round);
      const p = round(round(Math.exp(round(x[o + y] + b[y]) - max)) * inv);
      lossSum -= Math.log(Math.max(p, 1e-300));
      if (arg === y) correct++;
    }
    return { lossSum, correct };
  }

  softmaxGradient(s: Matrix, bias: Matrix, labels: Labels): void {
    this.softmax(s, bias);
    const x = this.data(s, 'softmaxGradient s');
    for (let i = 0; i < s.rows; i++) x[i * s.cols + labels[i]] -= 1;
  }

  crossEntropy(p: Matrix, labels: Labels, rows = p.rows): LossSums {
    const { cols } = p, x = this.data(p, 'crossEntropy p');
    let lossSum = 0, correct = 0;
    for (let i = 0; i < rows; i++) {
      const o = i * cols, y = labels[i];
      lossSum -= Math.log(Math.max(x[o + y], 1e-300));
      let arg = 0;
      for (let j = 1; j < cols; j++) if (x[o + j] > x[o + arg]) arg = j;
      if (arg === y) correct++;
    }
    return { lossSum, correct };
  }

  reluBackward(g: Matrix, h: Matrix, scale = 1): void {
    const x = this.data(g, 'reluBackward g'), y = this.data(h, 'reluBackward h'), n = g.rows * g.cols;
    for (let i = 0; i < n; i++) x[i] = y[i] > 0 ? x[i] * scale : 0;
  }

  columnSums(a: Matrix, out: Matrix, alpha: number, beta = 0): void {
    const { rows, cols } = a, x = this.data(a, 'columnSums a'), o = this.data(out, 'columnSums out');
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let i = 0; i < rows; i++) s += x[i * cols + j];
      o[j] = alpha * s + (beta === 0 ? 0 : beta * o[j]);
    }
  }

  scaleAdd(y: Matrix, x: Matrix, alpha: number, beta: number): void {
    const a = this.data(y, 'scaleAdd y'), b = this.data(x, 'scaleAdd x'), n = y.rows * y.cols;
    for (let i = 0; i < n; i++) a[i] = alpha * b[i] + (beta === 0 ? 0 : beta * a[i]);
  }

  sumSquares(a: Matrix): number {
    const x = this.data(a, 'sumSquares a'), n = a.rows * a.cols;
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i] * x[i];
    return s;
  }

  sgdUpdate(w: Matrix, g: Matrix, eta: number, lambda: number, momentum: MomentumState): void {
    const x = this.data(w, 'sgdUpdate w'), d = this.data(g, 'sgdUpdate g'), n = w.rows * w.cols;
    if (g.rows * g.cols !== n) throw new Error(`sgdUpdate: ${w.rows}×${w.cols} weights, ${g.rows}×${g.cols} gradient`);
    const v = this.data(momentum.v, 'sgdUpdate v'), { mu, nesterov } = momentum;
    for (let i = 0; i < n; i++) {
      const gi = d[i] + 2 * lambda * x[i];
      const vi = mu * v[i] + gi;
      v[i] = vi;
      x[i] -= eta * (nesterov ? gi + mu * vi : vi);
    }
  }

  adamUpdate(w: Matrix, g: Matrix, eta: number, lambda: number, s: AdamState): void {
    const x = this.data(w, 'adamUpdate w'), d = this.data(g, 'adamUpdate g'), n = w.rows * w.cols;
    if (g.rows * g.cols !== n) throw new Error(`adamUpdate: ${w.rows}×${w.cols} weights, ${g.rows}×${g.cols} gradient`);
    const m = this.data(s.m, 'adamUpdate m'), v = this.data(s.v, 'adamUpdate v'), { beta1, beta2, eps, decoupled } = s;
    const c1 = 1 - beta1 ** s.t, c2 = 1 - beta2 ** s.t, l2 = decoupled ? 0 : 2 * lambda, decay = decoupled ? 2 * lambda : 0;
    for (let i = 0; i < n; i++) {
      const xi = x[i], gi = d[i] + l2 * xi;
      const mi = beta1 * m[i] + (1 - beta1) * gi, vi = beta2 * v[i] + (1 - beta2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      x[i] = xi - eta * (mi / c1 / (Math.sqrt(vi / c2) + eps) + decay * xi);
    }
  }

  batchStatistics(s: Matrix, mean: Matrix, variance: Matrix): void {
    const { rows, cols } = s, x = this.data(s, 'batchStatistics s'), mu = this.data(mean, 'batchStatistics mean'), v = this.data(variance, 'batchStatistics variance');
    const sums = this.columnScratch(cols, 0);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) sums[j] += x[i * cols + j];
    for (let j = 0; j < cols; j++) mu[j] = sums[j] / rows;
    sums.fill(0);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) { const c = x[i * cols + j] - mu[j]; sums[j] += c * c; }
    for (let j = 0; j < cols; j++) v[j] = sums[j] / rows;
  }

  batchNormalize(s: Matrix, mean: Matrix, variance: Matrix, eps: number, out: Matrix): void {
    const { rows, cols } = s, x = this.data(s, 'batchNormalize s'), y = this.data(out, 'batchNormalize out');
    const mu = this.data(mean, 'batchNormalize mean'), v = this.data(variance, 'batchNormalize variance'), inv = this.columnScratch(cols, 0);
    for (let j = 0; j < cols; j++) inv[j] = 1 / Math.sqrt(v[j] + eps);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) y[i * cols + j] = (x[i * cols + j] - mu[j]) * inv[j];
  }

  affineRelu(x: Matrix, gamma: Matrix, beta: Matrix, out: Matrix): void {
    const { rows, cols } = x, a = this.data(x, 'affineRelu x'), y = this.data(out, 'affineRelu out');
    const g = this.data(gamma, 'affineRelu gamma'), b = this.data(beta, 'affineRelu beta');
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const v = g[j] * a[i * cols + j] + b[j];
        y[i * cols + j] = v > 0 ? v : 0;
      }
    }
  }

  columnDots(a: Matrix, b: Matrix, out: Matrix, alpha: number): void {
    const { rows, cols } = a, x = this.data(a, 'columnDots a'), y = this.data(b, 'columnDots b'), o = this.data(out, 'columnDots out');
    const sums = this.columnScratch(cols, 0);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) sums[j] += x[i * cols + j] * y[i * cols + j];
    for (let j = 0; j < cols; j++) o[j] = alpha * sums[j];
  }

  scaleColumns(g: Matrix, gamma: Matrix): void {
    const { rows, cols } = g, x = this.data(g, 'scaleColumns g'), c = this.data(gamma, 'scaleColumns gamma');
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) x[i * cols + j] *= c[j];
  }

  batchNormBackward(g: Matrix, shat: Matrix, variance: Matrix, eps: number): void {
    const { rows, cols } = g, x = this.data(g, 'batchNormBackward g'), h = this.data(shat, 'batchNormBackward shat'), v = this.data(variance, 'batchNormBackward variance');
    const meanG = this.columnScratch(cols, 0), meanGS = this.columnScratch(cols, 1);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) { meanG[j] += x[i * cols + j]; meanGS[j] += x[i * cols + j] * h[i * cols + j]; }
    }
    for (let j = 0; j < cols; j++) { meanG[j] /= rows; meanGS[j] /= rows; }
    const inv = this.columnScratch(cols, 2);
    for (let j = 0; j < cols; j++) inv[j] = 1 / Math.sqrt(v[j] + eps);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) { const o = i * cols + j; x[o] = (x[o] - meanG[j] - h[o] * meanGS[j]) * inv[j]; }
    }
  }

  /** A zeroed float64 row of `cols` values for per-column sums (three kept, `which` 0–2), reused across calls. */
  private columnScratch(cols: number, which: 0 | 1 | 2): Float64Array {
    if (this.scratchRows.length < 3 * cols) this.scratchRows = new Float64Array(3 * cols);
    return this.scratchRows.subarray(which * cols, (which + 1) * cols).fill(0);
  }
  private scratchRows = new Float64Array(0);

  gatherNormalized(records: Uint8Array, rows: ArrayLike<number>, count: number, mean: Float32Array, invStd: Float32Array, out: Matrix): void {
    const d = out.cols, y = this.data(out, 'gatherNormalized out');
    if (count > out.rows) throw new RangeError(`gatherNormalized: ${count} rows into a ${out.rows}-row matrix`);
    for (let r = 0; r < count; r++) {
      const src = rows[r] * d, dst = r * d;
      for (let k = 0; k < d; k++) y[dst + k] = (records[src + k] * (1 / 255) - mean[k]) * invStd[k];
    }
  }

  read(a: Matrix): Float64Array {
    return Float64Array.from(this.data(a, 'read').subarray(0, a.rows * a.cols));
  }

  write(a: Matrix, values: ArrayLike<number>): void {
    const n = a.rows * a.cols, x = this.data(a, 'write');
    if (values.length !== n) throw new Error(`write: expected ${n} values, got ${values.length}`);
    for (let i = 0; i < n; i++) x[i] = values[i];
  }

  abstract releaseAll(): void;
  abstract dispose(): void | Promise<void>;
}

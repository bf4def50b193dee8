/**
 * The float64 reference backend: direct loops, written for clarity and independence from the
 * fast backends. Tests compare every backend against it; the gradient check runs on it.
 */
import { gemmShape, type AdamState, type HostMatrix, type KernelBackend, type Labels, type LossSums, type Matrix, type MomentumState } from './backend.js';
import { keepUnit } from './dropout-mask.js';

/** The values of a matrix: every matrix here is a host matrix allocated by matrix() below. */
const vals = (m: Matrix) => (m as HostMatrix).data;
const at = (m: Matrix, i: number, j: number, t: boolean) => (t ? vals(m)[j * m.cols + i] : vals(m)[i * m.cols + j]);
const row = (m: Matrix, i: number) => Array.from(vals(m).subarray(i * m.cols, (i + 1) * m.cols));

export class ReferenceBackend implements KernelBackend {
  readonly name = 'reference-f64';
  readonly dtype = 'float64' as const;
  readonly threads = 1;

  matrix(rows: number, cols: number): HostMatrix {
    return { rows, cols, data: new Float64Array(rows * cols) };
  }

  gemm(a: Matrix, ta: boolean, b: Matrix, tb: boolean, c: Matrix, alpha = 1, beta = 0): void {
    const [n, m, k] = gemmShape(a, ta, b, tb, c);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += at(a, i, p, ta) * at(b, p, j, tb);
        const o = i * m + j;
        vals(c)[o] = alpha * s + (beta === 0 ? 0 : beta * vals(c)[o]);
      }
    }
  }

  biasRelu(s: Matrix, bias: Matrix): void {
    for (let i = 0; i < s.rows; i++) for (let j = 0; j < s.cols; j++) vals(s)[i * s.cols + j] = Math.max(0, vals(s)[i * s.cols + j] + vals(bias)[j]);
  }

  dropout(h: Matrix, keep: number, seed: number): void {
    vals(h).forEach((v, i) => { vals(h)[i] = keepUnit(seed, i, keep) ? v / keep : 0; });
  }

  softmax(s: Matrix, bias: Matrix): void {
    for (let i = 0; i < s.rows; i++) {
      const z = row(s, i).map((v, j) => v + vals(bias)[j]);
      const max = Math.max(...z);
      const e = z.map((v) => Math.exp(v - max));
      const total = e.reduce((x, y) => x + y, 0);
      e.forEach((v, j) => { vals(s)[i * s.cols + j] = v / total; });
    }
  }

  softmaxLoss(s: Matrix, bias: Matrix, labels: Labels, rows = s.rows): LossSums {
    const p = this.matrix(s.rows, s.cols);
    p.data.set(vals(s));
    this.softmax(p, bias);
    return this.crossEntropy(p, labels, rows);
  }

  softmaxGradient(s: Matrix, bias: Matrix, labels: Labels): void {
    this.softmax(s, bias);
    for (let i = 0; i < s.rows; i++) vals(s)[i * s.cols + labels[i]] -= 1;
  }

  crossEntropy(p: Matrix, labels: Labels, rows = p.rows): LossSums {
    let lossSum = 0, correct = 0;
    for (let i = 0; i < rows; i++) {
      const r = row(p, i);
      lossSum += -Math.log(r[labels[i]]);
      if (r.indexOf(Math.max(...r)) === labels[i]) correct++;
    }
    return { lossSum, correct };
  }

  reluBackward(g: Matrix, h: Matrix, scale = 1): void {
    vals(h).forEach((v, i) => { vals(g)[i] = v > 0 ? vals(g)[i] * scale : 0; });
  }

  columnSums(a: Matrix, out: Matrix, alpha: number, beta = 0): void {
    for (let j = 0; j < a.cols; j++) {
      let s = 0;
      for (let i = 0; i < a.rows; i++) s += vals(a)[i * a.cols + j];
      vals(out)[j] = alpha * s + (beta === 0 ? 0 : beta * vals(out)[j]);
    }
  }

  scaleAdd(y: Matrix, x: Matrix, alpha: number, beta: number): void {
    vals(y).forEach((v, i) => { vals(y)[i] = alpha * vals(x)[i] + (beta === 0 ? 0 : beta * v); });
  }

  sumSquares(a: Matrix): number {
    let s = 0;
    for (const v of vals(a)) s += v * v;
    return s;
  }

  sgdUpdate(w: Matrix, g: Matrix, eta: number, lambda: number, momentum: MomentumState): void {
    const v = vals(momentum.v);
    for (let i = 0; i < vals(w).length; i++) {
      const grad = vals(g)[i] + 2 * lambda * vals(w)[i];
      v[i] = momentum.mu * v[i] + grad;
      vals(w)[i] -= eta * (momentum.nesterov ? grad + momentum.mu * v[i] : v[i]);
    }
  }

  adamUpdate(w: Matrix, g: Matrix, eta: number, lambda: number, s: AdamState): void {
    const c1 = 1 - s.beta1 ** s.t, c2 = 1 - s.beta2 ** s.t;
    for (let i = 0; i < vals(w).length; i++) {
      const x = vals(w)[i], grad = vals(g)[i] + (s.decoupled ? 0 : 2 * lambda * x);
      vals(s.m)[i] = s.beta1 * vals(s.m)[i] + (1 - s.beta1) * grad;
      vals(s.v)[i] = s.beta2 * vals(s.v)[i] + (1 - s.beta2) * grad * grad;
      const step = vals(s.m)[i] / c1 / (Math.sqrt(vals(s.v)[i] / c2) + s.eps);
      vals(w)[i] = x - eta * (step + (s.decoupled ? 2 * lambda * x : 0));
    }
  }

  batchStatistics(s: Matrix, mean: Matrix, variance: Matrix): void {
    const n = s.rows;
    for (let j = 0; j < s.cols; j++) {
      const column = Array.from({ length: n }, (_, i) => vals(s)[i * s.cols + j]);
      const mu = column.reduce((x, y) => x + y, 0) / n;
      vals(mean)[j] = mu;
      vals(variance)[j] = column.reduce((x, v) => x + (v - mu) ** 2, 0) / n;
    }
  }

  batchNormalize(s: Matrix, mean: Matrix, variance: Matrix, eps: number, out: Matrix): void {
    vals(s).forEach((v, i) => { const j = i % s.cols; vals(out)[i] = (v - vals(mean)[j]) / Math.sqrt(vals(variance)[j] + eps); });
  }

  affineRelu(x: Matrix, gamma: Matrix, beta: Matrix, out: Matrix): void {
    vals(x).forEach((v, i) => { const j = i % x.cols; vals(out)[i] = Math.max(0, vals(gamma)[j] * v + vals(beta)[j]); });
  }

  columnDots(a: Matrix, b: Matrix, out: Matrix, alpha: number): void {
    for (let j = 0; j < a.cols; j++) {
      let s = 0;
      for (let i = 0; i < a.rows; i++) s += vals(a)[i * a.cols + j] * vals(b)[i * a.cols + j];
      vals(out)[j] = alpha * s;
    }
  }

  scaleColumns(g: Matrix, gamma: Matrix): void {
    vals(g).forEach((v, i) => { vals(g)[i] = v * vals(gamma)[i % g.cols]; });
  }

  batchNormBackward(g: Matrix, shat: Matrix, variance: Matrix, eps: number): void {
    const n = g.rows, m = g.cols, meanG = this.matrix(1, m), meanGS = this.matrix(1, m);
    this.columnSums(g, meanG, 1 / n);
    this.columnDots(g, shat, meanGS, 1 / n);
    vals(g).forEach((v, i) => {
      const j = i % m;
      vals(g)[i] = (v - vals(meanG)[j] - vals(shat)[i] * vals(meanGS)[j]) / Math.sqrt(vals(variance)[j] + eps);
    });
  }

  gatherNormalized(records: Uint8Array, rows: ArrayLike<number>, count: number, mean: Float32Array, invStd: Float32Array, out: Matrix): void {
    for (let r = 0; r < count; r++) {
      for (let k = 0; k < out.cols; k++) {
        vals(out)[r * out.cols + k] = (records[rows[r] * out.cols + k] / 255 - mean[k]) * invStd[k];
      }
    }
  }

  read(a: Matrix): Float64Array {
    return Float64Array.from(vals(a));
  }

  write(a: Matrix, values: ArrayLike<number>): void {
    if (values.length !== vals(a).length) throw new Error(`write: expected ${vals(a).length} values, got ${values.length}`);
    vals(a).set(Array.from(values));
  }

  releaseAll(): void {} // matrices are garbage-collected arrays
  dispose(): void {}
}

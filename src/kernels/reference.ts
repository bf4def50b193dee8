/**
 * The float64 reference backend: direct loops, written for clarity and independence from the
 * fast backends. Tests compare every backend against it; the gradient check runs on it.
 */
import type { KernelBackend, Labels, Matrix } from './backend.js';

const at = (m: Matrix, i: number, j: number, t: boolean) => (t ? m.data[j * m.cols + i] : m.data[i * m.cols + j]);

export class ReferenceBackend implements KernelBackend {
  readonly name = 'reference-f64';
  readonly dtype = 'float64' as const;
  readonly threads = 0;

  matrix(rows: number, cols: number): Matrix {
    return { rows, cols, data: new Float64Array(rows * cols) };
  }

  gemm(a: Matrix, ta: boolean, b: Matrix, tb: boolean, c: Matrix, alpha = 1, beta = 0): void {
    const n = ta ? a.cols : a.rows, k = ta ? a.rows : a.cols;
    const kb = tb ? b.cols : b.rows, m = tb ? b.rows : b.cols;
    if (k !== kb || c.rows !== n || c.cols !== m) {
      throw new Error(`gemm: shapes ${a.rows}×${a.cols}${ta ? 'ᵀ' : ''} · ${b.rows}×${b.cols}${tb ? 'ᵀ' : ''} → ${c.rows}×${c.cols} do not fit`);
    }
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += at(a, i, p, ta) * at(b, p, j, tb);
        const o = i * m + j;
        c.data[o] = alpha * s + (beta === 0 ? 0 : beta * c.data[o]);
      }
    }
  }

  addRowVector(a: Matrix, bias: Matrix): void {
    for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) a.data[i * a.cols + j] += bias.data[j];
  }

  relu(s: Matrix, h: Matrix): void {
    s.data.forEach((v, i) => { h.data[i] = Math.max(0, v); });
  }

  reluBackward(g: Matrix, h: Matrix): void {
    h.data.forEach((v, i) => { if (v <= 0) g.data[i] = 0; });
  }

  softmaxRows(s: Matrix, p: Matrix): void {
    for (let i = 0; i < s.rows; i++) {
      const row = Array.from(s.data.subarray(i * s.cols, (i + 1) * s.cols));
      const max = Math.max(...row);
      const e = row.map((v) => Math.exp(v - max));
      const z = e.reduce((x, y) => x + y, 0);
      e.forEach((v, j) => { p.data[i * p.cols + j] = v / z; });
    }
  }

  crossEntropy(p: Matrix, labels: Labels, rows = p.rows): { lossSum: number; correct: number } {
    let lossSum = 0, correct = 0;
    for (let i = 0; i < rows; i++) {
      const row = Array.from(p.data.subarray(i * p.cols, (i + 1) * p.cols));
      lossSum += -Math.log(row[labels[i]]);
      if (row.indexOf(Math.max(...row)) === labels[i]) correct++;
    }
    return { lossSum, correct };
  }

  subtractOneHot(p: Matrix, labels: Labels): void {
    for (let i = 0; i < p.rows; i++) p.data[i * p.cols + labels[i]] -= 1;
  }

  columnSums(a: Matrix, out: Matrix, scale: number): void {
    for (let j = 0; j < a.cols; j++) {
      let s = 0;
      for (let i = 0; i < a.rows; i++) s += a.data[i * a.cols + j];
      out.data[j] = scale * s;
    }
  }

  sumSquares(a: Matrix): number {
    let s = 0;
    for (const v of a.data) s += v * v;
    return s;
  }

  sgdUpdate(w: Matrix, g: Matrix, eta: number, lambda: number): void {
    for (let i = 0; i < w.data.length; i++) w.data[i] -= eta * (g.data[i] + 2 * lambda * w.data[i]);
  }

  gatherNormalized(records: Uint8Array, rows: ArrayLike<number>, count: number, mean: Float32Array, invStd: Float32Array, out: Matrix): void {
    for (let r = 0; r < count; r++) {
      for (let k = 0; k < out.cols; k++) {
        out.data[r * out.cols + k] = (records[rows[r] * out.cols + k] / 255 - mean[k]) * invStd[k];
      }
    }
  }

  read(a: Matrix): Float64Array {
    return Float64Array.from(a.data);
  }

  write(a: Matrix, values: ArrayLike<number>): void {
    if (values.length !== a.data.length) throw new Error(`write: expected ${a.data.length} values, got ${values.length}`);
    a.data.set(Array.from(values));
  }

  releaseAll(): void {} // matrices are garbage-collected arrays
  dispose(): void {}
}

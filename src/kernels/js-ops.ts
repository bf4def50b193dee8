/**
 * The element-wise ops of the kernel interface as plain loops over a matrix's typed array.
 * Backends whose speed lies in gemm (gpu.js, wasm-simd) reuse these: they touch n × m or n × K values,
 * a few microseconds per step against the milliseconds of the two W1 products.
 */
import type { Labels, Matrix } from './backend.js';

export function addRowVector(a: Matrix, bias: Matrix): void {
  const { rows, cols, data } = a;
  const b = bias.data;
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) data[o + j] += b[j];
  }
}

export function relu(s: Matrix, h: Matrix): void {
  const x = s.data, y = h.data, n = s.rows * s.cols;
  for (let i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0;
}

export function reluBackward(g: Matrix, h: Matrix): void {
  const x = g.data, y = h.data, n = g.rows * g.cols;
  for (let i = 0; i < n; i++) if (!(y[i] > 0)) x[i] = 0;
}

export function softmaxRows(s: Matrix, p: Matrix): void {
  const { rows, cols } = s;
  const x = s.data, y = p.data;
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (x[o + j] > max) max = x[o + j];
    let sum = 0;
    for (let j = 0; j < cols; j++) { const e = Math.exp(x[o + j] - max); y[o + j] = e; sum += e; }
    const inv = 1 / sum;
    for (let j = 0; j < cols; j++) y[o + j] *= inv;
  }
}

export function crossEntropy(p: Matrix, labels: Labels, rows = p.rows): { lossSum: number; correct: number } {
  const { cols, data } = p;
  let lossSum = 0, correct = 0;
  for (let i = 0; i < rows; i++) {
    const o = i * cols, y = labels[i];
    lossSum -= Math.log(Math.max(data[o + y], 1e-300));
    let arg = 0;
    for (let j = 1; j < cols; j++) if (data[o + j] > data[o + arg]) arg = j;
    if (arg === y) correct++;
  }
  return { lossSum, correct };
}

export function subtractOneHot(p: Matrix, labels: Labels): void {
  for (let i = 0; i < p.rows; i++) p.data[i * p.cols + labels[i]] -= 1;
}

export function columnSums(a: Matrix, out: Matrix, scale: number): void {
  const { rows, cols, data } = a;
  const o = out.data;
  o.fill(0, 0, cols);
  for (let i = 0; i < rows; i++) {
    const r = i * cols;
    for (let j = 0; j < cols; j++) o[j] += data[r + j];
  }
  for (let j = 0; j < cols; j++) o[j] *= scale;
}

export function sumSquares(a: Matrix): number {
  const d = a.data, n = a.rows * a.cols;
  let s = 0;
  for (let i = 0; i < n; i++) s += d[i] * d[i];
  return s;
}

export function sgdUpdate(w: Matrix, g: Matrix, eta: number, lambda: number): void {
  const x = w.data, d = g.data, n = w.rows * w.cols;
  const decay = 1 - 2 * eta * lambda;
  for (let i = 0; i < n; i++) x[i] = decay * x[i] - eta * d[i];
}

export function gatherNormalized(records: Uint8Array, rows: ArrayLike<number>, count: number, mean: Float32Array, invStd: Float32Array, out: Matrix): void {
  const d = out.cols, y = out.data;
  for (let r = 0; r < count; r++) {
    const src = rows[r] * d, dst = r * d;
    for (let k = 0; k < d; k++) y[dst + k] = (records[src + k] * (1 / 255) - mean[k]) * invStd[k];
  }
}

export function read(a: Matrix): Float64Array {
  return Float64Array.from(a.data.subarray(0, a.rows * a.cols));
}

export function write(a: Matrix, values: ArrayLike<number>): void {
  const n = a.rows * a.cols;
  if (values.length !== n) throw new Error(`write: expected ${n} values, got ${values.length}`);
  for (let i = 0; i < n; i++) a.data[i] = values[i];
}

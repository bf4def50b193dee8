/**
 * Every float32 backend that loads here against the float64 reference, op by op, on random shapes
 * (odd sizes included); and the reference itself against hand-computed values.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelBackend, Matrix } from '../src/kernels/backend.js';
import { ReferenceBackend } from '../src/kernels/reference.js';
import { selectBackend, type BackendName } from '../src/kernels/select.js';
import { Rng } from '../src/util/rng.js';

const ref = new ReferenceBackend();

function randomValues(rng: Rng, n: number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => (rng.uniform() * 2 - 1) * scale);
}

/** The same random values in both backends (rounded to float32 first, so inputs are identical). */
function pair(b: KernelBackend, rows: number, cols: number, rng: Rng, scale = 1): [Matrix, Matrix] {
  const v = Float64Array.from(randomValues(rng, rows * cols, scale), Math.fround);
  const mb = b.matrix(rows, cols), mr = ref.matrix(rows, cols);
  b.write(mb, v);
  ref.write(mr, v);
  return [mb, mr];
}

function expectClose(b: KernelBackend, got: Matrix, want: Matrix, tol: number): void {
  const g = b.read(got), w = ref.read(want);
  expect(g.length).toBe(w.length);
  let worst = 0;
  for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - w[i]) / (1 + Math.abs(w[i])));
  expect(worst).toBeLessThan(tol);
}

describe('reference backend (float64) on hand-computed values', () => {
  it('gemm in all layouts', () => {
    const a = ref.matrix(2, 3), b = ref.matrix(3, 2), c = ref.matrix(2, 2);
    ref.write(a, [1, 2, 3, 4, 5, 6]);
    ref.write(b, [7, 8, 9, 10, 11, 12]);
    ref.gemm(a, false, b, false, c);
    expect(Array.from(c.data)).toEqual([58, 64, 139, 154]);
    const at = ref.matrix(3, 2), bt = ref.matrix(2, 3);
    ref.write(at, [1, 4, 2, 5, 3, 6]);
    ref.write(bt, [7, 9, 11, 8, 10, 12]);
    ref.gemm(at, true, bt, true, c, 2, 0);
    expect(Array.from(c.data)).toEqual([116, 128, 278, 308]);
    ref.gemm(a, false, bt, true, c, 1, 1);
    expect(Array.from(c.data)).toEqual([174, 192, 417, 462]);
  });

  it('softmax, cross-entropy and the one-hot gradient', () => {
    const s = ref.matrix(1, 3), p = ref.matrix(1, 3);
    ref.write(s, [1, 2, 3]);
    ref.softmaxRows(s, p);
    const z = Math.E + Math.E ** 2 + Math.E ** 3;
    expect(p.data[2]).toBeCloseTo(Math.E ** 3 / z, 15);
    const { lossSum, correct } = ref.crossEntropy(p, Uint8Array.of(1));
    expect(lossSum).toBeCloseTo(-Math.log(Math.E ** 2 / z), 14);
    expect(correct).toBe(0);
    ref.subtractOneHot(p, Uint8Array.of(1));
    expect(p.data[1]).toBeCloseTo(Math.E ** 2 / z - 1, 15);
  });

  it('normalised gather, column sums, update', () => {
    const out = ref.matrix(2, 2);
    ref.gatherNormalized(Uint8Array.of(0, 255, 51, 102, 10, 20), [2, 0], 2, Float32Array.of(0, 0.5), Float32Array.of(1, 2), out);
    expect(Array.from(out.data).map((v) => +v.toFixed(6))).toEqual([+(10 / 255).toFixed(6), +((20 / 255 - 0.5) * 2).toFixed(6), 0, 1]);
    const sums = ref.matrix(1, 2);
    ref.columnSums(out, sums, 0.5);
    expect(sums.data[1]).toBeCloseTo(((20 / 255 - 0.5) * 2 + 1) / 2, 6);
    const w = ref.matrix(1, 2), g = ref.matrix(1, 2);
    ref.write(w, [1, -2]);
    ref.write(g, [0.5, 0.5]);
    ref.sgdUpdate(w, g, 0.1, 0.25);
    expect(Array.from(w.data)).toEqual([1 - 0.1 * (0.5 + 0.5), -2 - 0.1 * (0.5 - 1)]);
  });
});

const FLOAT32_BACKENDS: BackendName[] = ['wasm-simd', 'webasm', 'cpu'];

describe.each(FLOAT32_BACKENDS)('%s backend against the float64 reference', (name) => {
  let b: KernelBackend;
  beforeAll(async () => {
    b = (await selectBackend(name, 2)).backend;
  });
  afterAll(async () => {
    await b?.dispose();
  });

  const shapes: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [17, 13, 31], [100, 50, 3072], [37, 10, 50], [64, 33, 129]];

  it.each(shapes)('gemm in all four layouts, n=%i m=%i k=%i, with alpha and beta', async (n, m, k) => {
    const rng = new Rng(n * 1000 + m * 10 + k);
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const [a, ar] = pair(b, ta ? k : n, ta ? n : k, rng);
        const [bb, br] = pair(b, tb ? m : k, tb ? k : m, rng);
        const [c, cr] = pair(b, n, m, rng);
        await b.gemm(a, ta, bb, tb, c, 0.75, 0.5);
        ref.gemm(ar, ta, br, tb, cr, 0.75, 0.5);
        expectClose(b, c, cr, 2e-5 * Math.sqrt(k));
        await b.gemm(a, ta, bb, tb, c);
        ref.gemm(ar, ta, br, tb, cr);
        expectClose(b, c, cr, 2e-5 * Math.sqrt(k));
      }
    }
  });

  it.each([[1, 1], [7, 3], [100, 50], [33, 10]])('element-wise ops on %i × %i', async (rows, cols) => {
    const rng = new Rng(rows * 7 + cols);
    const [s, sr] = pair(b, rows, cols, rng, 3);
    const [bias, biasr] = pair(b, 1, cols, rng);
    await b.addRowVector(s, bias);
    ref.addRowVector(sr, biasr);
    expectClose(b, s, sr, 1e-6);

    const [h, hr] = pair(b, rows, cols, rng);
    await b.relu(s, h);
    ref.relu(sr, hr);
    expectClose(b, h, hr, 1e-7);

    const [g, gr] = pair(b, rows, cols, rng);
    await b.reluBackward(g, h);
    ref.reluBackward(gr, hr);
    expectClose(b, g, gr, 1e-7);

    const [p, pr] = pair(b, rows, cols, rng);
    await b.softmaxRows(s, p);
    ref.softmaxRows(sr, pr);
    expectClose(b, p, pr, 1e-6);

    const labels = Uint8Array.from({ length: rows }, () => rng.int(0, cols - 1));
    const ce = await b.crossEntropy(p, labels), cer = ref.crossEntropy(pr, labels);
    expect(Math.abs(ce.lossSum - cer.lossSum) / (1 + cer.lossSum)).toBeLessThan(1e-5);
    expect(ce.correct).toBe(cer.correct);
    if (rows > 1) {
      const part = await b.crossEntropy(p, labels, rows - 1), partr = ref.crossEntropy(pr, labels, rows - 1);
      expect(part.lossSum).toBeCloseTo(partr.lossSum, 4);
    }

    await b.subtractOneHot(p, labels);
    ref.subtractOneHot(pr, labels);
    expectClose(b, p, pr, 1e-6);

    const [sums, sumsr] = pair(b, 1, cols, rng);
    await b.columnSums(p, sums, 1 / rows);
    ref.columnSums(pr, sumsr, 1 / rows);
    expectClose(b, sums, sumsr, 1e-6);

    const sq = await b.sumSquares(s), sqr = ref.sumSquares(sr);
    expect(Math.abs(sq - sqr) / (1 + sqr)).toBeLessThan(1e-5);

    const [w, wr] = pair(b, rows, cols, rng);
    await b.sgdUpdate(w, g, 0.05, 0.01);
    ref.sgdUpdate(wr, gr, 0.05, 0.01);
    expectClose(b, w, wr, 1e-6);
  });

  it('gathers and normalises uint8 records in any row order', async () => {
    const rng = new Rng(5);
    const d = 3072, records = Uint8Array.from({ length: 20 * d }, () => rng.int(0, 255));
    const mean = Float32Array.from({ length: d }, () => rng.uniform());
    const invStd = Float32Array.from({ length: d }, () => 1 + rng.uniform() * 3);
    const rows = Int32Array.of(19, 3, 3, 0, 7);
    const out = b.matrix(6, d), outr = ref.matrix(6, d);
    await b.gatherNormalized(records, rows, rows.length, mean, invStd, out);
    ref.gatherNormalized(records, rows, rows.length, mean, invStd, outr);
    expectClose(b, out, outr, 1e-6);
  });
});

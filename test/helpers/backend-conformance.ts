/**
 * What every kernel backend must do, checked against the float64 reference backend: every op of the kernel interface
 * on odd and real shapes, and whole training steps of the network (plain SGD, dropout, momentum, Nesterov).
 * A backend's own test file calls `describeConformance(label, create)`; CPU, BLAS and GPU backends run the same cases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostMatrix, KernelBackend, Matrix } from '../../src/kernels/backend.js';
import { keepUnit } from '../../src/kernels/dropout-mask.js';
import { ReferenceBackend } from '../../src/kernels/reference.js';
import { Network, networkShape, type NetworkShape, type StepOptions } from '../../src/model/network.js';
import { Rng } from '../../src/util/rng.js';

const ref = new ReferenceBackend();

export function randomValues(rng: Rng, n: number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => (rng.uniform() * 2 - 1) * scale);
}

/** The same values in the backend and in the reference (rounded to float32 first, so inputs are identical). */
export async function pair(b: KernelBackend, rows: number, cols: number, values: Float64Array): Promise<[Matrix, HostMatrix]> {
  const v = Float64Array.from(values, Math.fround);
  const mb = b.matrix(rows, cols), mr = ref.matrix(rows, cols);
  await b.write(mb, v);
  ref.write(mr, v);
  return [mb, mr];
}

/** max_i |got − want| / (1 + |want|) stays below tol. */
export async function expectClose(b: KernelBackend, got: Matrix, want: HostMatrix, tol: number, what = ''): Promise<void> {
  const g = await b.read(got), w = ref.read(want);
  expect(g.length).toBe(w.length);
  let worst = 0, at = -1;
  for (let i = 0; i < g.length; i++) {
    const e = Math.abs(g[i] - w[i]) / (1 + Math.abs(w[i]));
    if (!(e <= worst)) { worst = e; at = i; }
  }
  expect(worst, `${what} worst at ${at}: ${g[at]} vs ${w[at]}`).toBeLessThan(tol);
}

/**
 * The reference's results are the same for every backend that runs these cases (same seeds): computed once per
 * process. `referenceOnce` stores the values `compute` leaves in `out`, or puts the stored ones there.
 */
const referenceValues = new Map<string, Float64Array>();
function referenceOnce(key: string, out: HostMatrix, compute: () => void): void {
  const known = referenceValues.get(key);
  if (known) ref.write(out, known);
  else {
    compute();
    referenceValues.set(key, ref.read(out));
  }
}
const referenceSteps = new Map<string, { loss: number; params: Record<string, Float64Array> }>();

const SHAPES: [number, number][] = [[1, 1], [3, 7], [7, 3], [17, 50], [100, 10], [33, 129]];
// [100, 50, 3072] and [37, 301, 200] are large enough for the blas backend to split them with its helper thread (by
// rows, and by columns into odd halves)
const GEMM_SHAPES: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [17, 13, 31], [100, 50, 3072], [37, 10, 50], [64, 33, 129], [37, 301, 200]];

export function describeConformance(label: string, create: () => Promise<KernelBackend>): void {
  describe(`${label}: the kernel interface against the float64 reference`, () => {
    let b: KernelBackend;
    beforeAll(async () => { b = await create(); });
    afterAll(async () => { await b?.dispose(); });

    it.each(GEMM_SHAPES)('gemm in all four layouts, n=%i m=%i k=%i, with alpha and beta', async (n, m, k) => {
      const rng = new Rng(n * 1000 + m * 10 + k);
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const [a, ar] = await pair(b, ta ? k : n, ta ? n : k, randomValues(rng, n * k));
          const [bb, br] = await pair(b, tb ? m : k, tb ? k : m, randomValues(rng, k * m));
          const [c, cr] = await pair(b, n, m, randomValues(rng, n * m));
          await b.gemm(a, ta, bb, tb, c, 0.75, 0.5);
          referenceOnce(`gemm ${n} ${m} ${k} ${ta} ${tb} beta`, cr, () => ref.gemm(ar, ta, br, tb, cr, 0.75, 0.5));
          await expectClose(b, c, cr, 2e-5 * Math.sqrt(k), `gemm ${ta}${tb} beta`);
          await b.gemm(a, ta, bb, tb, c);
          referenceOnce(`gemm ${n} ${m} ${k} ${ta} ${tb}`, cr, () => ref.gemm(ar, ta, br, tb, cr));
          await expectClose(b, c, cr, 2e-5 * Math.sqrt(k), `gemm ${ta}${tb}`);
        }
      }
      const [x] = await pair(b, 2, 3, randomValues(rng, 6));
      await expect(Promise.resolve().then(() => b.gemm(x, false, x, false, b.matrix(2, 3)))).rejects.toThrow(/do not fit/);
    });

    it.each(SHAPES)('biasRelu, dropout, reluBackward on %i × %i', async (rows, cols) => {
      const rng = new Rng(rows * 7 + cols);
      const [s, sr] = await pair(b, rows, cols, randomValues(rng, rows * cols, 3));
      const [bias, biasr] = await pair(b, 1, cols, randomValues(rng, cols));
      await b.biasRelu(s, bias);
      ref.biasRelu(sr, biasr);
      await expectClose(b, s, sr, 1e-6, 'biasRelu');
      const h = await b.read(s);
      if (rows * cols > 4) expect(h.some((v) => v === 0) && h.some((v) => v > 0)).toBe(true);

      const [g, gr] = await pair(b, rows, cols, randomValues(rng, rows * cols));
      await b.reluBackward(g, s, 1.25);
      ref.reluBackward(gr, sr, 1.25);
      await expectClose(b, g, gr, 1e-6, 'reluBackward');

      const seed = rng.int(0, 2 ** 31);
      await b.dropout(s, 0.7, seed);
      ref.dropout(sr, 0.7, seed);
      await expectClose(b, s, sr, 1e-6, 'dropout');
      const dropped = await b.read(s);
      for (let i = 0; i < dropped.length; i++) if (!keepUnit(seed, i, 0.7)) expect(dropped[i]).toBe(0);
    });

    it.each(SHAPES.filter(([, c]) => c > 1))('softmax, softmaxLoss, softmaxGradient, crossEntropy, columnSums, scaleAdd on %i × %i', async (rows, cols) => {
      const rng = new Rng(rows * 11 + cols);
      const labels = Uint8Array.from({ length: rows }, () => rng.int(0, cols - 1));
      const sv = randomValues(rng, rows * cols, 4), bv = randomValues(rng, cols);
      const [bias, biasr] = await pair(b, 1, cols, bv);
      for (const count of [rows, Math.ceil(rows / 2)]) {
        const [s, sr] = await pair(b, rows, cols, sv);
        const got = await b.softmaxLoss(s, bias, labels, count), want = ref.softmaxLoss(sr, biasr, labels, count);
        await expectClose(b, s, sr, 1e-12, 'softmaxLoss leaves s as it is');
        expect(got.correct).toBe(want.correct);
        expect(Math.abs(got.lossSum - want.lossSum)).toBeLessThan(1e-5 * (1 + want.lossSum));
      }
      for (const gradient of [false, true]) {
        const [s, sr] = await pair(b, rows, cols, sv);
        if (gradient) {
          await b.softmaxGradient(s, bias, labels);
          ref.softmaxGradient(sr, biasr, labels);
        } else {
          await b.softmax(s, bias);
          ref.softmax(sr, biasr);
        }
        await expectClose(b, s, sr, 1e-5, `softmax gradient=${gradient}`);
        if (!gradient) {
          const ce = await b.crossEntropy(s, labels), cer = ref.crossEntropy(sr, labels);
          expect(ce.correct).toBe(cer.correct);
          expect(Math.abs(ce.lossSum - cer.lossSum)).toBeLessThan(1e-5 * (1 + cer.lossSum));
          const loss = ref.softmaxLoss({ rows, cols, data: Float64Array.from(sv, Math.fround) } as HostMatrix, biasr, labels);
          expect(Math.abs(cer.lossSum - loss.lossSum)).toBeLessThan(1e-9 * (1 + loss.lossSum)); // the same loss two ways
        }
        if (gradient) {
          const [sums, sumsr] = await pair(b, 1, cols, randomValues(rng, cols));
          await b.columnSums(s, sums, -0.3, 1);
          ref.columnSums(sr, sumsr, -0.3, 1);
          await expectClose(b, sums, sumsr, 1e-6, 'columnSums beta');
          await b.columnSums(s, sums, 1 / rows);
          ref.columnSums(sr, sumsr, 1 / rows);
          await expectClose(b, sums, sumsr, 1e-6, 'columnSums');
          const [y, yr] = await pair(b, rows, cols, randomValues(rng, rows * cols));
          await b.scaleAdd(y, s, 0.5, 0.25);
          ref.scaleAdd(yr, sr, 0.5, 0.25);
          await expectClose(b, y, yr, 1e-6, 'scaleAdd');
          await b.scaleAdd(y, s, 2, 0);
          ref.scaleAdd(yr, sr, 2, 0);
          await expectClose(b, y, yr, 1e-6, 'scaleAdd beta 0');
        }
      }
    });

    it.each([[1, 1], [17, 50], [50, 3072], [3, 1001]] as [number, number][])('sumSquares, sgdUpdate (momentum, Nesterov) and adamUpdate (L2, decoupled) on %i × %i', async (rows, cols) => {
      const rng = new Rng(rows + cols);
      const [w, wr] = await pair(b, rows, cols, randomValues(rng, rows * cols));
      const sq = await b.sumSquares(w), sqr = ref.sumSquares(wr);
      expect(Math.abs(sq - sqr)).toBeLessThan(1e-6 * sqr);
      const [g, gr] = await pair(b, rows, cols, randomValues(rng, rows * cols));
      for (const nesterov of [false, true]) {
        const [v, vr] = await pair(b, rows, cols, randomValues(rng, rows * cols, 0.1));
        for (let t = 0; t < 2; t++) {
          await b.sgdUpdate(w, g, 0.05, 0.01, { v, mu: 0.9, nesterov });
          ref.sgdUpdate(wr, gr, 0.05, 0.01, { v: vr, mu: 0.9, nesterov });
        }
        await expectClose(b, v, vr, 1e-6, `velocity nesterov=${nesterov}`);
        await expectClose(b, w, wr, 1e-6, `momentum nesterov=${nesterov}`);
      }
      for (const decoupled of [false, true]) {
        const [m, mr] = await pair(b, rows, cols, new Float64Array(rows * cols));
        const [v, vr] = await pair(b, rows, cols, new Float64Array(rows * cols));
        for (let t = 1; t <= 3; t++) {
          const state = { beta1: 0.9, beta2: 0.999, eps: 1e-8, t, decoupled };
          await b.adamUpdate(w, g, 0.01, 0.05, { ...state, m, v });
          ref.adamUpdate(wr, gr, 0.01, 0.05, { ...state, m: mr, v: vr });
        }
        await expectClose(b, m, mr, 1e-6, `adam m decoupled=${decoupled}`);
        await expectClose(b, v, vr, 1e-6, `adam v decoupled=${decoupled}`);
        await expectClose(b, w, wr, 1e-5, `adam w decoupled=${decoupled}`);
      }
    });

    it.each([[1, 3], [7, 3], [100, 50], [33, 129]] as [number, number][])('batch normalisation ops (statistics, normalise, affine ReLU, column dots, scale columns, backward) on %i × %i', async (rows, cols) => {
      const rng = new Rng(rows * 13 + cols), eps = 1e-5;
      const [s, sr] = await pair(b, rows, cols, Float64Array.from(randomValues(rng, rows * cols, 3), (v) => v + 1.5));
      const [mean, meanr] = await pair(b, 1, cols, new Float64Array(cols).fill(9));
      const [variance, variancer] = await pair(b, 1, cols, new Float64Array(cols).fill(9));
      await b.batchStatistics(s, mean, variance);
      ref.batchStatistics(sr, meanr, variancer);
      await expectClose(b, mean, meanr, 1e-6, 'batch mean');
      await expectClose(b, variance, variancer, 1e-5, 'batch variance');
      const [shat, shatr] = await pair(b, rows, cols, new Float64Array(rows * cols).fill(7));
      await b.batchNormalize(s, mean, variance, eps, shat);
      ref.batchNormalize(sr, meanr, variancer, eps, shatr);
      await expectClose(b, shat, shatr, rows === 1 ? 1e-2 : 1e-5, 'batchNormalize');
      const [gamma, gammar] = await pair(b, 1, cols, randomValues(rng, cols, 2));
      const [beta, betar] = await pair(b, 1, cols, randomValues(rng, cols));
      const [h, hr] = await pair(b, rows, cols, new Float64Array(rows * cols).fill(5));
      await b.affineRelu(shat, gamma, beta, h);
      ref.affineRelu(shatr, gammar, betar, hr);
      await expectClose(b, h, hr, 1e-5, 'affineRelu');
      if (rows * cols > 6) expect((await b.read(h)).some((v) => v === 0)).toBe(true);
      const [g, gr] = await pair(b, rows, cols, randomValues(rng, rows * cols));
      const [dots, dotsr] = await pair(b, 1, cols, new Float64Array(cols).fill(3));
      await b.columnDots(g, shat, dots, 1 / rows);
      ref.columnDots(gr, shatr, dotsr, 1 / rows);
      await expectClose(b, dots, dotsr, 1e-5, 'columnDots');
      await b.scaleColumns(g, gamma);
      ref.scaleColumns(gr, gammar);
      await expectClose(b, g, gr, 1e-6, 'scaleColumns');
      // the backward pass from the reference's own Ŝ, so that both start from the same numbers
      const [shat2] = await pair(b, rows, cols, ref.read(shatr));
      await b.batchNormBackward(g, shat2, variance, eps);
      ref.batchNormBackward(gr, shatr, variancer, eps);
      await expectClose(b, g, gr, 1e-4, 'batchNormBackward');
      const back = ref.read(gr);
      for (let j = 0; j < cols && rows > 1; j++) { // its output sums to zero over the batch, column by column
        let sum = 0;
        for (let i = 0; i < rows; i++) sum += back[i * cols + j];
        expect(Math.abs(sum)).toBeLessThan(1e-9 * rows * (1 + Math.abs(back[j])) + 1e-9);
      }
    });

    it('gathers and normalises uint8 records in any row order, leaving rows beyond count alone', async () => {
      const rng = new Rng(5);
      for (const d of [5, 33, 3072]) {
        const records = Uint8Array.from({ length: 20 * d }, () => rng.int(0, 255));
        const mean = Float32Array.from({ length: d }, () => rng.uniform());
        const invStd = Float32Array.from({ length: d }, () => 1 + rng.uniform() * 3);
        const rows = Int32Array.of(19, 3, 3, 0, 7);
        const fill = new Float64Array(6 * d).fill(42);
        const [out, outr] = await pair(b, 6, d, fill);
        await b.gatherNormalized(records, rows, rows.length, mean, invStd, out);
        ref.gatherNormalized(records, rows, rows.length, mean, invStd, outr);
        await expectClose(b, out, outr, 1e-6, `gather d=${d}`);
      }
    });

    it('gathers ahead (where the backend offers it) what gatherNormalized gathers, while products run', async (ctx) => {
      if (!b.gatherNormalizedAhead) return ctx.skip();
      const rng = new Rng(6), d = 3072, n = 100;
      const records = new Uint8Array(new SharedArrayBuffer(300 * d)).map(() => rng.int(0, 255));
      const plain = Uint8Array.from(records); // not shared: the backend may gather it on the calling thread
      const mean = Float32Array.from({ length: d }, () => rng.uniform());
      const invStd = Float32Array.from({ length: d }, () => 1 + rng.uniform() * 3);
      const [x, xr] = await pair(b, n, d, randomValues(rng, n * d));
      const [w] = await pair(b, 50, d, randomValues(rng, 50 * d));
      const s = b.matrix(n, 50);
      for (const [source, rows] of [[records, Int32Array.from({ length: n }, () => rng.int(0, 299))], [plain, Int32Array.of(5, 299, 0)], [records, Int32Array.of(7, 7)]] as const) {
        const [out, outr] = await pair(b, n, d, new Float64Array(n * d).fill(42));
        const wait = b.gatherNormalizedAhead(source, rows, rows.length, mean, invStd, out);
        for (let t = 0; t < 3; t++) await b.gemm(x, false, w, true, s); // products (and their pauses) while it gathers
        await wait();
        ref.gatherNormalized(source, rows, rows.length, mean, invStd, outr);
        await expectClose(b, out, outr, 1e-6, `gather ahead of ${rows.length} rows`);
      }
      await expectClose(b, x, xr, 1e-12, 'a matrix the gather does not target');
      // statistics changed in place are used (not a stale copy)
      mean.fill(0.25);
      const rows = Int32Array.of(1, 2, 3);
      const [out, outr] = await pair(b, 3, d, new Float64Array(3 * d));
      await b.gatherNormalizedAhead(records, rows, 3, mean, invStd, out)();
      ref.gatherNormalized(records, rows, 3, mean, invStd, outr);
      await expectClose(b, out, outr, 1e-6, 'gather ahead after the mean changed');
      const target = b.matrix(1, d);
      await expect(Promise.resolve().then(() => b.gatherNormalizedAhead!(records, Int32Array.of(300), 1, mean, invStd, target)())).rejects.toThrow(/out of range/);
    });

    it('read and write round-trip through the backend\'s precision', async () => {
      const m = b.matrix(3, 3);
      await b.write(m, [1, 2, 3, 4, 5, 6, 7, 8, 0.1]);
      const back = Array.from(await b.read(m));
      expect(back.slice(0, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(back[8]).toBe(b.dtype === 'float32' ? Math.fround(0.1) : 0.1);
      await expect(Promise.resolve().then(() => b.write(m, [1, 2]))).rejects.toThrow();
    });

    const n = 100;
    const twoLayer = { d: 3072, m: 50, k: 10 }, deep = networkShape(3072, [40, 30, 20], 10, true);
    const variants: [string, StepOptions, { mu: number; nesterov: boolean } | null, NetworkShape?][] = [
      ['plain SGD', { eta: 0.05, lambda: 0.01 }, null],
      ['dropout', { eta: 0.05, lambda: 0.01, dropout: { keep: 0.6, seed: 99 } }, null],
      ['momentum', { eta: 0.02, lambda: 0.01 }, { mu: 0.9, nesterov: false }],
      ['Nesterov with dropout', { eta: 0.02, lambda: 0.001, dropout: { keep: 0.8, seed: 7 } }, { mu: 0.9, nesterov: true }],
      ['4 layers, batch norm, plain SGD, dropout', { eta: 0.05, lambda: 0.01, dropout: { keep: 0.8, seed: 5 } }, null, deep],
      ['4 layers, batch norm, momentum, label smoothing', { eta: 0.02, lambda: 0.005, labelSmoothing: 0.1 }, { mu: 0.9, nesterov: false }, deep],
    ];
    it.each(variants)('three training steps (%s) match the reference', async (label, step, momentum, shape = twoLayer) => {
      const rng = new Rng(7);
      const xv = Float64Array.from(randomValues(rng, n * shape.d, 2), Math.fround);
      const labels = Uint8Array.from({ length: n }, () => rng.int(0, 9));
      const init = new Network(ref, shape);
      await init.initialise(new Rng(1));
      const weights = await init.snapshot();
      for (const p of Object.keys(weights)) weights[p] = Float64Array.from(weights[p], Math.fround);
      const run = async (backend: KernelBackend) => {
        const net = new Network(backend, shape, momentum);
        await net.restore(weights);
        const X = backend.matrix(n, shape.d);
        await backend.write(X, xv);
        let loss = 0;
        for (let s = 0; s < 3; s++) loss = (await net.trainStep(X, labels, step)).lossSum;
        return { loss, params: await net.snapshot() };
      };
      const got = await run(b);
      const want = referenceSteps.get(label) ?? (await run(ref));
      referenceSteps.set(label, want);
      expect(Math.abs(got.loss - want.loss)).toBeLessThan(1e-4 * want.loss);
      expect(Object.keys(got.params)).toEqual(Object.keys(want.params));
      for (const p of Object.keys(want.params)) {
        const g = got.params[p], w = want.params[p];
        let scale = 0, err = 0, moved = 0;
        for (let i = 0; i < w.length; i++) {
          scale = Math.max(scale, Math.abs(w[i]));
          err = Math.max(err, Math.abs(g[i] - w[i]));
          moved = Math.max(moved, Math.abs(w[i] - weights[p][i]));
        }
        expect(err, p).toBeLessThan((shape.batchNorm ? 1e-4 : 1e-5) * scale + 1e-7);
        expect(moved, `${p} changed`).toBeGreaterThan(0);
      }
    });
  });
}

/**
 * The float64 reference backend against hand-computed values, and gpu.js's CPU modes against the reference
 * (the conformance cases: every op on odd shapes, training steps). wasm-simd has its own file.
 */
import { describe, expect, it } from 'vitest';
import { ReferenceBackend } from '../src/kernels/reference.js';
import { selectBackend, type BackendName } from '../src/kernels/select.js';
import { describeConformance } from './helpers/backend-conformance.js';

const ref = new ReferenceBackend();

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

  it('softmax with bias, cross-entropy and the one-hot gradient', () => {
    const s = ref.matrix(1, 3), bias = ref.matrix(1, 3);
    ref.write(s, [0, 3, 2]);
    ref.write(bias, [1, -1, 1]); // s + bias = 1, 2, 3
    const z = Math.E + Math.E ** 2 + Math.E ** 3;
    const { lossSum, correct } = ref.softmaxLoss(s, bias, Uint8Array.of(1), 1);
    expect(Array.from(s.data)).toEqual([0, 3, 2]); // the loss leaves the logits alone
    ref.softmaxGradient(s, bias, Uint8Array.of(1));
    expect(lossSum).toBeCloseTo(-Math.log(Math.E ** 2 / z), 14);
    expect(correct).toBe(0);
    expect(s.data[1]).toBeCloseTo(Math.E ** 2 / z - 1, 15); // P − Y
    expect(s.data[2]).toBeCloseTo(Math.E ** 3 / z, 15);
    const p = ref.matrix(1, 3);
    ref.write(p, [0.2, 0.5, 0.3]);
    expect(ref.crossEntropy(p, Uint8Array.of(1))).toEqual({ lossSum: -Math.log(0.5), correct: 1 });
    ref.write(s, [0, 3, 2]);
    ref.softmax(s, bias);
    [Math.E, Math.E ** 2, Math.E ** 3].forEach((e, j) => expect(s.data[j]).toBeCloseTo(e / z, 15));
  });

  it('biasRelu, reluBackward with a scale, dropout keeps about keep of the units', () => {
    const s = ref.matrix(2, 2), bias = ref.matrix(1, 2);
    ref.write(s, [1, -2, -0.5, 3]);
    ref.write(bias, [0.25, 1]);
    ref.biasRelu(s, bias);
    expect(Array.from(s.data)).toEqual([1.25, 0, 0, 4]);
    const g = ref.matrix(2, 2);
    ref.write(g, [2, 2, 2, 2]);
    ref.reluBackward(g, s, 0.5);
    expect(Array.from(g.data)).toEqual([1, 0, 0, 1]);
    const h = ref.matrix(100, 100);
    ref.write(h, new Float64Array(10_000).fill(1));
    ref.dropout(h, 0.7, 12345);
    const kept = h.data.filter((v) => v !== 0);
    expect(kept.length / 10_000).toBeGreaterThan(0.68);
    expect(kept.length / 10_000).toBeLessThan(0.72);
    expect(kept.every((v) => v === 1 / 0.7)).toBe(true);
    const other = ref.matrix(100, 100);
    ref.write(other, new Float64Array(10_000).fill(1));
    ref.dropout(other, 0.7, 12346);
    expect(Array.from(other.data)).not.toEqual(Array.from(h.data)); // another seed, another mask
  });

  it('normalised gather, column sums, update', () => {
    const out = ref.matrix(2, 2);
    ref.gatherNormalized(Uint8Array.of(0, 255, 51, 102, 10, 20), [2, 0], 2, Float32Array.of(0, 0.5), Float32Array.of(1, 2), out);
    expect(Array.from(out.data).map((v) => +v.toFixed(6))).toEqual([+(10 / 255).toFixed(6), +((20 / 255 - 0.5) * 2).toFixed(6), 0, 1]);
    const sums = ref.matrix(1, 2);
    ref.write(sums, [10, 10]);
    ref.columnSums(out, sums, 0.5, 1);
    expect(sums.data[1]).toBeCloseTo(10 + ((20 / 255 - 0.5) * 2 + 1) / 2, 6);
    const w = ref.matrix(1, 2), g = ref.matrix(1, 2);
    ref.write(w, [1, -2]);
    ref.write(g, [0.5, 0.5]);
    const v = ref.matrix(1, 2);
    ref.write(v, [0.1, 0]);
    ref.sgdUpdate(w, g, 0.1, 0.25, { v, mu: 0.9, nesterov: false }); // v = 0.9 v + g + 0.5 w; w −= 0.1 v
    expect(Array.from(v.data)).toEqual([0.09 + 1, 0.5 - 1]);
    expect(Array.from(w.data)).toEqual([1 - 0.1 * 1.09, -2 - 0.1 * -0.5]);
    const m = ref.matrix(1, 2), second = ref.matrix(1, 2);
    ref.write(w, [1, -2]);
    ref.adamUpdate(w, g, 0.1, 0.25, { m, v: second, beta1: 0.9, beta2: 0.999, eps: 0, t: 1, decoupled: true }); // first step: m̂ / √v̂ = sign(g)
    expect(Array.from(m.data).map((x) => +x.toFixed(12))).toEqual([0.05, 0.05]);
    expect(Array.from(w.data).map((x) => +x.toFixed(12))).toEqual([1 - 0.1 * (1 + 0.5), -2 - 0.1 * (1 - 1)]);
  });
});

for (const name of ['webasm', 'cpu'] as BackendName[]) describeConformance(`gpu.js ${name}`, async () => (await selectBackend(name, 2)).backend);

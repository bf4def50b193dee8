/**
 * Gradient checks of k-layer networks (k = 3 and k = 9), with and without batch normalisation: every parameter
 * (γ and β included) in float64 against centered differences, and the float32 backends against float64.
 */
import { describe, expect, it } from 'vitest';
import type { KernelBackend, Matrix } from '../src/kernels/backend.js';
import { ReferenceBackend } from '../src/kernels/reference.js';
import { WasmSimdBackend } from '../src/kernels/wasm-simd.js';
import { GpuJsBackend } from '../src/kernels/gpujs.js';
import { Network, networkShape, type NetworkShape } from '../src/model/network.js';
import { compareBackends, gradientCheck, toFloat32Values } from '../src/gradcheck/check.js';
import { Rng } from '../src/util/rng.js';

const THRESHOLD = 1e-6, F32_THRESHOLD = 1e-4;

const DEPTHS: [string, number[]][] = [['k = 3', [7, 6]], ['k = 9', [6, 5, 5, 4, 4, 4, 3, 3]]];

/** A network with random weights, biases, γ and β (so that no gradient is that of a fresh network only) and a batch. */
async function setup(backend: KernelBackend, shape: NetworkShape, n: number, seed: number): Promise<{ net: Network; X: Matrix; labels: Uint8Array }> {
  const rng = new Rng(seed);
  const net = new Network(backend, shape);
  await net.initialise(rng, 'he');
  for (const p of net.paramNames) {
    if (p[0] === 'W') continue;
    const m = net.params[p];
    const base = p.startsWith('gamma') ? 1 : 0;
    await backend.write(m, Float64Array.from({ length: m.cols }, () => Math.fround(base + 0.3 * rng.normal())));
  }
  const X = backend.matrix(n, shape.d);
  await backend.write(X, Float64Array.from({ length: n * shape.d }, () => Math.fround(rng.normal())));
  return { net, X, labels: Uint8Array.from({ length: n }, () => rng.int(0, shape.k - 1)) };
}

describe('gradient check of k-layer networks in float64', () => {
  for (const [label, hidden] of DEPTHS) {
    for (const batchNorm of [false, true]) {
      const shape = networkShape(8, hidden, 5, batchNorm);
      it.each([0, 0.1])(`${label}${batchNorm ? ' with batch norm' : ''}: every parameter within ${THRESHOLD}, lambda %s`, async (lambda) => {
        const { net, X, labels } = await setup(new ReferenceBackend(), shape, 10, 3 + hidden.length);
        const errors = await gradientCheck(net, X, labels, lambda, { h: 1e-5 });
        const names = errors.map((e) => e.param);
        expect(names).toEqual(net.paramNames);
        if (batchNorm) expect(names).toEqual(expect.arrayContaining(['gamma1', 'beta1', `gamma${hidden.length}`, `beta${hidden.length}`]));
        expect(names).toContain(`W${hidden.length + 1}`);
        for (const e of errors) {
          expect(e.maxRelError, `${e.param}`).toBeLessThanOrEqual(THRESHOLD);
          expect(e.maxAbsGrad, `${e.param} has a gradient`).toBeGreaterThan(0);
        }
      });
    }
  }

  it('catches a batch-norm backward pass that forgets the mean of G Ŝ', async () => {
    const ref = new ReferenceBackend();
    const broken = new Proxy(ref, {
      get(target, prop, receiver) {
        if (prop === 'batchNormBackward') {
          return (g: Matrix, shat: Matrix, variance: Matrix, eps: number) => {
            const zero = target.matrix(shat.rows, shat.cols);
            target.batchNormBackward(g, zero, variance, eps);
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const { net, X, labels } = await setup(broken, networkShape(8, [7, 6], 5, true), 10, 4);
    const errors = await gradientCheck(net, X, labels, 0);
    expect(Math.max(...errors.map((e) => e.maxRelError))).toBeGreaterThan(1e-2);
  });
});

describe('float32 backends against float64 on k-layer networks', () => {
  const backends: [string, () => Promise<KernelBackend>][] = [
    ['wasm-simd', () => WasmSimdBackend.create({ threads: 1 })],
    ['gpujs-cpu', () => GpuJsBackend.create('cpu')],
  ];
  for (const [name, create] of backends) {
    for (const [label, hidden] of DEPTHS) {
      for (const batchNorm of [false, true]) {
        it(`${name}, ${label}${batchNorm ? ' with batch norm' : ''}: gradients within ${F32_THRESHOLD} of the largest entry`, async () => {
          const shape = networkShape(40, hidden.map((w) => 3 * w), 10, batchNorm);
          const backend = await create();
          try {
            const { net: reference, X: Xref, labels } = await setup(new ReferenceBackend(), shape, 20, 11);
            const weights = await reference.snapshot();
            for (const p of Object.keys(weights)) weights[p] = toFloat32Values(weights[p]);
            await reference.restore(weights);
            const net = new Network(backend, shape);
            await net.restore(weights);
            const X = backend.matrix(Xref.rows, Xref.cols);
            await backend.write(X, await new ReferenceBackend().read(Xref));
            for (const lambda of [0, 0.1]) {
              const errors = await compareBackends(net, X, reference, Xref, labels, lambda);
              for (const e of errors) expect(e.infRelError, `${e.param} lambda ${lambda}`).toBeLessThanOrEqual(F32_THRESHOLD);
            }
          } finally {
            await backend.dispose();
          }
        });
      }
    }
  }
});

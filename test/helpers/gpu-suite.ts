/**
 * What a GPU backend must show, run by each GPU backend's test file on whatever device this machine has (Mesa's
 * software renderer in CI): the conformance cases, a training step that stays on the device, gradcheck's float32
 * comparison, a short training run that learns as wasm-simd does, and gpu.js's host round-trip path on the mode.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradcheckSchema } from '../../src/config/gradcheck-schema.js';
import { trainSchema, type TrainConfig } from '../../src/config/train-schema.js';
import { loadSplits } from '../../src/data/splits.js';
import { compareBackends, toFloat32Values } from '../../src/gradcheck/check.js';
import type { KernelBackend } from '../../src/kernels/backend.js';
import { GpuJsBackend } from '../../src/kernels/gpujs.js';
import { GpuJsDeviceBackend, type DeviceMode } from '../../src/kernels/gpujs-device.js';
import { ReferenceBackend } from '../../src/kernels/reference.js';
import { WasmSimdBackend } from '../../src/kernels/wasm-simd.js';
import { Network, PARAM_NAMES, type NetworkShape } from '../../src/model/network.js';
import { runTraining } from '../../src/pipeline/train.js';
import { Rng } from '../../src/util/rng.js';
import { describeConformance, pair, randomValues, expectClose } from './backend-conformance.js';
import { describeOnDevice } from './gpu-backends.js';
import { writeSyntheticCifar } from './synthetic.js';

const F32_THRESHOLD = gradcheckSchema.parse({ kind: 'gradcheck' }).float32.threshold;

export async function describeGpuBackend(mode: DeviceMode): Promise<void> {
  await describeOnDevice(mode, (create) => {
    describeConformance(`gpu.js ${mode} (device-resident)`, create);

    describe(`gpu.js ${mode}: data stays on the device`, () => {
      let b: GpuJsDeviceBackend;
      beforeAll(async () => { b = await create(); });
      afterAll(async () => { await b?.dispose(); });

      it('names a device and whether it is a software renderer', () => {
        expect(b.name).toBe(`gpujs-${mode}`);
        expect(b.device.renderer.length).toBeGreaterThan(3);
        expect(b.device.api).toMatch(mode === 'headlessgl' ? /WebGL 1/ : /WebGPU \(Dawn/);
        if (process.env.CI === 'true') expect(b.device.software).toBe('llvmpipe'); // CI has no GPU: Mesa's renderer
      });

      if (mode === 'webgpu') {
        it('refuses headless GL in a process where Dawn holds an EGL context (GLX would end the process with an X error)', async () => {
          if (b.device.glContext !== 'EGL') return; // Dawn on Vulkan: no GL context to clash with
          const clash = GpuJsDeviceBackend.create('headlessgl');
          await expect(clash).rejects.toThrow(process.env.CI === 'true' ? /headless-gl needs GLX, and gpu\.js webgpu .* already uses EGL/ : /./);
        });
      }

      it('an op whose input is also its output reads the old values; releaseAll frees every matrix', async () => {
        const y = b.matrix(3, 4);
        await b.write(y, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        await b.scaleAdd(y, y, 2, 0);
        expect(Array.from(await b.read(y))).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24]);
        b.releaseAll();
        await expect(Promise.resolve().then(() => b.read(y))).rejects.toThrow(/released/);
        const fresh = b.matrix(3, 4);
        expect(Array.from(await b.read(fresh))).toEqual(new Array(12).fill(0));
      });

      it('a training step reads back only the loss partial sums and uploads only labels and the dropout mask', async () => {
        const shape = { d: 64, m: 40, k: 10 }, n = 64, rng = new Rng(3);
        for (const momentum of [null, { mu: 0.9, nesterov: true }]) {
          const net = new Network(b, shape, momentum);
          await net.initialise(rng);
          const X = b.matrix(n, shape.d);
          await b.write(X, randomValues(rng, n * shape.d));
          const labels = Uint8Array.from({ length: n }, () => rng.int(0, 9));
          const step = (seed: number) => net.trainStep(X, labels, { eta: 0.01, lambda: 0.01, dropout: { keep: 0.8, seed } });
          await step(1); // builds the kernels
          const before = { ...b.stats };
          const steps = 3;
          for (let s = 0; s < steps; s++) await step(2 + s);
          const per = (k: keyof typeof before) => (b.stats[k] - before[k]) / steps;
          expect(per('reads')).toBe(1);
          expect(per('readFloats')).toBe(2 * Math.ceil(n / 16));
          expect(per('uploadFloats')).toBe(2 * n + n * Math.ceil(shape.m / 16)); // labels (loss, P − Y), mask bits
          // plain SGD: S1 (bias, ReLU and dropout fused), S, loss partials, softmax, G1 (ReLU mask fused), the W2 and
          // W1 updates (products with beta), 2 bias updates; momentum: the same with gradients, then 2 kernels a parameter
          expect(per('kernels')).toBe(momentum ? 17 : 9);
        }
      });
    });

    describe(`gpu.js ${mode}: gradcheck's float32 comparison`, () => {
      let b: GpuJsDeviceBackend;
      beforeAll(async () => { b = await create(); });
      afterAll(async () => { await b?.dispose(); });

      async function networks(shape: NetworkShape, n: number, seed: number) {
        const ref = new ReferenceBackend(), rng = new Rng(seed);
        const reference = new Network(ref, shape);
        await reference.initialise(rng);
        const weights = await reference.snapshot();
        weights.b1 = randomValues(rng, shape.m, 0.1);
        weights.b2 = randomValues(rng, shape.k, 0.1);
        for (const p of PARAM_NAMES) weights[p] = toFloat32Values(weights[p]);
        await reference.restore(weights);
        const x = toFloat32Values(Float64Array.from({ length: n * shape.d }, () => rng.normal()));
        const Xref = ref.matrix(n, shape.d);
        ref.write(Xref, x);
        const net = new Network(b, shape);
        await net.restore(weights);
        const X = b.matrix(n, shape.d);
        await b.write(X, x);
        return { net, X, reference, Xref, labels: Uint8Array.from({ length: n }, () => rng.int(0, shape.k - 1)) };
      }

      for (const shape of [{ d: 10, m: 50, k: 10 }, { d: 3072, m: 50, k: 10 }]) {
        it(`gradients within ${F32_THRESHOLD} of the largest entry, from float32 rounding only (d=${shape.d})`, async () => {
          const { net, X, reference, Xref, labels } = await networks(shape, 20, 21);
          for (const lambda of [0, 0.1]) {
            const errors = await compareBackends(net, X, reference, Xref, labels, lambda);
            for (const e of errors) {
              expect(e.infRelError, `${e.param} lambda ${lambda}`).toBeLessThanOrEqual(F32_THRESHOLD / 20);
              expect(e.infRelError, `${e.param}: float32 differs from float64 somewhere`).toBeGreaterThan(0);
            }
          }
        });
      }
    });

    describe(`gpu.js ${mode}: a short training run`, () => {
      const root = mkdtempSync(join(tmpdir(), `cifar-${mode}-`));
      afterAll(() => rmSync(root, { recursive: true, force: true }));
      const config: TrainConfig = trainSchema.parse({
        name: `synthetic-${mode}`, seed: 3,
        data: { train: ['data_batch_1'], validation: ['data_batch_2'], test: ['test_batch'] },
        model: { hidden: 20 },
        train: { lambda: 0.001, batchSize: 50 },
        schedule: { etaMin: 1e-4, etaMax: 5e-2, ns: 30, cycles: 1 },
        eval: { pointsPerCycle: 2 },
      });

      async function train(backend: KernelBackend, name: string) {
        const splits = loadSplits(config.data, join(root, 'data'));
        try {
          return (await runTraining({ config, splits, backend, outDir: join(root, name) })).summary;
        } finally {
          await backend.dispose();
        }
      }

      it('reaches wasm-simd\'s test accuracy within 0.5 point, with the same losses to 1e-3', async () => {
        writeSyntheticCifar(join(root, 'data'), 1000, 400); // hard enough: wasm-simd reaches ~75%
        const want = await train(await WasmSimdBackend.create({ threads: 1 }), 'wasm-simd');
        const got = await train(await create(), mode);
        expect(got.status).toBe('completed');
        expect(got.backend).toBe(`gpujs-${mode}`);
        expect(want.final!.test!.accuracy).toBeGreaterThan(0.3); // it learned (chance: 0.1), and not everything
        expect(want.final!.test!.accuracy).toBeLessThan(0.98);
        expect(Math.abs(got.final!.test!.accuracy - want.final!.test!.accuracy)).toBeLessThanOrEqual(0.005);
        for (const split of ['train', 'val', 'test'] as const) {
          expect(Math.abs(got.final![split]!.loss - want.final![split]!.loss)).toBeLessThan(1e-3 * want.final![split]!.loss);
        }
      }, 600_000);
    });

    describe(`gpu.js ${mode} with a host round trip per product (GpuJsBackend)`, () => {
      it('runs its kernels in this mode and matches the reference at the training shapes', async () => {
        const b = await GpuJsBackend.create(mode);
        try {
          const ref = new ReferenceBackend(), rng = new Rng(4);
          const [x, xr] = await pair(b, 100, 3072, randomValues(rng, 100 * 3072));
          const [w, wr] = await pair(b, 50, 3072, randomValues(rng, 50 * 3072, 0.02));
          const s = b.matrix(100, 50), sr = ref.matrix(100, 50);
          await b.gemm(x, false, w, true, s);
          ref.gemm(xr, false, wr, true, sr);
          await expectClose(b, s, sr, 2e-5 * Math.sqrt(3072), 'gemm');
        } finally {
          await b.dispose();
        }
      });
    });
  });
}

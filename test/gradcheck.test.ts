import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { gradcheckSchema } from '../src/config/gradcheck-schema.js';
import type { GradcheckConfig } from '../src/config/schema.js';
import { hostData, type KernelBackend, type Matrix } from '../src/kernels/backend.js';
import { GpuJsBackend } from '../src/kernels/gpujs.js';
import { ReferenceBackend } from '../src/kernels/reference.js';
import { Network, PARAM_NAMES, type NetworkShape } from '../src/model/network.js';
import { Rng } from '../src/util/rng.js';
import {
  analyticGradients,
  compareBackends,
  compareGradients,
  gradientCheck,
  numericalGradients,
  sampleEntries,
  toFloat32Values,
} from '../src/gradcheck/check.js';
import { checkBatch, runGradcheck } from '../src/gradcheck/run.js';
import { GRADCHECK_COLUMNS, type GradcheckSummary } from '../src/formats/gradcheck.js';
import { lastValueFrom, of, toArray } from 'rxjs';
import { PIXELS as PIXELS_ALL } from '../src/data/cifar.js';
import { fillFromMean } from '../src/data/augmentation.js';
import { computeNormalization } from '../src/data/normalization.js';
import { augment as augmentStage } from '../src/stages/augment.js';
import { normalize } from '../src/stages/normalize.js';
import { syntheticRecords, writeSyntheticCifar } from './helpers/synthetic.js';

const run = promisify(execFile);
const defaults = gradcheckSchema.parse({ kind: 'gradcheck' });
const THRESHOLD = defaults.check.threshold; // 1e-6
const F32_THRESHOLD = defaults.float32.threshold; // 1e-4

/** A randomly initialised network on `backend` and a random batch of n rows (standard-normal inputs). */
async function setup(backend: KernelBackend, shape: NetworkShape, n: number, seed: number): Promise<{ net: Network; X: Matrix; labels: Uint8Array }> {
  const rng = new Rng(seed);
  const net = new Network(backend, shape);
  await net.initialise(rng);
  // Non-zero biases, so their gradients and the ReLU pattern are not those of a fresh network only.
  await backend.write(net.params.b1, Float64Array.from({ length: shape.m }, () => 0.1 * rng.normal()));
  await backend.write(net.params.b2, Float64Array.from({ length: shape.k }, () => 0.1 * rng.normal()));
  const X = backend.matrix(n, shape.d);
  await backend.write(X, Float64Array.from({ length: n * shape.d }, () => rng.normal()));
  const labels = Uint8Array.from({ length: n }, () => rng.int(0, shape.k - 1));
  return { net, X, labels };
}

/** A backend that delegates to `inner` but can be broken in one place, to prove the checks catch bugs. */
function faultyBackend(inner: KernelBackend, fault: { gemm?: (c: Matrix, transA: boolean) => void; noReluMask?: boolean }): KernelBackend {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'gemm' && fault.gemm) {
        return async (a: Matrix, ta: boolean, b: Matrix, tb: boolean, c: Matrix, alpha?: number, beta?: number) => {
          await target.gemm(a, ta, b, tb, c, alpha, beta);
          fault.gemm!(c, ta);
        };
      }
      if (prop === 'reluBackward' && fault.noReluMask) return () => {};
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

const SHAPES: { shape: NetworkShape; n: number }[] = [
  { shape: { d: 10, m: 50, k: 10 }, n: 20 }, // the report's setting
  { shape: { d: 3, m: 2, k: 3 }, n: 4 },
  { shape: { d: 17, m: 7, k: 5 }, n: 9 },
  { shape: { d: 40, m: 12, k: 10 }, n: 1 },
];

describe('float64 gradient check (analytic vs centered differences)', () => {
  for (const { shape, n } of SHAPES) {
    for (const lambda of [0, 0.1]) {
      it(`passes for d=${shape.d} m=${shape.m} k=${shape.k} n=${n}, lambda ${lambda}`, async () => {
        const { net, X, labels } = await setup(new ReferenceBackend(), shape, n, 7 + shape.d + n);
        const errors = await gradientCheck(net, X, labels, lambda, { h: 1e-5 });
        expect(errors.map((e) => e.param)).toEqual([...PARAM_NAMES]);
        for (const e of errors) {
          expect(e.checked).toBe(e.size);
          expect(e.maxAbsGrad).toBeGreaterThan(0);
          expect(e.maxRelError, `${e.param}`).toBeLessThan(THRESHOLD);
          expect(e.maxAbsDiff, `${e.param}`).toBeLessThan(1e-8);
        }
      });
    }
  }

  it('leaves the parameters exactly as they were', async () => {
    const { net, X, labels } = await setup(new ReferenceBackend(), { d: 6, m: 5, k: 4 }, 3, 3);
    const before = await net.snapshot();
    await numericalGradients(net, X, labels, 0.1);
    expect(await net.snapshot()).toEqual(before);
  });

  it('checks only the sampled entries when asked', async () => {
    const { net, X, labels } = await setup(new ReferenceBackend(), { d: 30, m: 8, k: 10 }, 5, 11);
    const entries = sampleEntries(net, 25, new Rng(1));
    expect(entries.W1!.length).toBe(25);
    expect(new Set(entries.W1).size).toBe(25);
    expect([...entries.W1!].every((i, t, a) => i >= 0 && i < 240 && (t === 0 || a[t - 1] < i))).toBe(true);
    expect(entries.b1).toBeNull(); // 8 entries ≤ 25: all of them
    expect(sampleEntries(net, 25, new Rng(1)).W1).toEqual(entries.W1); // seeded
    const numerical = await numericalGradients(net, X, labels, 0, { entries });
    expect(numerical.W1.filter((v) => !Number.isNaN(v)).length).toBe(25);
    const errors = await gradientCheck(net, X, labels, 0, { entries });
    expect(errors.find((e) => e.param === 'W1')!.checked).toBe(25);
    expect(errors.find((e) => e.param === 'W2')!.checked).toBe(25);
    expect(errors.find((e) => e.param === 'b2')!.checked).toBe(10);
    for (const e of errors) expect(e.maxRelError).toBeLessThan(THRESHOLD);
  });
});

describe('the gradient check catches wrong gradients', () => {
  const shape = { d: 10, m: 20, k: 10 };

  it('fails when one entry of the dW1 product is off by 0.1%', async () => {
    const ref = new ReferenceBackend();
    const faulty = faultyBackend(ref, { gemm: (c, ta) => { if (ta && c.rows === shape.m && c.cols === shape.d) hostData(c)[13] *= 1.001; } });
    const { net, X, labels } = await setup(faulty, shape, 20, 5);
    const errors = Object.fromEntries((await gradientCheck(net, X, labels, 0)).map((e) => [e.param, e]));
    expect(errors.W1.maxRelError).toBeGreaterThan(1e-4);
    expect(errors.W1.maxRelError).toBeGreaterThan(100 * THRESHOLD);
    for (const p of ['b1', 'W2', 'b2'] as const) expect(errors[p].maxRelError).toBeLessThan(THRESHOLD);
  });

  it('fails when the ReLU mask is missing from the backward pass', async () => {
    const { net, X, labels } = await setup(faultyBackend(new ReferenceBackend(), { noReluMask: true }), shape, 20, 5);
    const errors = Object.fromEntries((await gradientCheck(net, X, labels, 0)).map((e) => [e.param, e]));
    expect(errors.W1.maxRelError).toBeGreaterThan(0.1);
    expect(errors.b1.maxRelError).toBeGreaterThan(0.1);
    expect(errors.W2.maxRelError).toBeLessThan(THRESHOLD); // the layer-2 gradients do not go through the mask
  });

  it('fails when the analytic gradient uses another lambda than the cost', async () => {
    const { net, X, labels } = await setup(new ReferenceBackend(), shape, 20, 5);
    const analytic = await analyticGradients(net, X, labels, 0.1);
    const numerical = await numericalGradients(net, X, labels, 0);
    const errors = Object.fromEntries(PARAM_NAMES.map((p) => [p, compareGradients(p, analytic[p], numerical[p])]));
    expect(errors.W1.maxRelError).toBeGreaterThan(0.01);
    expect(errors.W2.maxRelError).toBeGreaterThan(0.01);
    expect(errors.b1.maxRelError).toBeLessThan(THRESHOLD); // biases are not regularised
    expect(errors.b2.maxRelError).toBeLessThan(THRESHOLD);
  });

  it('reports NaN gradients as failures', () => {
    const e = compareGradients('W1', Float64Array.of(1, NaN), Float64Array.of(1, 2));
    expect(e.maxRelError <= THRESHOLD).toBe(false);
    expect(e.maxAbsDiff <= 1).toBe(false);
  });
});

describe('float32 backend against the float64 reference', () => {
  let cpu: GpuJsBackend;
  beforeAll(async () => { cpu = await GpuJsBackend.create('cpu'); });
  afterAll(() => cpu?.dispose());

  /** Two networks with identical float32-representable weights and input. */
  async function pair(backend: KernelBackend, shape: NetworkShape, n: number, seed: number) {
    const ref = new ReferenceBackend();
    const { net: reference, X: Xref, labels } = await setup(ref, shape, n, seed);
    const weights = await reference.snapshot();
    for (const p of PARAM_NAMES) weights[p] = toFloat32Values(weights[p]);
    await reference.restore(weights);
    const x32 = toFloat32Values(ref.read(Xref));
    ref.write(Xref, x32);
    const net = new Network(backend, shape);
    await net.restore(weights);
    const X = backend.matrix(n, shape.d);
    await backend.write(X, x32);
    return { net, X, reference, Xref, labels };
  }

  for (const { shape, n } of [{ shape: { d: 10, m: 50, k: 10 }, n: 20 }, { shape: { d: 3072, m: 50, k: 10 }, n: 20 }]) {
    it(`gpu.js cpu gradients are within ${F32_THRESHOLD} of the largest entry (d=${shape.d})`, async () => {
      const { net, X, reference, Xref, labels } = await pair(cpu, shape, n, 21);
      for (const lambda of [0, 0.1]) {
        const errors = await compareBackends(net, X, reference, Xref, labels, lambda);
        for (const e of errors) {
          expect(e.infRelError, `${e.param} lambda ${lambda}`).toBeLessThanOrEqual(F32_THRESHOLD);
          expect(e.infRelError, 'float32 arithmetic differs from float64 somewhere').toBeGreaterThan(0);
        }
        // float32 rounding, not just any error below the threshold: two orders of magnitude of margin.
        expect(Math.max(...errors.map((e) => e.infRelError))).toBeLessThan(F32_THRESHOLD / 20);
      }
    });
  }

  it('catches a float32 backend with one wrong gemm output', async () => {
    const shape = { d: 10, m: 50, k: 10 };
    const faulty = faultyBackend(cpu, { gemm: (c, ta) => { if (ta && c.rows === shape.k) hostData(c)[7] += 0.01; } });
    const { net, X, reference, Xref, labels } = await pair(faulty, shape, 20, 21);
    const errors = Object.fromEntries((await compareBackends(net, X, reference, Xref, labels, 0)).map((e) => [e.param, e]));
    expect(errors.W2.infRelError).toBeGreaterThan(F32_THRESHOLD);
    expect(errors.W1.infRelError).toBeLessThan(F32_THRESHOLD);
  });
});

describe('gradcheck config and outputs', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'gradcheck-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('has the report’s defaults, and config/gradcheck.yaml validates', () => {
    expect(defaults.check).toMatchObject({ samples: 20, lambdas: [0, 0.1], h: 1e-5, entries: 0, threshold: 1e-6 });
    expect(defaults.model).toEqual({ hidden: 50, inputDims: 10 });
    expect(defaults.kernels.backend).toBe('auto');
    const file = loadConfig('config/gradcheck.yaml') as GradcheckConfig;
    expect(file.kind).toBe('gradcheck');
    expect(file.check.samples).toBe(20);
    expect(file.model.inputDims).toBe(10);
    expect(gradcheckSchema.safeParse({ kind: 'gradcheck', check: { sample: 3 } }).success).toBe(false); // strict
    expect(gradcheckSchema.safeParse({ kind: 'gradcheck', check: { lambdas: [] } }).success).toBe(false);
    expect(gradcheckSchema.safeParse({ kind: 'gradcheck', model: { inputDims: 3073 } }).success).toBe(false);
  });

  async function runOn(config: GradcheckConfig, outDir: string): Promise<GradcheckSummary> {
    const { labels, pixels } = syntheticRecords(60, 3);
    const cpu = await GpuJsBackend.create('cpu');
    try {
      return await runGradcheck({ config, train: { labels, pixels, count: 60 }, backend: cpu, outDir });
    } finally {
      cpu.dispose();
    }
  }

  it('writes gradcheck.csv and summary.json, and passes on correct code', async () => {
    const out = join(dir, 'pass');
    const config = gradcheckSchema.parse({ kind: 'gradcheck', model: { hidden: 8 }, check: { samples: 12 } });
    const summary = await runOn(config, out);
    expect(summary.status).toBe('passed');
    const lines = (await readFile(join(out, 'gradcheck.csv'), 'utf8')).trim().split('\n');
    expect(lines[0]).toBe(GRADCHECK_COLUMNS.join(','));
    expect(lines).toHaveLength(1 + 2 * 2 * 4); // 2 checks × 2 lambdas × 4 parameters
    const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [GRADCHECK_COLUMNS[i], v])));
    expect(rows.filter((r) => r.check === 'numerical-f64').map((r) => `${r.lambda}:${r.param}`))
      .toEqual(['0:W1', '0:b1', '0:W2', '0:b2', '0.1:W1', '0.1:b1', '0.1:W2', '0.1:b2']);
    expect(rows.filter((r) => r.check === 'float32-vs-f64').every((r) => r.backend === 'gpujs-cpu')).toBe(true);
    for (const r of rows) {
      expect(r.passed).toBe('yes');
      expect(Number(r.max_rel_error)).toBeLessThan(r.check === 'numerical-f64' ? 1e-6 : 1);
      expect(Number(r.checked)).toBe(Number(r.size));
    }
    const json = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as GradcheckSummary;
    expect(json.status).toBe('passed');
    expect(json.shape).toEqual({ n: 12, d: 10, m: 8, k: 10 });
    expect(json.worst['numerical-f64']!.value).toBeLessThan(1e-6);
    expect(json.worst['float32-vs-f64']!.value).toBeLessThan(1e-4);
    expect(json.float32Backend).toBe('gpujs-cpu');
    expect(json.results).toHaveLength(16);
  });

  it('reports failure when an error exceeds its threshold', async () => {
    const out = join(dir, 'fail');
    const config = gradcheckSchema.parse({ kind: 'gradcheck', model: { hidden: 8 }, check: { samples: 12, lambdas: [0], threshold: 1e-13 } });
    const summary = await runOn(config, out);
    expect(summary.status).toBe('failed');
    expect(summary.worst['numerical-f64']!.passed).toBe(false);
    expect(summary.worst['float32-vs-f64']!.passed).toBe(true);
    const csv = await readFile(join(out, 'gradcheck.csv'), 'utf8');
    expect(csv).toMatch(/,NO\n/);
  });

  it('the CLI prints the table and exits 0 when the check passes, 1 when it fails', async () => {
    const data = writeSyntheticCifar(join(dir, 'cifar'), 40);
    const args = ['dist/cli.js', 'run', 'config/gradcheck.yaml', '--data', data, '--backend', 'cpu', '--set', 'model.hidden=6'];
    const ok = await run(process.execPath, [...args, '--out', join(dir, 'cli-ok')]);
    // One table per check, titled with it and its backend; rows: lambda, param, entries checked, errors.
    const [numerical, float32] = ok.stdout.trim().split('\n\n');
    expect(numerical).toMatch(/^numerical-f64 \(reference-f64\): .*max rel err ≤ 1e-6\n/);
    expect(numerical).toMatch(/^0\s+W1\s+60\/60\s/m);
    expect(float32).toMatch(/^float32-vs-f64 \(gpujs-cpu\): .*inf-rel err ≤ 1e-4\n/);
    expect(float32).toMatch(/^0\.1\s+b2\s+10\/10\s/m);
    for (const l of ok.stdout.split('\n')) expect(l.length).toBeLessThanOrEqual(100);
    expect(ok.stderr).toMatch(/gradient check passed/);
    const failed = await run(process.execPath, [...args, '--out', join(dir, 'cli-fail'), '--set', 'float32.threshold=1e-12']).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/float32-vs-f64 worst .* FAILED/);
    const summary = JSON.parse(await readFile(join(dir, 'cli-fail', 'summary.json'), 'utf8')) as GradcheckSummary;
    expect(summary.status).toBe('failed');
  });
});

describe('gradient check under dropout, with label smoothing and on augmented batches', () => {
  const shape = { d: 12, m: 16, k: 10 };

  for (const keep of [0.5, 0.8]) {
    for (const lambda of [0, 0.1]) {
      it(`passes under a fixed dropout mask (keep ${keep}, lambda ${lambda})`, async () => {
        const { net, X, labels } = await setup(new ReferenceBackend(), shape, 15, 21);
        const dropout = { keep, seed: 1234 };
        for (const e of await gradientCheck(net, X, labels, lambda, { loss: { dropout } })) {
          expect(e.maxAbsGrad, e.param).toBeGreaterThan(0);
          expect(e.maxRelError, e.param).toBeLessThan(THRESHOLD);
        }
      });
    }
  }

  for (const loss of [{ labelSmoothing: 0.1 }, { labelSmoothing: 0.3, dropout: { keep: 0.7, seed: 3 } }]) {
    it(`passes with label smoothing (${JSON.stringify(loss)}), and fails when the gradient forgets it`, async () => {
      const { net, X, labels } = await setup(new ReferenceBackend(), shape, 15, 22);
      for (const e of await gradientCheck(net, X, labels, 0.1, { loss })) expect(e.maxRelError, e.param).toBeLessThan(THRESHOLD);
      const numerical = await numericalGradients(net, X, labels, 0.1, { loss });
      const forgot = await analyticGradients(net, X, labels, 0.1, { dropout: loss.dropout });
      expect(compareGradients('b2', forgot.b2, numerical.b2).maxRelError).toBeGreaterThan(0.01);
    });
  }

  it('checks the masked network: its gradients differ from the unmasked ones, which fail against the masked cost', async () => {
    const { net, X, labels } = await setup(new ReferenceBackend(), shape, 15, 21);
    const dropout = { keep: 0.5, seed: 99 };
    const masked = await analyticGradients(net, X, labels, 0, { dropout });
    const unmasked = await analyticGradients(net, X, labels, 0);
    expect(compareGradients('W1', masked.W1, unmasked.W1).maxRelError).toBeGreaterThan(0.1);
    const numerical = await numericalGradients(net, X, labels, 0, { loss: { dropout } });
    expect(compareGradients('W1', unmasked.W1, numerical.W1).maxRelError).toBeGreaterThan(0.1);
    expect(compareGradients('W1', masked.W1, numerical.W1).maxRelError).toBeLessThan(THRESHOLD);
  });

  it('fails when the backward pass forgets dropout\'s 1/keep', async () => {
    const ref = new ReferenceBackend();
    const noScale = new Proxy(ref, {
      get(target, prop, receiver) {
        if (prop === 'reluBackward') return (g: Matrix, h: Matrix) => target.reluBackward(g, h, 1);
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const { net, X, labels } = await setup(noScale, shape, 15, 21);
    const errors = Object.fromEntries((await gradientCheck(net, X, labels, 0, { loss: { dropout: { keep: 0.5, seed: 7 } } })).map((e) => [e.param, e]));
    expect(errors.W1.maxRelError).toBeGreaterThan(0.1);
    expect(errors.W2.maxRelError).toBeLessThan(THRESHOLD);
  });

  it('float32 gradients of gpu.js cpu under the same mask and label smoothing agree with the float64 reference', async () => {
    const ref = new ReferenceBackend();
    const cpu = await GpuJsBackend.create('cpu');
    try {
      const { net, X, labels } = await setup(ref, shape, 15, 21);
      const fast = new Network(cpu, shape);
      const values = await net.snapshot();
      const weights = Object.fromEntries(PARAM_NAMES.map((p) => [p, toFloat32Values(values[p])])) as Record<(typeof PARAM_NAMES)[number], Float64Array>;
      const reference = new Network(ref, shape);
      await fast.restore(weights);
      await reference.restore(weights);
      const x32 = toFloat32Values(await ref.read(X));
      const Xf = cpu.matrix(15, shape.d), Xr = ref.matrix(15, shape.d);
      await cpu.write(Xf, x32);
      await ref.write(Xr, x32);
      for (const e of await compareBackends(fast, Xf, reference, Xr, labels, 0.1, undefined, { dropout: { keep: 0.6, seed: 5 }, labelSmoothing: 0.1 })) {
        expect(e.infRelError, e.param).toBeLessThan(F32_THRESHOLD);
      }
    } finally {
      cpu.dispose();
    }
  });

  it('runGradcheck checks an augmented batch (the augment stage\'s images of training step 0) under check.dropout, and passes', async () => {
    const { labels, pixels } = syntheticRecords(60, 3);
    const train = { labels, pixels, count: 60 };
    const augment = { flip: true, translate: 2, seed: 4 };
    const plain = checkBatch(train, 6, PIXELS_ALL);
    const augmented = checkBatch(train, 6, PIXELS_ALL, augment);
    expect(Array.from(augmented.X)).not.toEqual(Array.from(plain.X));
    // The same images as the augment stage makes for records 0..5 at step 0, normalised.
    const norm = computeNormalization(train);
    const ref = new ReferenceBackend();
    const Xs = ref.matrix(6, PIXELS_ALL);
    const [b] = await lastValueFrom(of({ step: 0, epoch: 0, rows: Int32Array.from([0, 1, 2, 3, 4, 5]) }).pipe(
      augmentStage(train, { ...augment, fill: fillFromMean(norm.mean) }, 6), normalize(ref, train, norm, Xs), toArray(),
    ));
    const xs = await ref.read(b.X);
    for (let i = 0; i < xs.length; i += 97) expect(augmented.X[i]).toBeCloseTo(xs[i], 5);

    const config = gradcheckSchema.parse({
      kind: 'gradcheck', seed: 4, model: { hidden: 6, inputDims: PIXELS_ALL }, check: { samples: 6, entries: 40, dropout: 0.4, labelSmoothing: 0.1 }, augment: { flip: true, translate: 2 },
    });
    const summary = await runGradcheck({ config, train, backend: null, outDir: join(tmpdir(), `cifar-gc-aug-${process.pid}`) });
    expect(summary.status).toBe('passed');
    expect(summary.worst['numerical-f64']!.value).toBeLessThan(THRESHOLD);
    await rm(join(tmpdir(), `cifar-gc-aug-${process.pid}`), { recursive: true, force: true });
  });
});

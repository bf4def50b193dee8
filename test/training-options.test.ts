/**
 * The training options of issue 16 through the training stream: dropout (per-step masks from (seed, step)),
 * momentum and Nesterov (velocities in model.json), augmentation, snapshot ensembles (softmax or weight average),
 * and all of them at once interrupted and resumed, bit-identical to an uninterrupted run.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkResumable, resumeStateOf } from '../src/pipeline/resume.js';
import { Predictor } from '../src/model/predictor.js';
import { ConfigError } from '../src/util/errors.js';
import { searchSchema } from '../src/config/search-schema.js';
import { trainSchema, type TrainConfig } from '../src/config/train-schema.js';
import { CLASSES, PIXELS } from '../src/data/cifar.js';
import { computeNormalization } from '../src/data/normalization.js';
import { loadSplits } from '../src/data/splits.js';
import { ReferenceBackend } from '../src/kernels/reference.js';
import { selectBackend, type BackendName } from '../src/kernels/select.js';
import { loadCheckpoint, parseCheckpoint, saveCheckpoint, serializeModel } from '../src/formats/model-file.js';
import { meanWeights, networkOf } from '../src/model/ensemble.js';
import { Evaluator } from '../src/model/evaluator.js';
import { Network, PARAM_NAMES } from '../src/model/network.js';
import { planRun } from '../src/pipeline/plan.js';
import { dropoutSeed, runTraining } from '../src/pipeline/train.js';
import { deriveSeed, Rng } from '../src/util/rng.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const root = mkdtempSync(join(tmpdir(), 'cifar-options-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const dataDir = writeSyntheticCifar(join(root, 'data'), 60, 90);

const base = {
  name: 'options', seed: 11,
  model: { hidden: 6 },
  train: { lambda: 0.005, batchSize: 10 },
  schedule: { etaMin: 1e-4, etaMax: 5e-2, ns: 9, cycles: 2 }, // 36 steps, 6 per epoch; cycle ends at 18 and 36
  eval: { pointsPerCycle: 3 },
  kernels: { backend: 'reference' },
};
const cfg = (extra: Record<string, unknown> = {}): TrainConfig => trainSchema.parse({ ...base, ...extra });
const everything = cfg({
  train: { ...base.train, dropout: 0.3, momentum: 0.8, nesterov: true, labelSmoothing: 0.1 },
  augment: { flip: true, translate: 2 },
  ensemble: { snapshots: 2 },
});
const splits = loadSplits(everything.data, dataDir);
const counts = { train: splits.train.count, val: splits.val.count, test: splits.test.count };

const metricsWithoutTime = (dir: string) =>
  readFileSync(join(dir, 'metrics.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, -1).join(','));

/** A run saving model.json; `stopAt` aborts it after that step (like a SIGINT); `resumeFrom` continues a checkpoint. */
async function train(outDir: string, config: TrainConfig, opts: { backend?: BackendName; stopAt?: number; resumeFrom?: string; keep?: number } = {}) {
  const { backend } = await selectBackend(opts.backend ?? 'reference', 1);
  const controller = new AbortController();
  const cp = opts.resumeFrom ? loadCheckpoint(opts.resumeFrom) : null;
  if (cp) checkResumable(cp, config, counts, cp.normalization);
  const modelPath = join(outDir, 'model.json');
  try {
    return await runTraining({
      config, splits, backend, outDir, signal: controller.signal,
      onStep: (s) => { if (s.step === opts.stopAt) controller.abort(); },
      onCheckpoint: async (net, step, norm, members) => {
        await saveCheckpoint(modelPath, net, { config, step, totalSteps: 36, normalization: norm, data: counts, members });
        if (step === opts.keep) copyFileSync(modelPath, join(outDir, `model-${step}.json`));
      },
      ...(cp ? { resume: resumeStateOf(cp), normalization: cp.normalization } : {}),
    });
  } finally {
    await backend.dispose();
  }
}

describe('dropout', () => {
  it('draws each step its own mask seed from (seed, step) alone', () => {
    expect(dropoutSeed(11, 5)).toBe(dropoutSeed(11, 5));
    expect(new Set([dropoutSeed(11, 5), dropoutSeed(11, 6), dropoutSeed(12, 5)]).size).toBe(3);
  });

  it('trains each step under the mask of its seed: the run equals Network.trainStep with dropoutSeed(seed, step)', async () => {
    const config = cfg({ train: { ...base.train, dropout: 0.5 }, schedule: { ...base.schedule, cycles: 1 / 18 }, eval: { every: 100 } }); // one step
    const { network } = await train(join(root, 'one-step'), config);
    // The same step by hand: the batch of step 0 (first 10 records of epoch 0's permutation), the network's seed.
    const backend = new ReferenceBackend();
    const net = new Network(backend, { d: PIXELS, m: 6, k: CLASSES });
    await net.initialise(new Rng(deriveSeed(11, 'init')));
    const order = Int32Array.from({ length: splits.train.count }, (_, i) => i);
    new Rng(deriveSeed(11, 'shuffle:0')).shuffle(order);
    const norm = computeNormalization(splits.train);
    const X = backend.matrix(10, PIXELS);
    await backend.gatherNormalized(splits.train.pixels, order.subarray(0, 10), 10, norm.mean, norm.invStd, X);
    const labels = Uint8Array.from(order.subarray(0, 10), (r) => splits.train.labels[r]);
    await net.trainStep(X, labels, { eta: 1e-4, lambda: 0.005, dropout: { keep: 0.5, seed: dropoutSeed(11, 0) } });
    const got = await network.snapshot(), want = await net.snapshot();
    for (const p of PARAM_NAMES) expect(Array.from(got[p]), p).toEqual(Array.from(want[p]));
    // and not what the step without dropout gives
    const plain = new Network(backend, { d: PIXELS, m: 6, k: CLASSES });
    await plain.initialise(new Rng(deriveSeed(11, 'init')));
    await plain.trainStep(X, labels, { eta: 1e-4, lambda: 0.005 });
    expect(Array.from((await plain.snapshot()).W1)).not.toEqual(Array.from(got.W1));
  });
});

describe('label smoothing', () => {
  it('changes the run, reproducibly, and keeps reporting the plain cross-entropy', async () => {
    const config = cfg({ train: { ...base.train, labelSmoothing: 0.2 } });
    const a = await train(join(root, 'smooth-a'), config);
    const b = await train(join(root, 'smooth-b'), config);
    const plain = await train(join(root, 'smooth-plain'), cfg());
    expect(metricsWithoutTime(join(root, 'smooth-b'))).toEqual(metricsWithoutTime(join(root, 'smooth-a')));
    expect(metricsWithoutTime(join(root, 'smooth-a'))).not.toEqual(metricsWithoutTime(join(root, 'smooth-plain')));
    // The final loss is the cross-entropy with the true labels, as the Evaluator measures it.
    const cp = loadCheckpoint(join(root, 'smooth-a', 'model.json'));
    const want = await new Evaluator(await networkOf(new ReferenceBackend(), cp.shape, cp.params!), cp.normalization).evaluate(splits.val, 0.005);
    expect(a.summary.final!.val.loss).toBeCloseTo(want.loss, 12);
    expect(plain.summary.final!.val.loss).not.toBeCloseTo(want.loss, 6);
    expect(b.summary.final).toEqual(a.summary.final);
  });
});

describe('momentum', () => {
  it('keeps velocities in model.json, changes the run, and refuses to resume without velocities', async () => {
    const config = cfg({ train: { ...base.train, momentum: 0.9 } });
    const plain = await train(join(root, 'plain'), cfg());
    const heavy = await train(join(root, 'momentum'), config);
    expect(heavy.summary.status).toBe('completed');
    expect(heavy.summary.final!.test!.accuracy).toBeGreaterThan(0.3); // chance 0.1
    expect(heavy.summary.final).not.toEqual(plain.summary.final);
    const cp = loadCheckpoint(join(root, 'momentum', 'model.json'));
    expect(cp.velocity).not.toBeNull();
    expect(Math.max(...Array.from(cp.velocity!.W1, Math.abs))).toBeGreaterThan(0);
    expect(loadCheckpoint(join(root, 'plain', 'model.json')).velocity).toBeNull();
    // A checkpoint of a plain network cannot continue a momentum run.
    const backend = new ReferenceBackend();
    const net = new Network(backend, { d: PIXELS, m: 6, k: CLASSES });
    const text = await serializeModel(net, { config, step: 3, totalSteps: 36, normalization: cp.normalization, data: counts });
    expect(() => checkResumable(parseCheckpoint(text, 'm.json'), config, counts)).toThrow(/m\.json: cannot resume: no momentum velocities/);
  });

  it('rejects nesterov without momentum', () => {
    expect(() => cfg({ train: { ...base.train, nesterov: true } })).toThrow(/nesterov needs momentum > 0/);
  });
});

describe('snapshot ensembles', () => {
  it('keeps the last cycle ends, reports each snapshot, and delivers the average of their softmax outputs', async () => {
    const out = join(root, 'snapshots');
    const { summary } = await train(out, cfg({ ensemble: { snapshots: 2 } }));
    expect(summary.status).toBe('completed');
    const e = summary.ensemble!;
    expect(e.average).toBe('softmax');
    expect(e.members.map((m) => [m.name, m.step])).toEqual([['snapshot@18', 18], ['snapshot@36', 36]]);
    const cp = loadCheckpoint(join(out, 'model.json'));
    expect(cp.members.map((m) => m.name)).toEqual(['snapshot@18', 'snapshot@36']);
    expect(Array.from(cp.members[1].params.W1)).toEqual(Array.from(cp.params!.W1)); // the last snapshot is the final network

    // Independently: each snapshot's metrics with the Evaluator, the ensemble's from probabilities averaged in float64.
    const backend = new ReferenceBackend();
    const norm = cp.normalization;
    const nets = await Promise.all(cp.members.map((m) => networkOf(backend, cp.shape, m.params)));
    for (let i = 0; i < 2; i++) {
      const single = await new Evaluator(nets[i], norm).evaluate(splits.test, 0.005);
      expect(e.members[i].final.test!.accuracy).toBe(single.accuracy);
      expect(e.members[i].final.test!.loss).toBeCloseTo(single.loss, 12);
    }
    const probs = await Promise.all(nets.map((n) => new Predictor(n, norm, splits.test.count).probabilities(splits.test, 0, splits.test.count)));
    let correct = 0, loss = 0;
    for (let r = 0; r < splits.test.count; r++) {
      const p = Array.from({ length: CLASSES }, (_, j) => (probs[0][r * CLASSES + j] + probs[1][r * CLASSES + j]) / 2);
      if (p.indexOf(Math.max(...p)) === splits.test.labels[r]) correct++;
      loss -= Math.log(p[splits.test.labels[r]]);
    }
    expect(summary.final!.test!.accuracy).toBe(correct / splits.test.count);
    expect(summary.final!.test!.loss).toBeCloseTo(loss / splits.test.count, 10);
  });

  it('averages the snapshots\' weights when ensemble.average is weights', async () => {
    const out = join(root, 'snapshots-weights');
    const { summary } = await train(out, cfg({ ensemble: { snapshots: 2, average: 'weights' } }));
    const cp = loadCheckpoint(join(out, 'model.json'));
    const mean = await networkOf(new ReferenceBackend(), cp.shape, meanWeights(cp.members));
    const want = await new Evaluator(mean, cp.normalization).evaluate(splits.val, 0.005);
    expect(summary.final!.val.accuracy).toBe(want.accuracy);
    expect(summary.final!.val.loss).toBeCloseTo(want.loss, 12);
    expect(summary.ensemble!.average).toBe('weights');
  });

  it('refuses more snapshots than the run has cycle ends, naming the field', () => {
    expect(() => planRun(cfg({ ensemble: { snapshots: 3 } }), splits.train.count, 'c.yaml'))
      .toThrow(new ConfigError(['c.yaml: ensemble.snapshots: 3 snapshots asked, but the run of 36 steps has 2 cycle ends (every 2 × 9 steps)']));
    expect(() => cfg({ ensemble: { members: 2, average: 'weights' } })).toThrow(/average: weights needs members = 1/);
  });

  it('is one network per run of the training stream: ensemble runs go through the members command, searches refuse them', async () => {
    const { backend } = await selectBackend('reference', 1);
    await expect(runTraining({ config: cfg({ ensemble: { members: 2 } }), splits, backend, outDir: join(root, 'no') })).rejects.toThrow(/trains one network/);
    const search = searchSchema.safeParse({ kind: 'search', space: { lMin: -3, lMax: -2 }, base: { ensemble: { members: 2 } } });
    expect(search.success).toBe(false);
    expect(JSON.stringify(search.error!.issues)).toMatch(/ensemble.members must be 1/);
    expect(searchSchema.safeParse({ kind: 'search', space: { lMin: -3, lMax: -2 }, base: { ensemble: { snapshots: 1 } } }).success).toBe(true);
  });
});

describe('every option at once, interrupted and resumed', () => {
  for (const backendName of ['reference', 'wasm-simd'] as const) {
    for (const stopAt of [13, 20]) { // before and after the first snapshot (step 18)
      it(`gives exactly the uninterrupted run's metrics, snapshots and final accuracy (${backendName}, stopped after step ${stopAt})`, async () => {
        const full = join(root, `all-full-${backendName}-${stopAt}`), part = join(root, `all-part-${backendName}-${stopAt}`);
        const a = await train(full, everything, { backend: backendName });
        expect(a.summary.status).toBe('completed');
        const b1 = await train(part, everything, { backend: backendName, stopAt });
        expect(b1.summary.status).toBe('interrupted');
        expect(loadCheckpoint(join(part, 'model.json')).members.length).toBe(stopAt > 18 ? 1 : 0);
        const b2 = await train(part, everything, { backend: backendName, resumeFrom: join(part, 'model.json') });
        expect(b2.summary.status).toBe('completed');
        expect(metricsWithoutTime(part)).toEqual(metricsWithoutTime(full));
        expect(b2.summary.final).toEqual(a.summary.final);
        expect(b2.summary.ensemble).toEqual(a.summary.ensemble);
        const ma = loadCheckpoint(join(full, 'model.json')), mb = loadCheckpoint(join(part, 'model.json'));
        for (const p of PARAM_NAMES) {
          expect(Array.from(mb.velocity![p])).toEqual(Array.from(ma.velocity![p]));
          expect(Array.from(mb.members[0].params[p])).toEqual(Array.from(ma.members[0].params[p]));
        }
      });
    }
  }
});

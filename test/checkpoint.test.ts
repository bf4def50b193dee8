/**
 * model.json checkpoints: exact round trip, verification of corrupt or mismatched files, and a run interrupted at
 * step k and resumed from its checkpoint giving exactly the metrics of an uninterrupted run (same seed, backend).
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, UsageError } from '../src/util/errors.js';
import { trainSchema, type TrainConfig } from '../src/config/train-schema.js';
import { computeNormalization } from '../src/data/normalization.js';
import { loadSplits } from '../src/data/splits.js';
import { ReferenceBackend } from '../src/kernels/reference.js';
import { selectBackend, type BackendName } from '../src/kernels/select.js';
import {
  checksumOf, CheckpointError, deliveredMembers, loadCheckpoint, modelFromCheckpoint, networkFromCheckpoint, parseCheckpoint,
  saveCheckpoint, serializeModel,
} from '../src/formats/model-file.js';
import { trimMetricsForResume } from '../src/formats/metrics-csv.js';
import { Predictor } from '../src/model/predictor.js';
import { checkResumable, resumeStateOf } from '../src/pipeline/resume.js';
import { Network } from '../src/model/network.js';
import { runTraining } from '../src/pipeline/train.js';
import { Rng } from '../src/util/rng.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const root = mkdtempSync(join(tmpdir(), 'cifar-checkpoint-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const dataDir = writeSyntheticCifar(join(root, 'data'), 60, 90);

const config: TrainConfig = trainSchema.parse({
  name: 'resume', seed: 11,
  model: { hidden: 6 },
  train: { lambda: 0.005, batchSize: 10 },
  schedule: { etaMin: 1e-4, etaMax: 5e-2, ns: 9, cycles: 2 }, // 36 steps, 6 per epoch: the run crosses epochs
  eval: { pointsPerCycle: 3 },
  kernels: { backend: 'reference' },
});
const splits = loadSplits(config.data, dataDir);
const counts = { train: splits.train.count, val: splits.val.count, test: splits.test.count };

const metricsWithoutTime = (dir: string) =>
  readFileSync(join(dir, 'metrics.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, -1).join(','));

/** A run with checkpoints to <outDir>/model.json; `stopAt` aborts it after that step (like a SIGINT there). */
async function train(outDir: string, backendName: BackendName, opts: { stopAt?: number; resumeFrom?: string; every?: number; keep?: number } = {}) {
  const cfg = { ...config, checkpoint: { every: opts.every ?? 0 } };
  const { backend } = await selectBackend(backendName, 1);
  const controller = new AbortController();
  const cp = opts.resumeFrom ? loadCheckpoint(opts.resumeFrom) : null;
  const modelPath = join(outDir, 'model.json');
  try {
    const { summary } = await runTraining({
      config: cfg, splits, backend, outDir, signal: controller.signal,
      onStep: (s) => { if (s.step === opts.stopAt) controller.abort(); },
      onCheckpoint: async (net, step, norm, members) => {
        await saveCheckpoint(modelPath, net, { config: cfg, step, totalSteps: 36, normalization: norm, data: counts, members });
        if (step === opts.keep) copyFileSync(modelPath, join(outDir, `model-${step}.json`));
      },
      ...(cp ? { resume: resumeStateOf(cp), normalization: cp.normalization } : {}),
    });
    return summary;
  } finally {
    await backend.dispose();
  }
}

describe('model.json', () => {
  it('round-trips weights, normalisation, config and step exactly', async () => {
    const backend = new ReferenceBackend();
    const net = new Network(backend, { d: 3072, m: 6, k: 10 });
    await net.initialise(new Rng(5));
    const norm = computeNormalization(splits.train);
    const path = join(root, 'roundtrip.json');
    await saveCheckpoint(path, net, { config, step: 7, totalSteps: 36, normalization: norm, data: counts });
    const cp = loadCheckpoint(path);
    const snap = await net.snapshot();
    for (const p of ['W1', 'b1', 'W2', 'b2'] as const) expect(Array.from(cp.params![p])).toEqual(Array.from(snap[p]));
    expect(Array.from(cp.normalization.mean)).toEqual(Array.from(norm.mean));
    expect(Array.from(cp.normalization.invStd)).toEqual(Array.from(norm.invStd));
    expect(cp.config).toEqual(config);
    expect([cp.step, cp.totalSteps, cp.shape.m]).toEqual([7, 36, 6]);
    expect(cp.classes[9]).toBe('truck');
    // A run folder names its model.json too.
    writeFileSync(join(root, 'model.json'), readFileSync(path));
    expect(loadCheckpoint(root).step).toBe(7);
  });

  it('predicts with the loaded weights exactly like the network it came from', async () => {
    const backend = new ReferenceBackend();
    const net = new Network(backend, { d: 3072, m: 6, k: 10 });
    await net.initialise(new Rng(9));
    const norm = computeNormalization(splits.train);
    const cp = parseCheckpoint(await serializeModel(net, { config, step: 0, totalSteps: 36, normalization: norm, data: counts }), 'mem');
    const a = await new Predictor(net, norm, 7).probabilities(splits.val, 0, 7);
    const b = await new Predictor(await networkFromCheckpoint(cp, backend), cp.normalization, 7).probabilities(splits.val, 0, 7);
    expect(Array.from(b)).toEqual(Array.from(a));
    for (let i = 0; i < 7; i++) expect(a.subarray(i * 10, i * 10 + 10).reduce((x, y) => x + y, 0)).toBeCloseTo(1, 12);
  });

  it('refuses corrupt and mismatched files with one-line CheckpointErrors', async () => {
    const backend = new ReferenceBackend();
    const net = new Network(backend, { d: 3072, m: 6, k: 10 });
    await net.initialise(new Rng(5));
    const text = await serializeModel(net, { config, step: 3, totalSteps: 36, normalization: computeNormalization(splits.train), data: counts });
    const resign = (edit: (doc: Record<string, any>) => void) => {
      const { sha256: _old, ...doc } = JSON.parse(text);
      edit(doc);
      return JSON.stringify({ ...doc, sha256: checksumOf(doc) });
    };
    const bad: [string, RegExp][] = [
      ['', /not valid JSON/],
      [text.slice(0, text.length >> 1), /not valid JSON.*truncated/],
      ['[1,2]', /not a cifar-mlp model file/],
      [text.replace('"step":3', '"step":4'), /checksum mismatch/],
      [resign((d) => { d.version = 4; }), /version 4 is not supported/],
      [resign((d) => { d.params.W1.rows = 7; }), /weights W1 are 7×3072, expected 6×3072/],
      [resign((d) => { d.shape.m = 7; }), /shape .* does not fit/],
      [resign((d) => { d.params.b2.data = d.params.b2.data.slice(0, 8); }), /weights b2 holds 6 bytes, expected 80/],
      [resign((d) => { d.params.b1.data = '@@@@'; }), /not base64/],
      [resign((d) => { d.config.train.lambda = -1; }), /config: train\.lambda: .*got -1/],
      [resign((d) => { d.normalization.mean = ''; }), /normalization\.mean holds 0 bytes/],
      [resign((d) => { d.step = 99; }), /bad step 99 of 36/],
      [resign((d) => { d.params.b2.data = Buffer.from(new Float64Array(10).fill(NaN).buffer).toString('base64'); }), /non-finite/],
      [resign((d) => { d.members = 'all'; }), /"members" must be a list/],
      [resign((d) => { d.members = [{ step: 3, params: d.params }]; }), /members\[0\] has no name/],
      [resign((d) => { d.members = [{ name: 's', step: 37, params: d.params }]; }), /members\[0\] has a bad step 37 of 36/],
      [resign((d) => { d.members = [{ name: 's', step: 3, params: { ...d.params, W2: { ...d.params.W2, cols: 5 } } }]; }), /members\[0\] weights W2 are 10×5, expected 10×6/],
      [resign((d) => { d.members = []; delete d.params; }), /at least one without "params"/],
      [resign((d) => { d.velocity = d.params; delete d.params; d.members = [{ name: 's', step: 3, params: d.velocity }]; }), /velocities without the weights/],
      [resign((d) => { d.velocity = { ...d.params, b1: undefined }; }), /velocity b1 are missing/],
      [resign((d) => { delete d.params; }), /no weights \("params"\)/],
    ];
    for (const [content, message] of bad) {
      let err: unknown;
      try {
        parseCheckpoint(content, 'm.json');
      } catch (e) {
        err = e;
      }
      expect(err, String(message)).toBeInstanceOf(CheckpointError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).toMatch(/^m\.json: /);
      expect((err as Error).message).not.toContain('\n');
    }
    expect(() => loadCheckpoint(join(root, 'nope.json'))).toThrow(/nope\.json: model file not found/);
  });

  it('holds momentum velocities and ensemble members (version 2), and still reads version 1 files', async () => {
    const backend = new ReferenceBackend();
    const momentumConfig = { ...config, train: { ...config.train, momentum: 0.9 } };
    const net = new Network(backend, { d: 3072, m: 6, k: 10 }, { mu: 0.9, nesterov: false });
    await net.initialise(new Rng(5));
    await net.restore((await new Network(backend, net.shape).snapshot()), net.velocity!); // zero …
    await backend.write(net.velocity!.b2, Float64Array.from({ length: 10 }, (_, i) => i / 7)); // … but for b2
    const other = new Network(backend, net.shape);
    await other.initialise(new Rng(6));
    const members = [{ name: 'snapshot@18', step: 18, params: await other.snapshot() }, { name: 'snapshot@36', step: 36, params: await net.snapshot() }];
    const norm = computeNormalization(splits.train);
    const text = await serializeModel(net, { config: momentumConfig, step: 36, totalSteps: 36, normalization: norm, data: counts, members });
    const cp = parseCheckpoint(text, 'v2.json');
    expect(cp.version).toBe(2);
    expect(Array.from(cp.velocity!.b2)).toEqual(Array.from({ length: 10 }, (_, i) => i / 7));
    expect(cp.members.map((m) => [m.name, m.step])).toEqual([['snapshot@18', 18], ['snapshot@36', 36]]);
    expect(Array.from(cp.members[0].params.W1)).toEqual(Array.from(members[0].params.W1));
    expect(deliveredMembers(cp)).toHaveLength(2);
    // An ensemble file: members only, no training state.
    const ens = parseCheckpoint(await serializeModel(null, { config, step: 36, totalSteps: 36, normalization: norm, data: counts, members }), 'ens.json');
    expect(ens.params).toBeNull();
    expect(ens.velocity).toBeNull();
    expect((await modelFromCheckpoint(ens, backend)).networks).toHaveLength(2);
    await expect(networkFromCheckpoint(ens, backend)).rejects.toThrow(/ens\.json: holds an ensemble's members only/);
    expect(() => checkResumable(ens, config, counts, norm)).toThrow(/ens\.json: cannot resume: an ensemble file/);
    // Version 1: params only, and a config from before the options of version 2 (their defaults apply).
    const { sha256: _s, ...doc } = JSON.parse(await serializeModel(new Network(backend, net.shape), { config, step: 3, totalSteps: 36, normalization: norm, data: counts }));
    doc.version = 1;
    delete doc.config.augment; delete doc.config.ensemble; delete doc.config.lrFind;
    delete doc.config.train.dropout; delete doc.config.train.momentum; delete doc.config.train.nesterov;
    const v1 = parseCheckpoint(JSON.stringify({ ...doc, sha256: checksumOf(doc) }), 'v1.json');
    expect(v1.version).toBe(1);
    expect(v1.config).toEqual(config);
    expect(v1.members).toEqual([]);
    expect(deliveredMembers(v1).map((m) => m.name)).toEqual(['final']);
    expect(() => checkResumable(v1, config, counts, norm)).not.toThrow();
  });

  it('refuses to resume with another config, other data, or a finished run', async () => {
    const backend = new ReferenceBackend();
    const net = new Network(backend, { d: 3072, m: 6, k: 10 });
    const norm = computeNormalization(splits.train);
    const cp = parseCheckpoint(await serializeModel(net, { config, step: 3, totalSteps: 36, normalization: norm, data: counts }), 'cp.json');
    expect(() => checkResumable(cp, config, counts, norm)).not.toThrow();
    // Backend and checkpoint interval may change.
    expect(() => checkResumable(cp, { ...config, kernels: { backend: 'cpu', threads: 2 }, checkpoint: { every: 5 } }, counts, norm)).not.toThrow();
    expect(() => checkResumable(cp, { ...config, train: { ...config.train, lambda: 0.1 } }, counts, norm))
      .toThrow(/cannot resume: the config differs from the checkpoint's at train\.lambda \(checkpoint 0\.005, now 0\.1\)/);
    expect(() => checkResumable(cp, { ...config, seed: 12 }, counts, norm)).toThrow(ConfigError);
    expect(() => checkResumable(cp, config, { ...counts, val: 10 }, norm)).toThrow(/the data differ/);
    const other = { mean: norm.mean.map((v) => v + 1), invStd: norm.invStd };
    expect(() => checkResumable(cp, config, counts, other)).toThrow(/training images differ/);
    const done = parseCheckpoint(await serializeModel(net, { config, step: 36, totalSteps: 36, normalization: norm, data: counts }), 'done.json');
    expect(() => checkResumable(done, config, counts, norm)).toThrow(UsageError);
  });

  it('keeps only the rows up to the checkpoint in metrics.csv when resuming', async () => {
    const path = join(root, 'metrics-trim.csv');
    const header = 'step,epoch,eta,train_loss,train_cost,train_acc,val_loss,val_cost,val_acc,elapsed_s';
    writeFileSync(path, `${header}\n0,0,1,2,2,0.1,2,2,0.1,0\n10,1,1,2,2,0.1,2,2,0.1,1\n20,2,1,2,2,0.1,2,2,0.1,2\n30,3,1,2,2,0.`);
    await trimMetricsForResume(path, 10);
    expect(readFileSync(path, 'utf8')).toBe(`${header}\n0,0,1,2,2,0.1,2,2,0.1,0\n10,1,1,2,2,0.1,2,2,0.1,1\n`);
    writeFileSync(path, 'not,a,metrics,file\n');
    await expect(trimMetricsForResume(path, 10)).rejects.toThrow(/not a metrics file/);
  });
});

describe('interrupted and resumed training', () => {
  for (const backendName of ['reference', 'wasm-simd'] as const) {
    it(`continues the same schedule and data order: final metrics equal an uninterrupted run (${backendName})`, async () => {
      const full = join(root, `full-${backendName}`), part = join(root, `part-${backendName}`);
      const a = await train(full, backendName);
      expect(a.status).toBe('completed');

      // Interrupted after step 13 (mid-epoch, mid-cycle): status interrupted, model.json at step 13.
      const b1 = await train(part, backendName, { stopAt: 13 });
      expect(b1.status).toBe('interrupted');
      expect(b1.steps).toBe(13);
      expect(loadCheckpoint(join(part, 'model.json')).step).toBe(13);
      const b2 = await train(part, backendName, { resumeFrom: join(part, 'model.json') });
      expect(b2.status).toBe('completed');
      expect(b2.steps).toBe(36);
      expect(metricsWithoutTime(part)).toEqual(metricsWithoutTime(full));
      expect(b2.final).toEqual(a.final);
      expect(b2.lastMetrics && { ...b2.lastMetrics, elapsed_s: 0 }).toEqual(a.lastMetrics && { ...a.lastMetrics, elapsed_s: 0 });
    });
  }

  it('resumes from a periodic checkpoint (checkpoint.every) to the same result', async () => {
    const full = join(root, 'full-periodic'), part = join(root, 'part-periodic');
    const a = await train(full, 'wasm-simd', { every: 5, keep: 20 });
    expect(existsSync(join(full, 'model-20.json'))).toBe(true);
    expect(loadCheckpoint(join(full, 'model.json')).step).toBe(36);
    // As if the run had been killed right after its checkpoint at step 20.
    await train(part, 'wasm-simd', { stopAt: 20 });
    copyFileSync(join(full, 'model-20.json'), join(part, 'model.json'));
    const b = await train(part, 'wasm-simd', { every: 5, resumeFrom: join(part, 'model.json') });
    expect(metricsWithoutTime(part)).toEqual(metricsWithoutTime(full));
    expect(b.final).toEqual(a.final);
  });
});

/** End to end through the RxJS pipeline on synthetic CIFAR-format data. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { trainSchema, type TrainConfig } from '../src/config/train-schema.js';
import { loadSplits } from '../src/data/splits.js';
import { selectBackend } from '../src/kernels/select.js';
import { runTraining } from '../src/pipeline/train.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const root = mkdtempSync(join(tmpdir(), 'cifar-pipeline-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const dataDir = writeSyntheticCifar(join(root, 'data'), 300, 90);

const config: TrainConfig = trainSchema.parse({
  name: 'synthetic', seed: 7,
  model: { hidden: 20 },
  train: { lambda: 0.001, batchSize: 50 },
  schedule: { etaMin: 1e-4, etaMax: 5e-2, ns: 30, cycles: 1 },
  eval: { pointsPerCycle: 6 },
});

async function train(backendName: 'wasm-simd' | 'cpu', outDir: string, cfg = config) {
  const { backend } = await selectBackend(backendName, 1);
  try {
    return (await runTraining({ config: cfg, splits: loadSplits(cfg.data, dataDir), backend, outDir })).summary;
  } finally {
    await backend.dispose();
  }
}

const metricsWithoutTime = (dir: string) =>
  readFileSync(join(dir, 'metrics.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, -1).join(','));

describe('training pipeline', () => {
  it('learns the synthetic classes far above chance and writes metrics and summary', async () => {
    const out = join(root, 'run-a');
    const s = await train('wasm-simd', out);
    expect(s.status).toBe('completed');
    expect(s.steps).toBe(60);
    expect(s.final!.test!.accuracy).toBeGreaterThan(0.6); // chance is 0.1
    expect(s.final!.val.accuracy).toBeGreaterThan(0.6);
    const rows = metricsWithoutTime(out);
    expect(rows[0]).toBe('step,epoch,eta,train_loss,train_cost,train_acc,val_loss,val_cost,val_acc');
    expect(rows.slice(1).map((r) => Number(r.split(",")[0]))).toEqual([0, 10, 20, 30, 40, 50, 60]);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.backend).toBe('wasm-simd');
    expect(summary.config.train.lambda).toBe(0.001);
    expect(readFileSync(join(out, 'config.yaml'), 'utf8')).toContain('hidden: 20');
  });

  it('gives identical metrics for the same config and seed, and different ones for another seed', async () => {
    await train('wasm-simd', join(root, 'run-b'));
    expect(metricsWithoutTime(join(root, 'run-b'))).toEqual(metricsWithoutTime(join(root, 'run-a')));
    await train('wasm-simd', join(root, 'run-c'), { ...config, seed: 8 });
    expect(metricsWithoutTime(join(root, 'run-c'))).not.toEqual(metricsWithoutTime(join(root, 'run-a')));
  });

  it('ends a diverging run with status diverged and the step', async () => {
    const s = await train('cpu', join(root, 'run-d'), { ...config, schedule: { ...config.schedule, etaMin: 1e4, etaMax: 1e6 } });
    expect(s.status).toBe('diverged');
    expect(s.divergedAtStep).toBeGreaterThan(0);
    expect(s.final).toBeNull();
  });

  it('asks at each rung and ends pruned at the rung where it is told to, with the validation accuracy there', async () => {
    const out = join(root, 'pruned');
    const { backend } = await selectBackend('wasm-simd', 1);
    const asked: [number, number][] = [];
    try {
      const { summary } = await runTraining({
        config, splits: loadSplits(config.data, dataDir), backend, outDir: out,
        rungs: { steps: [10, 25, 40], decide: async (step, acc) => { asked.push([step, acc]); return step === 25 ? 'prune' : 'continue'; } },
      });
      expect(asked.map(([s]) => s)).toEqual([10, 25]); // never asked at 40
      expect(summary.status).toBe('pruned');
      expect(summary.steps).toBe(25);
      expect(summary.pruned).toEqual({ step: 25, valAccuracy: asked[1][1] });
      expect(asked[1][1]).toBeGreaterThan(0.2); // learnt something by then (chance is 0.1)
      expect(summary.final).toBeNull();
      // 25 is not an evaluation point (every 10): its accuracy was evaluated for the rung; 10 is, and is the row's
      const rows = metricsWithoutTime(out).slice(1);
      expect(rows.map((l) => Number(l.split(',')[0]))).toEqual([0, 10, 20]);
      expect(Number(rows[1].split(',')[8])).toBe(asked[0][1]);
    } finally {
      await backend.dispose();
    }
  });
});


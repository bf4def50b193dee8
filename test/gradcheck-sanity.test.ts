// Experiment 2 of the assignment: the sanity config's settings (100 samples, lambda 0, its schedule and epochs)
// must overfit: training loss far below its start, under 0.01, training accuracy ≥ 0.99.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import type { TrainConfig } from '../src/config/schema.js';
import { loadSplits } from '../src/data/splits.js';
import { selectBackend } from '../src/kernels/select.js';
import { runTraining } from '../src/pipeline/train.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

describe('sanity check (config/sanity.yaml)', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'sanity-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('asks for the report’s setting', () => {
    const c = loadConfig('config/sanity.yaml') as TrainConfig;
    expect(c.kind).toBe('train');
    expect(c.data.trainLimit).toBe(100);
    expect(c.train.lambda).toBe(0);
    expect(c.train.batchSize).toBe(100);
  });

  it('overfits 100 synthetic samples: training loss < 0.01 and accuracy ≥ 0.99', async () => {
    // Synthetic batches of 200 records: hold out 100 (the real config holds out 1000 of 10,000), train on the first 100.
    const data = writeSyntheticCifar(join(dir, 'cifar'), 200);
    const config = loadConfig('config/sanity.yaml', ['data.holdout=100']) as TrainConfig;
    const splits = loadSplits(config.data, data);
    expect(splits.train.count).toBe(100);
    const { backend } = await selectBackend('auto', 2);
    try {
      const { summary } = await runTraining({ config, splits, backend, outDir: join(dir, 'run') });
      expect(summary.status).toBe('completed');
      expect(summary.steps).toBe(config.schedule.epochs); // one step per epoch
      expect(summary.final!.train.loss).toBeLessThan(0.01);
      expect(summary.final!.train.accuracy).toBeGreaterThanOrEqual(0.99);
      const rows = (await readFile(join(dir, 'run', 'metrics.csv'), 'utf8')).trim().split('\n').slice(1).map((l) => l.split(','));
      const firstLoss = Number(rows[0][3]), lastLoss = Number(rows[rows.length - 1][3]);
      expect(firstLoss).toBeGreaterThan(10 * lastLoss); // it fell, and a lot
      expect(lastLoss).toBeLessThan(0.01);
    } finally {
      await backend.dispose();
    }
  }, 180_000);
});

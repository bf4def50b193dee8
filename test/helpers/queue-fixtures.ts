/** Shared by the queue tests: synthetic data, a small search config, the built CLI, result comparison. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import type { ParamSpec } from '../../src/config/search-schema.js';
import { readTrialsCsv, type TrialRow } from '../../src/formats/trials-csv.js';
import { CliProcess } from './redis.js';

export const CLI = resolve('dist/cli.js');

/** Trials of 100 steps (a second or two here) whose accuracies differ (noisy synthetic records). */
export const BASE = {
  seed: 1,
  data: { train: ['data_batch_1', 'data_batch_2'], holdout: 100, test: ['test_batch'] },
  model: { hidden: 16 },
  train: { batchSize: 50 },
  schedule: { etaMin: 0.1, etaMax: 0.1, ns: 50, cycles: 1 },
  eval: { pointsPerCycle: 2 },
  kernels: { backend: 'wasm-simd' },
};

/** A search config file of `trials` grid trials, lambda from 1e-4 to 1e-1 (the lambda-only form of the space). */
export function writeSearchConfig(dir: string, name: string, trials: number, base: object = BASE): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, JSON.stringify({ kind: 'search', name, seed: 3, trials, workers: 0, space: { sampling: 'grid', lMin: -4, lMax: -1 }, base }));
  return path;
}

export function startWorker(url: string, dataDir: string, name: string, work: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): CliProcess {
  return new CliProcess(CLI, ['worker', '--queue', url, '--data', dataDir, '--name', name, '--work', work, ...extra], env);
}

/** The rows of a search folder's trials.csv (its columns are those of the space in its plan.json). */
export async function rowsOf(outDir: string): Promise<TrialRow[]> {
  const { space } = JSON.parse(readFileSync(join(outDir, 'plan.json'), 'utf8')) as { space: Record<string, ParamSpec> };
  return (await readTrialsCsv(join(outDir, 'trials.csv'), space, false)).rows;
}

/** metrics.csv without its elapsed_s column (the only one that depends on timing). */
export function metricsWithoutTime(path: string): string {
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, -1).join(',')).join('\n');
}

/** Every key in Redis under the queue's prefix. */
export async function queueKeys(url: string): Promise<string[]> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    return await r.keys('cifar-mlp*');
  } finally {
    r.disconnect();
  }
}

/** How often each trial was started by the given workers (from their output). */
export function startsPerTrial(...workers: CliProcess[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const w of workers) for (const x of w.out.matchAll(/trial (\d+) of \S+ started/g)) m.set(Number(x[1]), (m.get(Number(x[1])) ?? 0) + 1);
  return m;
}

/** `cifar-mlp run <train config>`: one training run, from data to summary.json and plots. */
import { UsageError } from '../../config/errors.js';
import type { TrainConfig } from '../../config/schema.js';
import { acquireDataDir } from '../../data/acquire.js';
import { DataError } from '../../data/cifar.js';
import { loadSplits } from '../../data/splits.js';
import { selectBackend } from '../../kernels/select.js';
import { runTraining, type Summary } from '../../pipeline/train.js';
import { prepareOutDir } from '../out-dir.js';
import { trainingProgress } from '../progress.js';
import { renderRunArtifacts } from '../artifacts.js';

export interface RunOptions {
  data?: string;
  out?: string;
  force?: boolean;
  resume?: boolean;
  configPath: string;
  signal: AbortSignal;
}

export const log = (line: string) => process.stderr.write(`${line}\n`);

export function loadSplitsOrExplain(config: TrainConfig, dir: string) {
  try {
    return loadSplits(config.data, dir);
  } catch (e) {
    if (e instanceof DataError) throw new UsageError(e.message);
    throw e;
  }
}

export const exitCodeOf = (s: Summary['status']) => ({ completed: 0, interrupted: 130, diverged: 3, failed: 1 })[s];

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;

export async function trainCommand(config: TrainConfig, opts: RunOptions): Promise<number> {
  const dataDir = await acquireDataDir({ cliDir: opts.data, configPath: opts.configPath, data: config.data, signal: opts.signal, log });
  const splits = loadSplitsOrExplain(config, dataDir);
  const outDir = prepareOutDir(config.name, opts.out, opts);
  const { backend, skipped } = await selectBackend(config.kernels.backend, config.kernels.threads);
  log(`cifar-mlp: ${config.name}: data ${dataDir} (train ${splits.train.count}, val ${splits.val.count}, test ${splits.test.count}); ` +
    `backend ${backend.name} (${backend.threads + 1} thread${backend.threads ? 's' : ''})` +
    (skipped.length ? `; not loaded: ${skipped.map((s) => s.name).join(', ')}` : '') + `; out ${outDir}`);
  const progress = trainingProgress(config.name);
  let summary: Summary;
  try {
    ({ summary } = await runTraining({ config, splits, backend, outDir, signal: opts.signal, onStep: (s, plan) => progress.update(s, plan) }));
  } finally {
    progress.stop();
    await backend.dispose();
  }
  await renderRunArtifacts(outDir, log);
  const f = summary.final;
  log(`cifar-mlp: ${summary.status} after ${summary.steps} steps in ${summary.seconds.toFixed(1)}s (${Math.round(summary.samplesPerSecond)} samples/s on ${summary.backend})` +
    (f ? `; accuracy train ${pct(f.train.accuracy)}, val ${pct(f.val.accuracy)}, test ${pct(f.test.accuracy)}` : summary.error ? `; ${summary.error}` : '') +
    `; results in ${outDir}`);
  return exitCodeOf(summary.status);
}

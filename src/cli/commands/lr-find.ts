/**
 * `cifar-mlp lr-find <train config>`: the learning-rate range test of the config's network and data (lrFind.* sets
 * its bounds, steps and stopping rule; see src/pipeline/lr-find.ts). Prints the suggested schedule.etaMin /
 * schedule.etaMax and writes, in the output folder (default runs/<name>-lr-find): lr-find.csv (step, eta, loss,
 * smoothed), lr-find.json (the suggestion and how the sweep ended), lr-find.svg / .png, and the run's config.yaml,
 * summary.json. Exit 0 with a suggestion, 1 when the loss never fell (no range to suggest), 130 when interrupted.
 */
import { join } from 'node:path';
import type { TrainConfig } from '../../config/schema.js';
import { CsvLog } from '../../util/csv-log.js';
import { lrFindConfig, runLrFind } from '../../pipeline/lr-find.js';
import { writeLrFindFigure } from '../../report/lr-find-plot.js';
import { writeJsonAtomic } from '../../util/atomic.js';
import { prepareOutDir, type OutDir } from '../../util/out-dir.js';
import type { Splits } from '../../data/splits.js';
import type { Normalization } from '../../data/normalization.js';
import type { KernelBackend } from '../../kernels/backend.js';
import { selectBackendOrExplain } from '../../kernels/choose.js';
import { prepareData } from '../../pipeline/train-into-folder.js';
import { log } from '../log.js';
import type { RunOptions } from '../run-options.js';

export const LR_FIND_COLUMNS = ['step', 'eta', 'loss', 'smoothed'] as const;

const g = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(6)) : 'NA');

export async function lrFindCommand(config: TrainConfig, opts: RunOptions): Promise<number> {
  const sweep = lrFindConfig(config);
  const { dataDir, splits, normalization } = await prepareData(sweep, { ...opts, log });
  if (opts.signal.aborted) {
    log('cifar-mlp: interrupted before the range test started; nothing was written');
    return 130;
  }
  const { backend } = await selectBackendOrExplain(config.kernels.backend, config.kernels.threads);
  let out: OutDir;
  try {
    out = prepareOutDir(sweep.name, opts.out, { ...opts, log });
  } catch (e) {
    await backend.dispose();
    throw e;
  }
  try {
    return await lrFindInFolder(config, opts, out.dir, { dataDir, splits, normalization, backend });
  } finally {
    out.lock.release();
  }
}

async function lrFindInFolder(
  config: TrainConfig, opts: RunOptions, outDir: string,
  { dataDir, splits, normalization, backend }: { dataDir: string; splits: Splits; normalization: Normalization; backend: KernelBackend },
): Promise<number> {
  const { etaMin, etaMax, steps } = config.lrFind;
  log(`cifar-mlp: ${config.name}-lr-find: learning rate ${etaMin} → ${etaMax} over ${steps} steps (exponential); data ${dataDir}; backend ${backend.name}; out ${outDir}`);
  const csv = new CsvLog(join(outDir, 'lr-find.csv'), LR_FIND_COLUMNS);
  let result;
  try {
    result = await runLrFind({
      config, splits, backend, outDir, normalization, signal: opts.signal,
      onPoint: (p) => void csv.write({ step: p.step, eta: g(p.eta), loss: g(p.loss), smoothed: g(p.smoothed) }),
    });
  } finally {
    await csv.close();
    await backend.dispose();
  }
  const s = result.suggestion;
  writeJsonAtomic(join(outDir, 'lr-find.json'), {
    name: config.name, status: result.status, stopped: result.stopped, steps: result.points.length, seconds: result.seconds,
    sweep: config.lrFind, suggestion: s, backend: backend.name,
  });
  const title = `Learning-rate range test · ${config.name}`;
  const subtitle = `m=${config.model.hidden} · λ=${config.train.lambda} · n_batch=${config.train.batchSize} · ${result.points.length} steps`;
  try {
    await writeLrFindFigure(result.points, s, join(outDir, 'lr-find'), title, subtitle);
  } catch (e) {
    log(`cifar-mlp: warning: could not draw lr-find.svg: ${(e as Error).message}`);
  }
  log(`cifar-mlp: range test ${result.status} after ${result.points.length} steps in ${result.seconds.toFixed(1)}s` +
    (result.stopped ? ` (${result.stopped})` : '') + `; results in ${outDir}`);
  if (result.status === 'interrupted') return 130;
  if (result.status === 'failed') return 1;
  if (!s) {
    log('cifar-mlp: no range to suggest: the smoothed loss never fell (try a higher lrFind.etaMax or more lrFind.steps)');
    return 1;
  }
  process.stdout.write(`suggested schedule: etaMin ${s.etaMin.toPrecision(3)}, etaMax ${s.etaMax.toPrecision(3)} ` +
    `(lowest smoothed loss ${s.lowest.smoothed.toFixed(4)} at eta ${s.lowest.eta.toPrecision(3)})\n` +
    `  --set schedule.etaMin=${s.etaMin.toPrecision(3)} --set schedule.etaMax=${s.etaMax.toPrecision(3)}\n`);
  return 0;
}

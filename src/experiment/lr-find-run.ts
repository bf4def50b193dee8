/**
 * `cifar-mlp lr-find <train config>` into its folder (default runs/<name>-lr-find): the learning-rate range test of the
 * config's network and data (pipeline/lr-find.ts), its lr-find.csv, lr-find.json and figure, and the run's
 * config.yaml and summary.json.
 */
import type { TrainConfig } from '../config/schema.js';
import { LrFindLog, writeLrFindSummary } from '../formats/lr-find.js';
import { join } from 'node:path';
import type { Selection } from '../kernels/select.js';
import { lrFindConfig, runLrFind, type LrFindResult } from '../pipeline/lr-find.js';
import { writeLrFindFigure } from '../report/lr-find-plot.js';
import { runInFolder, type FolderResult, type FolderStrategy } from './folder-run.js';
import type { FolderRunOptions } from './options.js';
import { chooseBackend, prepareData, type PreparedData } from './prepared-data.js';

interface Prepared extends PreparedData {
  selection: Selection;
}

function lrFindRun(config: TrainConfig, opts: FolderRunOptions): FolderStrategy<Prepared, LrFindResult> {
  const sweep = lrFindConfig(config);
  return {
    name: sweep.name,
    async prepare() {
      const data = await prepareData(sweep, opts);
      return { ...data, selection: await chooseBackend(sweep) };
    },
    async run(p, dir) {
      const { etaMin, etaMax, steps } = config.lrFind;
      const { backend } = p.selection;
      opts.log(`cifar-mlp: ${sweep.name}: learning rate ${etaMin} → ${etaMax} over ${steps} steps (exponential); data ${p.dataDir}; backend ${backend.name}; out ${dir}`);
      const csv = new LrFindLog(dir);
      let result: LrFindResult;
      try {
        result = await runLrFind({
          config, splits: p.splits, backend, outDir: dir, normalization: p.normalization, signal: opts.signal, onPoint: (point) => void csv.write(point),
        });
      } finally {
        await csv.close();
      }
      writeLrFindSummary(dir, {
        name: config.name, status: result.status, stopped: result.stopped, steps: result.points.length, seconds: result.seconds,
        sweep: config.lrFind, suggestion: result.suggestion, backend: backend.name,
      });
      return result;
    },
    async render(dir, result) {
      const title = `Learning-rate range test · ${config.name}`;
      const subtitle = `m=${config.model.hidden} · λ=${config.train.lambda} · n_batch=${config.train.batchSize} · ${result.points.length} steps`;
      try {
        await writeLrFindFigure(result.points, result.suggestion, join(dir, 'lr-find'), title, subtitle);
      } catch (e) {
        opts.log(`cifar-mlp: warning: could not draw lr-find.svg: ${(e as Error).message}`);
      }
    },
    release: (p) => p.selection.backend.dispose(),
  };
}

/** The range test of `config` into its folder; null when the signal was aborted before anything was written. */
export function lrFindIntoFolder(config: TrainConfig, opts: FolderRunOptions): Promise<FolderResult<LrFindResult> | null> {
  return runInFolder(lrFindRun(config, opts), opts);
}

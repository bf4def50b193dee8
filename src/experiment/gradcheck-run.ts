/**
 * A gradient check into its folder (`cifar-mlp run <gradcheck config>`): analytic against numerical gradients in
 * float64, and the training backend's float32 gradients against the float64 reference; gradcheck.csv, summary.json.
 */
import type { GradcheckConfig } from '../config/schema.js';
import { acquireDataDir } from '../data/acquire.js';
import { CLASSES, type Dataset } from '../data/cifar.js';
import { loadSplits } from '../data/splits.js';
import type { GradcheckSummary } from '../formats/gradcheck.js';
import { runGradcheck } from '../gradcheck/run.js';
import { describeSelection } from '../kernels/describe-selection.js';
import { selectBackendOrExplain } from '../model/speed-probe.js';
import type { Selection } from '../kernels/select.js';
import { kernelThreads } from '../pipeline/plan.js';
import { UsageError } from '../util/errors.js';
import { runInFolder, type FolderResult, type FolderStrategy } from './folder-run.js';
import { configSource, type FolderRunOptions } from './options.js';

interface Prepared {
  dataDir: string;
  train: Dataset;
  /** The float32 backend compared with float64 (null when config.float32 is off). */
  selection: Selection | null;
}

function gradcheckRun(config: GradcheckConfig, opts: FolderRunOptions): FolderStrategy<Prepared, GradcheckSummary> {
  const { samples: n, entries, lambdas, h } = config.check;
  const { inputDims: d, hidden: m } = config.model;
  return {
    name: config.name,
    async prepare() {
      const dataDir = await acquireDataDir({ cliDir: opts.data, configPath: opts.configPath, data: config.data, signal: opts.signal, log: opts.log, downloadProgress: opts.downloadProgress });
      const { train } = loadSplits(config.data, dataDir, configSource(opts));
      if (n > train.count) throw new UsageError(`${configSource(opts)}: check.samples: ${n} samples asked, the training split holds ${train.count}`);
      const selection = config.float32.enabled
        ? await selectBackendOrExplain(config.kernels.backend, kernelThreads(config.kernels.threads), { n, d, m, k: CLASSES })
        : null;
      return { dataDir, train, selection };
    },
    async run(p, dir) {
      opts.log(`cifar-mlp: ${config.name}: data ${p.dataDir}; ${n} samples × ${d} dims, m = ${m}, lambda ${lambdas.join(', ')}, h = ${h}` +
        `, ${entries ? `${entries} random entries per parameter` : 'every entry'}` +
        (p.selection ? `; float32 ${describeSelection(p.selection)}` : '') + `; out ${dir}`);
      return runGradcheck({ config, train: p.train, backend: p.selection?.backend ?? null, outDir: dir, signal: opts.signal, log: opts.log });
    },
    release: (p) => p.selection?.backend.dispose(),
  };
}

/** The gradient check of `config` into its folder; null when the signal was aborted before anything was written. */
export function gradcheckIntoFolder(config: GradcheckConfig, opts: FolderRunOptions): Promise<FolderResult<GradcheckSummary> | null> {
  return runInFolder(gradcheckRun(config, opts), opts);
}

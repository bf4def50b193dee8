/**
 * `cifar-mlp run <gradcheck config>` (SPEC.md experiment 1): analytic against numerical gradients in
 * float64, and the training backend's float32 gradients against the float64 reference. Prints a table
 * on stdout, writes gradcheck.csv and summary.json, and exits 1 when an error exceeds its threshold.
 */
import { UsageError } from '../../util/errors.js';
import { CLASSES } from '../../data/cifar.js';
import type { GradcheckConfig } from '../../config/schema.js';
import { acquireDataDir } from '../../data/acquire.js';
import { formatTable, runGradcheck } from '../../gradcheck/run.js';
import type { KernelBackend } from '../../kernels/backend.js';
import { prepareOutDir } from '../../util/out-dir.js';
import { loadSplits } from '../../data/splits.js';
import type { Dataset } from '../../data/cifar.js';
import { describeSelection, selectBackendOrExplain } from '../../kernels/choose.js';
import { log } from '../log.js';
import type { RunOptions } from '../run-options.js';

export async function gradcheckCommand(config: GradcheckConfig, opts: RunOptions): Promise<number> {
  const dataDir = await acquireDataDir({ cliDir: opts.data, configPath: opts.configPath, data: config.data, signal: opts.signal, log });
  const splits = loadSplits(config.data, dataDir, opts.configPath);
  if (config.check.samples > splits.train.count) {
    throw new UsageError(`config: check.samples: ${config.check.samples} samples asked, the training split holds ${splits.train.count}`);
  }
  const out = prepareOutDir(config.name, opts.out, { ...opts, log });
  try {
    return await check(config, opts, { dataDir, outDir: out.dir, train: splits.train });
  } finally {
    out.lock.release();
  }
}

async function check(config: GradcheckConfig, opts: RunOptions, { dataDir, outDir, train }: { dataDir: string; outDir: string; train: Dataset }): Promise<number> {
  const { samples: n, entries, lambdas, h } = config.check;
  const { inputDims: d, hidden: m } = config.model;
  const selection = config.float32.enabled ? await selectBackendOrExplain(config.kernels.backend, config.kernels.threads, { n, d, m, k: CLASSES }) : null;
  const backend: KernelBackend | null = selection?.backend ?? null;
  log(`cifar-mlp: ${config.name}: data ${dataDir}; ${n} samples × ${d} dims, m = ${m}, lambda ${lambdas.join(', ')}, h = ${h}` +
    `, ${entries ? `${entries} random entries per parameter` : 'every entry'}` +
    (selection ? `; float32 ${describeSelection(selection)}` : '') + `; out ${outDir}`);
  let summary;
  try {
    summary = await runGradcheck({ config, train, backend, outDir, signal: opts.signal, log });
  } finally {
    await backend?.dispose();
  }
  process.stdout.write(`${formatTable(summary.results)}\n`);
  const worst = Object.entries(summary.worst).map(([check, w]) => `${check} worst ${w.value.toExponential(2)} (threshold ${w.threshold}) ${w.passed ? 'ok' : 'FAILED'}`);
  log(`cifar-mlp: gradient check ${summary.status} in ${summary.seconds.toFixed(1)}s: ${worst.join('; ')}; results in ${outDir}`);
  return { passed: 0, failed: 1, interrupted: 130 }[summary.status];
}

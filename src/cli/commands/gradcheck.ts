/**
 * `cifar-mlp run <gradcheck config>` (SPEC.md experiment 1): analytic against numerical gradients in
 * float64, and the training backend's float32 gradients against the float64 reference. Prints a table
 * on stdout, writes gradcheck.csv and summary.json, and exits 1 when an error exceeds its threshold.
 */
import { UsageError } from '../../config/errors.js';
import type { GradcheckConfig } from '../../config/schema.js';
import { acquireDataDir } from '../../data/acquire.js';
import { formatTable, runGradcheck } from '../../gradcheck/run.js';
import type { KernelBackend } from '../../kernels/backend.js';
import { prepareOutDir, type OutDir } from '../out-dir.js';
import { loadSplits } from '../../data/splits.js';
import type { Dataset } from '../../data/cifar.js';
import { log, selectBackendOrExplain, type RunOptions } from './train.js';

export async function gradcheckCommand(config: GradcheckConfig, opts: RunOptions): Promise<number> {
  const dataDir = await acquireDataDir({ cliDir: opts.data, configPath: opts.configPath, data: config.data, signal: opts.signal, log });
  const splits = loadSplits(config.data, dataDir, opts.configPath);
  if (config.check.samples > splits.train.count) {
    throw new UsageError(`config: check.samples: ${config.check.samples} samples asked, the training split holds ${splits.train.count}`);
  }
  let backend: KernelBackend | null = null;
  let skipped: { name: string }[] = [];
  if (config.float32.enabled) ({ backend, skipped } = await selectBackendOrExplain(config.kernels.backend, config.kernels.threads));
  let out: OutDir;
  try {
    out = prepareOutDir(config.name, opts.out, { ...opts, log });
  } catch (e) {
    await backend?.dispose();
    throw e;
  }
  try {
    return await check(config, opts, { dataDir, outDir: out.dir, train: splits.train, backend, skipped });
  } finally {
    out.lock.release();
  }
}

async function check(
  config: GradcheckConfig, opts: RunOptions,
  { dataDir, outDir, train, backend, skipped }: { dataDir: string; outDir: string; train: Dataset; backend: KernelBackend | null; skipped: { name: string }[] },
): Promise<number> {
  const { samples: n, entries, lambdas, h } = config.check;
  const { inputDims: d, hidden: m } = config.model;
  log(`cifar-mlp: ${config.name}: data ${dataDir}; ${n} samples × ${d} dims, m = ${m}, lambda ${lambdas.join(', ')}, h = ${h}` +
    `, ${entries ? `${entries} random entries per parameter` : 'every entry'}` +
    (backend ? `; float32 backend ${backend.name}` : '') +
    (skipped.length ? ` (not loaded: ${skipped.map((s) => s.name).join(', ')})` : '') + `; out ${outDir}`);
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

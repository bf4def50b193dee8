/**
 * `cifar-mlp run <train config>`: one training run, from data to summary.json, model.json and plots.
 *
 * Order of operations: everything that can reject the input (config, resume checkpoint, data files, sizes that
 * only the data tell, the kernel backend) is checked BEFORE the output folder is created, so a bad input
 * writes nothing. Then the run streams metrics.csv, saves model.json every `checkpoint.every` steps and at the
 * end (atomically), and writes summary.json (atomically) whatever the outcome: completed (exit 0), diverged
 * (exit 3), interrupted by SIGINT/SIGTERM (exit 130; continue it with `--resume`), failed (exit 1).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../../config/errors.js';
import type { TrainConfig } from '../../config/schema.js';
import { acquireDataDir } from '../../data/acquire.js';
import { computeNormalization } from '../../data/normalization.js';
import { loadSplits, type Splits } from '../../data/splits.js';
import { selectBackend, type BackendName } from '../../kernels/select.js';
import type { KernelBackend } from '../../kernels/backend.js';
import { checkResumable, loadCheckpoint, MODEL_FILE, readClassNames, saveCheckpoint, type Checkpoint } from '../../model/checkpoint.js';
import { checkSplitsFit } from '../../pipeline/plan.js';
import { runTraining, type Summary } from '../../pipeline/train.js';
import { METRICS_COLUMNS } from '../../stages/metrics-sink.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { prepareOutDir } from '../out-dir.js';
import { trainingProgress } from '../progress.js';
import { renderRunArtifacts } from '../../report/run-artifacts.js';

export interface RunOptions {
  data?: string;
  out?: string;
  force?: boolean;
  resume?: boolean;
  configPath: string;
  signal: AbortSignal;
}

export const log = (line: string) => process.stderr.write(`${line}\n`);

/** A kernel backend, or a one-line UsageError naming the backend when it does not load here. */
export async function selectBackendOrExplain(name: BackendName, threads: number) {
  try {
    return await selectBackend(name, threads);
  } catch (e) {
    throw new UsageError(`kernels.backend: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** Why `auto` passed over the BLAS, when it did ("; no BLAS found: looked for …"): said on the start line. */
export const blasMissing = (skipped: { name: string; reason: string }[]) => {
  const blas = skipped.find((s) => s.name === 'blas');
  return blas ? `; ${blas.reason}` : '';
};

export const exitCodeOf = (s: Summary['status']) => ({ completed: 0, interrupted: 130, diverged: 3, failed: 1, running: 1 })[s];

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;

/** The checkpoint a `--resume` continues: `<out>/model.json`, verified. */
function resumeCheckpoint(opts: RunOptions): Checkpoint {
  if (!opts.out) throw new UsageError('--resume needs --out DIR: the folder of the run to continue');
  if (opts.force) throw new UsageError('--resume and --force exclude each other: --force would overwrite the run that --resume continues');
  const file = join(opts.out, MODEL_FILE);
  if (!existsSync(opts.out)) throw new UsageError(`--out ${opts.out}: no such folder to resume`);
  if (!existsSync(file)) throw new UsageError(`--out ${opts.out}: no ${MODEL_FILE} checkpoint to resume from (start the run again with --force)`);
  return loadCheckpoint(file);
}

/**
 * Keeps metrics.csv consistent with the checkpoint a run resumes from: rows after its step (written after the
 * last checkpoint by a run that was killed) and a half-written last line are dropped, atomically.
 */
export function trimMetricsForResume(path: string, step: number): void {
  if (!existsSync(path)) return;
  const text = readFileSync(path, 'utf8');
  const complete = text.split('\n').slice(0, -1); // the last piece is '' (text ends with a newline) or a partial row
  const header = METRICS_COLUMNS.join(',');
  if (complete.length === 0 || complete[0] !== header) {
    throw new UsageError(`${path}: not a metrics file of this tool (unexpected header); cannot resume into it`);
  }
  const kept = [header, ...complete.slice(1).filter((l) => {
    const s = Number(l.split(',')[0]);
    return l.split(',').length === METRICS_COLUMNS.length && Number.isInteger(s) && s <= step;
  })];
  const out = `${kept.join('\n')}\n`;
  if (out !== text) writeFileAtomic(path, out);
}

export async function trainCommand(config: TrainConfig, opts: RunOptions): Promise<number> {
  const source = opts.configPath;
  // 1. Everything that can reject the input, before anything is written.
  const checkpoint = opts.resume ? resumeCheckpoint(opts) : null;
  const dataDir = await acquireDataDir({ cliDir: opts.data, configPath: opts.configPath, data: config.data, signal: opts.signal, log });
  const splits = loadSplits(config.data, dataDir, source);
  const plan = checkSplitsFit(config, splits, source);
  const counts = { train: splits.train.count, val: splits.val.count, test: splits.test.count };
  const normalization = computeNormalization(splits.train);
  if (checkpoint) checkResumable(checkpoint, config, counts, normalization);
  if (opts.signal.aborted) {
    log('cifar-mlp: interrupted before the run started; nothing was written');
    return 130;
  }
  const { backend, skipped } = await selectBackendOrExplain(config.kernels.backend, config.kernels.threads);

  // 2. The run.
  let outDir: string;
  try {
    outDir = prepareOutDir(config.name, opts.out, opts);
  } catch (e) {
    await backend.dispose();
    throw e;
  }
  if (checkpoint) trimMetricsForResume(join(outDir, 'metrics.csv'), checkpoint.step);
  log(`cifar-mlp: ${config.name}: data ${dataDir} (train ${splits.train.count}, val ${splits.val.count}, test ${splits.test.count}); ` +
    `backend ${backend.name} (${backend.threads + 1} thread${backend.threads ? 's' : ''}${blasMissing(skipped)})` +
    (skipped.length ? `; not loaded: ${skipped.map((s) => s.name).join(', ')}` : '') + `; out ${outDir}` +
    (checkpoint ? `; resuming at step ${checkpoint.step} of ${plan.totalSteps}` : ''));
  const modelPath = join(outDir, MODEL_FILE);
  const saveOpts = {
    config, totalSteps: plan.totalSteps, normalization,
    data: { ...counts, dir: resolve(dataDir) },
    classes: readClassNames(dataDir) ?? undefined,
  };
  const summary = await train(config, splits, backend, outDir, opts.signal, checkpoint, (net, step) => saveCheckpoint(modelPath, net, { ...saveOpts, step }), normalization);
  await renderRunArtifacts(outDir, log);
  const f = summary.final;
  log(`cifar-mlp: ${summary.status} after ${summary.steps} steps in ${summary.seconds.toFixed(1)}s (${Math.round(summary.samplesPerSecond)} samples/s on ${summary.backend})` +
    (f ? `; accuracy train ${pct(f.train.accuracy)}, val ${pct(f.val.accuracy)}, test ${pct(f.test.accuracy)}` : summary.error ? `; ${summary.error}` : '') +
    (summary.status === 'interrupted' ? `; continue with --out ${outDir} --resume` : '') +
    `; results in ${outDir}`);
  return exitCodeOf(summary.status);
}

async function train(
  config: TrainConfig, splits: Splits, backend: KernelBackend, outDir: string, signal: AbortSignal, checkpoint: Checkpoint | null,
  onCheckpoint: Parameters<typeof runTraining>[0]['onCheckpoint'], normalization: ReturnType<typeof computeNormalization>,
): Promise<Summary> {
  const progress = trainingProgress(config.name);
  try {
    const { summary } = await runTraining({
      config, splits, backend, outDir, signal, normalization, onCheckpoint,
      onStep: (s, plan) => progress.update(s, plan),
      ...(checkpoint ? { resume: { step: checkpoint.step, params: checkpoint.params } } : {}),
    });
    return summary;
  } finally {
    progress.stop();
    await backend.dispose();
  }
}

/**
 * `cifar-mlp run <train config>`: one training run, from data to summary.json, model.json and plots.
 *
 * Order of operations: everything that can reject the input (config, resume checkpoint, data files, sizes that
 * only the data tell, the kernel backend) is checked BEFORE the output folder is created, so a bad input
 * writes nothing. Then the run streams metrics.csv, saves model.json every `checkpoint.every` steps and at the
 * end (atomically), and writes summary.json (atomically) whatever the outcome: completed (exit 0), diverged
 * (exit 3), interrupted by SIGINT/SIGTERM (exit 130; continue it with `--resume`), failed (exit 1).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../../config/errors.js';
import type { TrainConfig } from '../../config/schema.js';
import { acquireDataDir } from '../../data/acquire.js';
import { computeNormalization, type Normalization } from '../../data/normalization.js';
import { loadSplits, type Splits } from '../../data/splits.js';
import { selectBackend, type BackendName } from '../../kernels/select.js';
import type { KernelBackend } from '../../kernels/backend.js';
import { checkResumable, loadCheckpoint, MODEL_FILE, readClassNames, saveCheckpoint, type Checkpoint } from '../../model/checkpoint.js';
import { checkSplitsFit, type RunPlan } from '../../pipeline/plan.js';
import { runTraining, type Summary } from '../../pipeline/train.js';
import { METRICS_COLUMNS } from '../../stages/metrics-sink.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { FileReadError, readRegularText } from '../../util/read-file.js';
import { prepareOutDir, type OutDir } from '../out-dir.js';
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

export const exitCodeOf = (s: Summary['status']) => ({ completed: 0, interrupted: 130, diverged: 3, pruned: 0, failed: 1, running: 1 })[s];

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

/** Largest metrics.csv a resume reads. */
const MAX_METRICS_BYTES = 1024 * 2 ** 20;

/**
 * Keeps metrics.csv consistent with the checkpoint a run resumes from: every complete row (one that ends with its
 * newline) up to the checkpoint's step is kept; rows after it (written after the last checkpoint by a run that was
 * killed) and a partial last line are dropped, atomically.
 */
export function trimMetricsForResume(path: string, step: number): void {
  let text: string;
  try {
    text = readRegularText(path, { maxBytes: MAX_METRICS_BYTES, expected: 'a metrics.csv file' });
  } catch (e) {
    if (e instanceof FileReadError && e.code === 'ENOENT') return;
    throw e instanceof FileReadError ? new UsageError(`${e.message}; cannot resume into it`) : e;
  }
  const complete = text.split('\n').slice(0, -1); // the last piece is '' (text ends with a newline) or a partial row
  const header = METRICS_COLUMNS.join(',');
  if (complete.length === 0) {
    // Killed before its first row was complete: start the file afresh (the run writes the header again).
    if (text !== '') writeFileAtomic(path, '');
    return;
  }
  if (complete[0] !== header) {
    throw new UsageError(`${path}: not a metrics file of this tool (unexpected header); cannot resume into it`);
  }
  const kept = [header, ...complete.slice(1).filter((l) => {
    const s = Number(l.split(',')[0]);
    return l.split(',').length === METRICS_COLUMNS.length && Number.isInteger(s) && s <= step;
  })];
  const out = `${kept.join('\n')}\n`;
  if (out !== text) writeFileAtomic(path, out);
}

/**
 * The checkpoint to resume from once the folder is locked: another process may have moved the run on between the
 * first read and the lock (a run finishing as this one starts), so model.json is read and checked again.
 */
function checkpointUnderLock(first: Checkpoint, config: TrainConfig, counts: { train: number; val: number; test: number }, normalization: Normalization): Checkpoint {
  const now = loadCheckpoint(first.path);
  if (now.step === first.step && now.createdAt === first.createdAt) return first;
  checkResumable(now, config, counts, normalization);
  return now;
}

export async function trainCommand(config: TrainConfig, opts: RunOptions): Promise<number> {
  const source = opts.configPath;
  // 1. Everything that can reject the input, before anything is written.
  const checkpoint = opts.resume ? resumeCheckpoint(opts) : null;
  // A resumed run reads the data it was trained on (recorded in the checkpoint) unless --data says otherwise.
  const trainedOn = checkpoint?.data.dir !== undefined && existsSync(checkpoint.data.dir) ? checkpoint.data.dir : undefined;
  const dataDir = await acquireDataDir({ cliDir: opts.data ?? trainedOn, configPath: opts.configPath, data: config.data, signal: opts.signal, log });
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

  // 2. The run, in a folder locked for this process.
  let out: OutDir;
  try {
    out = prepareOutDir(config.name, opts.out, { ...opts, log });
  } catch (e) {
    await backend.dispose();
    throw e;
  }
  try {
    let resumeFrom = checkpoint;
    try {
      if (resumeFrom) {
        resumeFrom = checkpointUnderLock(resumeFrom, config, counts, normalization);
        trimMetricsForResume(join(out.dir, 'metrics.csv'), resumeFrom.step);
      }
    } catch (e) {
      await backend.dispose();
      throw e;
    }
    return await runInFolder(config, opts, out.dir, { dataDir, splits, plan, counts, normalization, backend, skipped, checkpoint: resumeFrom });
  } finally {
    out.lock.release();
  }
}

interface Prepared {
  dataDir: string;
  splits: Splits;
  plan: RunPlan;
  counts: { train: number; val: number; test: number };
  normalization: Normalization;
  backend: KernelBackend;
  skipped: { name: string }[];
  checkpoint: Checkpoint | null;
}

async function runInFolder(config: TrainConfig, opts: RunOptions, outDir: string, p: Prepared): Promise<number> {
  const { dataDir, splits, plan, counts, normalization, backend, skipped, checkpoint } = p;
  log(`cifar-mlp: ${config.name}: data ${dataDir} (train ${splits.train.count}, val ${splits.val.count}, test ${splits.test.count}); ` +
    `backend ${backend.name} (${backend.threads + 1} thread${backend.threads ? 's' : ''})` +
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
    (f ? `; accuracy train ${pct(f.train.accuracy)}, val ${pct(f.val.accuracy)}, test ${f.test ? pct(f.test.accuracy) : 'not evaluated'}` : summary.error ? `; ${summary.error}` : '') +
    (summary.status === 'interrupted' ? `; continue with --out ${outDir} --resume` : '') +
    `; results in ${outDir}`);
  return exitCodeOf(summary.status);
}

async function train(
  config: TrainConfig, splits: Splits, backend: KernelBackend, outDir: string, signal: AbortSignal, checkpoint: Checkpoint | null,
  onCheckpoint: Parameters<typeof runTraining>[0]['onCheckpoint'], normalization: Normalization,
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

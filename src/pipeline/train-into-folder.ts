/**
 * One training run, from a config to its output folder: what `cifar-mlp run <train config>` and the library's
 * `train()` both do (they differ only in how they report).
 *
 * Order of operations: everything that can reject the input (config, resume checkpoint, data files, sizes that
 * only the data tell, the kernel backend) is checked BEFORE the output folder is created, so a bad input
 * writes nothing. Then the run streams metrics.csv, saves model.json every `checkpoint.every` steps and at the
 * end (atomically), writes summary.json (atomically) whatever the outcome (completed, diverged, interrupted by the
 * signal: continue it with `resume`, failed), and draws the plots and report.html.
 * A config with ensemble.members > 1 trains its members one after the other (members-into-folder.ts).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../util/errors.js';
import type { TrainConfig } from '../config/schema.js';
import { acquireDataDir } from '../data/acquire.js';
import { CLASSES, PIXELS } from '../data/cifar.js';
import { computeNormalization, type Normalization } from '../data/normalization.js';
import { loadSplits, type Splits } from '../data/splits.js';
import type { KernelBackend } from '../kernels/backend.js';
import { describeSelection, selectBackendOrExplain } from '../kernels/choose.js';
import { backendChoice, type BackendChoice, type Selection } from '../kernels/select.js';
import { checkResumable, loadCheckpoint, MODEL_FILE, readClassNames, saveCheckpoint, type Checkpoint } from '../model/checkpoint.js';
import { renderRunArtifacts } from '../report/run-artifacts.js';
import { METRICS_COLUMNS } from '../stages/metrics-sink.js';
import type { EvaluatedStep } from '../stages/types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { prepareOutDir, type OutDir } from '../util/out-dir.js';
import { FileReadError, readRegularText } from '../util/read-file.js';
import { checkSplitsFit, type RunPlan } from './plan.js';
import { runTraining, type ResumeState, type Summary } from './train.js';

/** A progress display of one network's training: every update step, then stop. */
export interface StepProgress {
  update(s: EvaluatedStep, plan: RunPlan): void;
  stop(): void;
}

/** Where a run is, what it reads and how it reports. */
export interface TrainFolderOptions {
  /** The CIFAR-10 folder (else the config's data.dir, $CIFAR10_DIR, ./data/cifar-10-batches-bin, else download). */
  data?: string;
  /** The output folder (default runs/<name>, or runs/<name>-<time> when taken). */
  out?: string;
  /** Replace the run files of a non-empty `out`. */
  force?: boolean;
  /** Continue the interrupted run in `out` from its model.json. */
  resume?: boolean;
  /** The config file, when the config came from one: a relative data.dir is taken from its folder, messages name it. */
  configPath?: string;
  /** Stops the run after the current step (it is then 'interrupted' and resumable). */
  signal: AbortSignal;
  /** Lines worth telling (start line, warnings, per-member results). */
  log: (line: string) => void;
  /** A progress display per network trained, named `label` (the run's name, or "<name> member-<i>/<n>"). */
  progress?: (label: string) => StepProgress;
  /** Draw a download's progress bar on stderr (default true). */
  downloadProgress?: boolean;
}

export interface TrainFolderResult {
  summary: Summary;
  outDir: string;
}

/** `source` of messages about the config: its file, else "config". */
export const configSource = (opts: Pick<TrainFolderOptions, 'configPath'>) => opts.configPath ?? 'config';

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

/** What a resumed run continues from a verified checkpoint: its network, velocities and snapshots. */
export function resumeStateOf(cp: Checkpoint): ResumeState {
  return { step: cp.step, params: cp.params!, velocity: cp.velocity, members: cp.members };
}

/** The folder a `resume` continues, checked: --out given, without --force, and there. */
export function resumeFolder(opts: Pick<TrainFolderOptions, 'out' | 'force'>): string {
  if (!opts.out) throw new UsageError('--resume needs --out DIR: the folder of the run to continue');
  if (opts.force) throw new UsageError('--resume and --force exclude each other: --force would overwrite the run that --resume continues');
  if (!existsSync(opts.out)) throw new UsageError(`--out ${opts.out}: no such folder to resume`);
  return opts.out;
}

/** The checkpoint a `resume` continues: `<out>/model.json`, verified. */
function resumeCheckpoint(opts: TrainFolderOptions): Checkpoint {
  const out = resumeFolder(opts);
  const file = join(out, MODEL_FILE);
  if (!existsSync(file)) throw new UsageError(`--out ${out}: no ${MODEL_FILE} checkpoint to resume from (start the run again with --force)`);
  return loadCheckpoint(file);
}

/**
 * Runs `body` in the run's output folder, claimed and locked for this process (util/out-dir.ts) until it settles.
 * The backend is disposed here when the folder cannot be claimed; once `body` runs, disposing it is body's job.
 */
export async function inOutDir<T>(config: TrainConfig, opts: TrainFolderOptions, backend: KernelBackend, body: (dir: string) => Promise<T>): Promise<T> {
  let out: OutDir;
  try {
    out = prepareOutDir(config.name, opts.out, opts);
  } catch (e) {
    await backend.dispose();
    throw e;
  }
  try {
    return await body(out.dir);
  } finally {
    out.lock.release();
  }
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

/**
 * The data of a run and what only the data tell (the plan's fit, normalisation), checked before anything is written.
 * A resumed run reads the data it was trained on (`trainedOn`, recorded in its checkpoint) unless `data` says otherwise.
 */
export async function prepareData(config: TrainConfig, opts: Omit<TrainFolderOptions, 'progress'>, trainedOn?: string) {
  const source = configSource(opts);
  const dataDir = await acquireDataDir({
    cliDir: opts.data ?? trainedOn, configPath: opts.configPath, data: config.data, signal: opts.signal, log: opts.log,
    downloadProgress: opts.downloadProgress,
  });
  const splits = loadSplits(config.data, dataDir, source);
  const plan = checkSplitsFit(config, splits, source);
  const counts = { train: splits.train.count, val: splits.val.count, test: splits.test.count };
  const normalization = computeNormalization(splits.train);
  return { dataDir, splits, plan, counts, normalization };
}

/**
 * Trains `config` into its output folder. Resolves with the run's summary (whatever its status) and folder, or with
 * null when the signal was aborted before anything was written. Rejects with a UsageError (bad input: nothing
 * written) or another error (a file that cannot be written…).
 */
export async function trainIntoFolder(config: TrainConfig, opts: TrainFolderOptions): Promise<TrainFolderResult | null> {
  if (config.ensemble.members > 1) {
    const { trainMembersIntoFolder } = await import('./members-into-folder.js');
    return trainMembersIntoFolder(config, opts);
  }
  // 1. Everything that can reject the input, before anything is written.
  const checkpoint = opts.resume ? resumeCheckpoint(opts) : null;
  const trainedOn = checkpoint?.data.dir !== undefined && existsSync(checkpoint.data.dir) ? checkpoint.data.dir : undefined;
  const { dataDir, splits, plan, counts, normalization } = await prepareData(config, opts, trainedOn);
  if (checkpoint) checkResumable(checkpoint, config, counts, normalization);
  if (opts.signal.aborted) return null;
  const selection = await selectBackendOrExplain(config.kernels.backend, config.kernels.threads,
    { n: config.train.batchSize, d: PIXELS, m: config.model.hidden, k: CLASSES });
  const { backend } = selection;

  // 2. The run, in a folder locked for this process.
  return inOutDir(config, opts, backend, async (outDir) => {
    let resumeFrom = checkpoint;
    try {
      if (resumeFrom) {
        resumeFrom = checkpointUnderLock(resumeFrom, config, counts, normalization);
        trimMetricsForResume(join(outDir, 'metrics.csv'), resumeFrom.step);
      }
    } catch (e) {
      await backend.dispose();
      throw e;
    }
    const summary = await runInFolder(config, opts, outDir, { dataDir, splits, plan, counts, normalization, selection, checkpoint: resumeFrom });
    return { summary, outDir };
  });
}

interface Prepared {
  dataDir: string;
  splits: Splits;
  plan: RunPlan;
  counts: { train: number; val: number; test: number };
  normalization: Normalization;
  selection: Selection;
  checkpoint: Checkpoint | null;
}

async function runInFolder(config: TrainConfig, opts: TrainFolderOptions, outDir: string, p: Prepared): Promise<Summary> {
  const { dataDir, splits, plan, counts, normalization, selection, checkpoint } = p;
  const { backend } = selection;
  opts.log(`cifar-mlp: ${config.name}: data ${dataDir} (train ${splits.train.count}, val ${splits.val.count}, test ${splits.test.count}); ` +
    `${describeSelection(selection)}; out ${outDir}` +
    (checkpoint ? `; resuming at step ${checkpoint.step} of ${plan.totalSteps}` : ''));
  const modelPath = join(outDir, MODEL_FILE);
  const saveOpts = {
    config, totalSteps: plan.totalSteps, normalization,
    data: { ...counts, dir: resolve(dataDir) },
    classes: readClassNames(dataDir) ?? undefined,
  };
  const summary = await train(
    config, splits, backend, outDir, opts, checkpoint,
    (net, step, _norm, members) => saveCheckpoint(modelPath, net, { ...saveOpts, step, members }), normalization,
    backendChoice(config.kernels.backend, selection),
  );
  await renderRunArtifacts(outDir, opts.log);
  return summary;
}

async function train(
  config: TrainConfig, splits: Splits, backend: KernelBackend, outDir: string, opts: TrainFolderOptions, checkpoint: Checkpoint | null,
  onCheckpoint: Parameters<typeof runTraining>[0]['onCheckpoint'], normalization: Normalization,
  choice: BackendChoice,
): Promise<Summary> {
  const progress = opts.progress?.(config.name);
  try {
    const { summary } = await runTraining({
      config, splits, backend, backendChoice: choice, outDir, signal: opts.signal, normalization, onCheckpoint,
      ...(progress ? { onStep: (s: EvaluatedStep, plan: RunPlan) => progress.update(s, plan) } : {}),
      ...(checkpoint ? { resume: resumeStateOf(checkpoint) } : {}),
    });
    return summary;
  } finally {
    progress?.stop();
    await backend.dispose();
  }
}

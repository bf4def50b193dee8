/**
 * Evaluating a trained model file on the splits its config defines: accuracy, accuracy per class and a confusion
 * matrix per split (`cifar-mlp evaluate`, the library's `evaluate()`). A model file holding an ensemble (snapshots,
 * or the members of an ensemble run) predicts with the average of its networks.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { METRICS_FILE } from '../formats/metrics-csv.js';
import { writeConfusionFigure } from '../report/confusion-plot.js';
import { writeReportPage } from '../report/page.js';
import { acquireDataDir } from '../data/acquire.js';
import { CLASSES, type Dataset } from '../data/cifar.js';
import { loadSplits, type Splits } from '../data/splits.js';
import type { KernelBackend } from '../kernels/backend.js';
import { readClassNames } from '../data/class-names.js';
import { deliveredMembers, loadCheckpoint, modelFromCheckpoint, type Checkpoint } from '../formats/model-file.js';
import { argmax, Predictor } from '../model/predictor.js';
import { writeEvaluation, type EvaluationFile, type SplitEvaluation } from '../formats/evaluation.js';
import type { BackendName } from '../kernels/names.js';
import { selectBackendOrExplain } from '../model/speed-probe.js';
import { kernelThreads } from '../pipeline/plan.js';
import { modelTarget } from '../search/folder.js';
import { UsageError } from '../util/errors.js';
import type { FolderLock } from '../util/folder-lock.js';
import { claimDir } from '../util/out-dir.js';

/** Accuracy, per-class accuracy and confusion matrix of a model on a dataset. */
export async function evaluateSplit(predictor: Predictor, data: Dataset, classes: string[]): Promise<SplitEvaluation> {
  const confusion = Array.from({ length: CLASSES }, () => new Array<number>(CLASSES).fill(0));
  let correct = 0;
  await predictor.forEach(data, (i, p) => {
    const y = data.labels[i], guess = argmax(p);
    confusion[y][guess]++;
    if (y === guess) correct++;
  });
  const perClass = Object.fromEntries(classes.map((name, c) => {
    const n = confusion[c].reduce((a, b) => a + b, 0);
    return [name, { records: n, accuracy: n ? confusion[c][c] / n : NaN }];
  }));
  return { records: data.count, accuracy: data.count ? correct / data.count : NaN, perClass, confusion };
}

/** What an evaluation reads: the model, its data and the class names. */
export interface EvaluationInputs {
  cp: Checkpoint;
  dataDir: string;
  splits: Splits;
  classes: string[];
}

export interface EvaluationInputOptions {
  /** The CIFAR-10 folder (default: the one the model was trained on when it still exists, else the usual search). */
  data?: string;
  log: (line: string) => void;
  /** Cancels a download. */
  signal?: AbortSignal;
  downloadProgress?: boolean;
}

/** A model file (model.json or a folder holding one) and its data. Every problem is a one-line UsageError. */
export async function evaluationInputs(modelPath: string, opts: EvaluationInputOptions): Promise<EvaluationInputs> {
  const cp = loadCheckpoint(modelPath);
  // The data: `data`, else the folder the model was trained on (when it still exists), else the usual search.
  const cliDir = opts.data ?? (cp.data.dir && existsSync(cp.data.dir) ? cp.data.dir : undefined);
  const dataDir = await acquireDataDir({ cliDir, data: cp.config.data, log: opts.log, signal: opts.signal, downloadProgress: opts.downloadProgress });
  const splits = loadSplits(cp.config.data, dataDir, `${cp.path}: config`);
  if (splits.train.count !== cp.data.train || splits.val.count !== cp.data.val || splits.test.count !== cp.data.test) {
    opts.log(`cifar-mlp: warning: ${dataDir} gives ${splits.train.count}/${splits.val.count}/${splits.test.count} train/val/test records, ` +
      `the model was trained with ${cp.data.train}/${cp.data.val}/${cp.data.test}`);
  }
  return { cp, dataDir, splits, classes: readClassNames(dataDir) ?? cp.classes };
}

/** The model's evaluation on every non-empty split (train, val, test), on `backend` (disposed at the end). */
export async function evaluateSplits(inputs: EvaluationInputs, backend: KernelBackend): Promise<Record<string, SplitEvaluation>> {
  const results: Record<string, SplitEvaluation> = {};
  try {
    const predictor = new Predictor(await modelFromCheckpoint(inputs.cp, backend), inputs.cp.normalization);
    for (const [name, data] of Object.entries(inputs.splits)) {
      if (data.count > 0) results[name] = await evaluateSplit(predictor, data, inputs.classes);
    }
  } finally {
    await backend.dispose();
  }
  return results;
}

/**
 * confusion-<split>.svg/png beside the CSVs, and the report page of a run folder again (it shows the test split's
 * matrix); a failure is a warning: the evaluation is written.
 */
async function drawConfusion(outDir: string, e: EvaluationFile, log: (line: string) => void): Promise<void> {
  try {
    for (const [split, r] of Object.entries(e.splits)) await writeConfusionFigure(outDir, split, r.confusion, e.classes, `${e.name}: confusion matrix, ${split} split (${r.records} records)`);
    if (existsSync(join(outDir, METRICS_FILE))) await writeReportPage(outDir, { renderPlots: false });
  } catch (err) {
    log(`cifar-mlp: warning: could not draw the confusion matrices in ${outDir}: ${(err as Error).message}`);
  }
}

export interface EvaluateFolderOptions extends EvaluationInputOptions {
  /** Where evaluation.json and confusion-<split>.csv go (default: the model file's folder). */
  out?: string;
  /** Kernel backend (default: the model config's). */
  backend?: BackendName;
}

/**
 * `cifar-mlp evaluate`: the model a path names (model.json, a run folder, a search folder's chosen trial, a trial
 * folder) evaluated on every split, written beside it (or into `out`) as evaluation.json and confusion-<split>.csv,
 * in a folder locked for this process. Every problem with the input is a one-line UsageError before anything is written.
 */
export async function evaluateIntoFolder(target: string, opts: EvaluateFolderOptions): Promise<EvaluationFile & { outDir: string }> {
  const inputs = await evaluationInputs(modelTarget(target, opts.log), opts);
  const { cp } = inputs;
  const outDir = opts.out ?? dirname(cp.path);
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new UsageError(`--out ${outDir}: exists and is not a directory`);
  const { backend } = await selectBackendOrExplain(opts.backend ?? cp.config.kernels.backend, kernelThreads(cp.config.kernels.threads));
  let lock: FolderLock;
  try {
    lock = claimDir(outDir, opts.out ? `--out ${outDir}` : outDir, opts.log);
  } catch (e) {
    await backend.dispose();
    throw e;
  }
  try {
    const splits = await evaluateSplits(inputs, backend);
    const evaluation: EvaluationFile = {
      model: cp.path, name: cp.config.name, step: cp.step, totalSteps: cp.totalSteps,
      networks: deliveredMembers(cp).map((m) => ({ name: m.name, step: m.step })), average: cp.config.ensemble.average,
      dataDir: inputs.dataDir, backend: backend.name, classes: inputs.classes, splits,
    };
    writeEvaluation(outDir, evaluation);
    await drawConfusion(outDir, evaluation, opts.log);
    return { ...evaluation, outDir };
  } finally {
    lock.release();
  }
}

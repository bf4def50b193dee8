/**
 * One network trained into its folder, wherever it runs: a run of `cifar-mlp run`, a member of an ensemble run, a
 * trial of a search. The folder is the caller's (claimed, or a trial's); this is the training stream with the
 * network's model.json: checkpoints all along (runs), or the trained network once it completed (search trials).
 */
import { join, resolve } from 'node:path';
import type { TrainConfig } from '../config/schema.js';
import { readClassNames } from '../data/class-names.js';
import type { Normalization } from '../data/normalization.js';
import type { Splits } from '../data/splits.js';
import { MODEL_FILE, saveCheckpoint, type SaveOptions } from '../formats/model-file.js';
import type { KernelBackend } from '../kernels/backend.js';
import type { BackendChoice } from '../kernels/select.js';
import type { EvaluatedStep } from '../stages/types.js';
import type { RungPlan } from '../stages/rung-gate.js';
import { planRun, type RunPlan } from './plan.js';
import { runTraining, type ResumeState, type TrainingResult } from './train.js';

/** A progress display of one network's training: every update step, then stop. */
export interface StepProgress {
  update(s: EvaluatedStep, plan: RunPlan): void;
  stop(): void;
}

export interface NetworkJob {
  config: TrainConfig;
  splits: Splits;
  normalization: Normalization;
  /** The CIFAR-10 folder the splits come from (recorded in model.json). */
  dataDir: string;
  backend: KernelBackend;
  backendChoice?: BackendChoice;
  /** Where metrics.csv, summary.json, config.yaml and model.json go. */
  dir: string;
  signal?: AbortSignal;
  /** 'checkpoints': model.json at step 0, every checkpoint.every steps and at the end; 'final': once, when completed; 'none'. */
  model: 'checkpoints' | 'final' | 'none';
  resume?: ResumeState;
  progress?: StepProgress;
  /** Called after every update step with the steps done, the run's total and the latest validation accuracy (none before the first evaluation). */
  onStep?: (stepsDone: number, totalSteps: number, valAccuracy?: number) => void;
  rungs?: RungPlan;
  /** Evaluate the finished run on the test split (default true; search trials: false). */
  testFinal?: boolean;
  /** Comment lines at the top of config.yaml. */
  configComment?: string[];
}

/** What model.json records besides the network, for a run of `config` on these splits. */
export function modelFileOptions(job: Pick<NetworkJob, 'config' | 'splits' | 'normalization' | 'dataDir'>, totalSteps: number): Omit<SaveOptions, 'step'> {
  const { train, val, test } = job.splits;
  return {
    config: job.config, totalSteps, normalization: job.normalization,
    data: { train: train.count, val: val.count, test: test.count, dir: resolve(job.dataDir) },
    classes: readClassNames(job.dataDir) ?? undefined,
  };
}

export async function trainNetwork(job: NetworkJob): Promise<TrainingResult> {
  const modelPath = join(job.dir, MODEL_FILE);
  const saveOptions = modelFileOptions(job, planRun(job.config, job.splits.train.count).totalSteps);
  const { progress, onStep } = job;
  let valAccuracy: number | undefined;
  try {
    const result = await runTraining({
      config: job.config, splits: job.splits, normalization: job.normalization, backend: job.backend, backendChoice: job.backendChoice,
      outDir: job.dir, signal: job.signal, testFinal: job.testFinal, rungs: job.rungs, resume: job.resume, configComment: job.configComment,
      ...(job.model === 'checkpoints' ? {
        onCheckpoint: (net, step, _norm, members) => saveCheckpoint(modelPath, net, { ...saveOptions, step, members }),
      } : {}),
      ...(progress || onStep ? {
        onStep: (s: EvaluatedStep, plan: RunPlan) => {
          progress?.update(s, plan);
          if (s.metrics) valAccuracy = s.metrics.val.accuracy;
          onStep?.(s.step, plan.totalSteps, valAccuracy);
        },
      } : {}),
    });
    const { summary } = result;
    if (job.model === 'final' && summary.status === 'completed') {
      await saveCheckpoint(modelPath, result.network, { ...saveOptions, step: summary.steps });
    }
    return result;
  } finally {
    progress?.stop();
  }
}

/** `evaluate()`: a trained model's accuracy on each split, per class, with confusion matrices (as `cifar-mlp evaluate`). */
import { selectBackendOrExplain } from '../model/speed-probe.js';
import type { BackendName } from '../kernels/names.js';
import { evaluateSplits, evaluationInputs } from '../experiment/evaluate-model.js';
import type { SplitEvaluation } from '../formats/evaluation.js';
import { modelTarget } from '../search/folder.js';
import { kernelThreads } from '../pipeline/plan.js';
import { checkArgument, evaluateOptionsArgument, modelPathArgument } from './arguments.js';

export interface EvaluateOptions {
  /** The CIFAR-10 folder (default: the one the model was trained on when it still exists, else the usual search). */
  data?: string;
  /** Kernel backend (default: the model config's kernels.backend). */
  backend?: BackendName;
  /** Cancels a download of the data. */
  signal?: AbortSignal;
  /** Receives notes (which trial a search folder stands for, a data size that differs from training); default: none. */
  log?: (line: string) => void;
}

export interface Evaluation {
  /** The model file evaluated. */
  model: string;
  /** Its update step, of the run's totalSteps. */
  step: number;
  totalSteps: number;
  dataDir: string;
  backend: string;
  classes: string[];
  /** Each split the model's config defines and that holds records: accuracy (a fraction), per class, confusion[true][predicted]. */
  splits: { train?: SplitEvaluation; val?: SplitEvaluation; test?: SplitEvaluation };
}

/**
 * Evaluates a model: a model.json, a run folder, a search folder (its chosen trial) or a search trial folder.
 * Writes nothing (`cifar-mlp evaluate` also writes evaluation.json and confusion-<split>.csv).
 */
export async function evaluate(model: string, options: EvaluateOptions = {}): Promise<Evaluation> {
  checkArgument('evaluate(): model', modelPathArgument, model);
  checkArgument('evaluate(): options', evaluateOptionsArgument, options);
  const log = options.log ?? (() => {});
  const inputs = await evaluationInputs(modelTarget(model, log), { data: options.data, log, signal: options.signal, downloadProgress: false });
  const { cp } = inputs;
  const { backend } = await selectBackendOrExplain(options.backend ?? cp.config.kernels.backend, kernelThreads(cp.config.kernels.threads));
  const name = backend.name;
  const splits = await evaluateSplits(inputs, backend);
  return { model: cp.path, step: cp.step, totalSteps: cp.totalSteps, dataDir: inputs.dataDir, backend: name, classes: inputs.classes, splits };
}

/**
 * cifar-mlp as a library: load and validate configs, train, search, evaluate and predict, with the CLI's checks,
 * output folders and results.
 *
 * ```js
 * import { loadConfig, train } from 'cifar-mlp';
 * const config = loadConfig('config/cycle1.yaml', { kind: 'train', set: ['train.lambda=0.001'] });
 * const summary = await train(config, { out: 'runs/mine', onProgress: (p) => console.log(p.step, p.lr) });
 * console.log(summary.status, summary.final?.test?.accuracy);
 * ```
 */
export { loadConfig, validateConfig, type ConfigSource, type LoadConfigOptions } from './api/config.js';
export type { FolderOptions } from './api/folder-options.js';
export { train, type TrainOptions, type TrainProgress } from './api/train.js';
export { search, type SearchEvent, type SearchOptions, type SearchState } from './api/search.js';
export { evaluate, type EvaluateOptions, type Evaluation } from './api/evaluate.js';
export { loadModel, predict, type ImageSource, type LoadModelOptions, type Model, type Prediction } from './api/predict.js';
export { ConfigError, UsageError } from './util/errors.js';
export { configReference } from './config/doc.js';

export type { AnyConfig, ConfigKind, GradcheckConfig, SearchConfig, TrainConfig } from './config/schema.js';
export type { ParamSpec, SamplerName } from './config/search-schema.js';
export type { BackendName } from './kernels/names.js';
export type { BackendChoice } from './kernels/select.js';
export type { EnsembleResult, FinalMetrics, MemberResult, MemberRun, RunStatus, Summary } from './formats/run-summary.js';
export type { SplitEvaluation } from './formats/evaluation.js';
export type { ChosenTrial, RankedTrial, SearchStatus, SearchSummary, TrialEntry } from './formats/search-summary.js';
export type { TrialRow } from './formats/trials-csv.js';
export type { SplitMetrics } from './model/split-metrics.js';
export type { MetricsRow, StepMetrics } from './formats/metrics-csv.js';

/**
 * The trials of a search: each trial's parameter values and its training config (checked by the training schema),
 * the trial folder names, and the pool sizing (workers, kernel threads per trial).
 */
import { availableParallelism } from 'node:os';
import { ConfigError } from '../util/errors.js';
import { formatIssues } from '../config/load.js';
import { withField } from '../config/paths.js';
import type { SearchConfig, TrainConfig } from '../config/schema.js';
import { trainSchema } from '../config/train-schema.js';
import type { TrialParams } from '../config/search-schema.js';
import { trialId, type PlannedTrial } from '../formats/search-plan.js';
import { kernelThreads } from '../pipeline/plan.js';

/** The base training config with a trial's values set at their paths (not yet validated). */
export function withParams(base: TrainConfig, params: TrialParams): TrainConfig {
  let config = base;
  for (const [path, value] of Object.entries(params)) config = withField(config, path.slice('base.'.length), value);
  return config;
}

/** The training schema's problems with a trial's config, one line each naming the trial and the field; [] when none. */
export function trialConfigProblems(base: TrainConfig, t: PlannedTrial, source: string): string[] {
  const r = trainSchema.safeParse(withParams(base, t.params), { reportInput: true });
  if (r.success) return [];
  return formatIssues(`${source}: trial ${t.trial}`, r.error.issues.map((i) => ({ ...i, path: ['base', ...i.path] })));
}

/** Throws a ConfigError (exit 2) naming every trial whose values the training schema rejects. */
export function checkTrialConfigs(base: TrainConfig, trials: PlannedTrial[], source = 'search'): void {
  const problems = trials.flatMap((t) => trialConfigProblems(base, t, source));
  if (problems.length) throw new ConfigError(problems);
}

/** The training config of one trial: its values set, named after the search and the trial, with its kernel threads. */
export function trialConfig(config: SearchConfig, t: PlannedTrial, threads: number, total: number): TrainConfig {
  const c = trainSchema.parse(withParams(config.base, t.params));
  return { ...c, name: `${config.name}-trial-${trialId(t.trial, total)}`, kernels: { ...c.kernels, threads } };
}

export interface PoolSize {
  /** Trials at once. */
  workers: number;
  /** Kernel threads per trial. */
  threadsPerTrial: number;
}

/**
 * Workers: the config's `workers` (0 = cores), never more than the trials to run.
 * Kernel threads per trial: base.kernels.threads when set, else max(1, floor(cores / workers)),
 * so that workers × threads stays within the cores.
 */
export function poolSize(opts: { workers: number; kernelThreads: number; pending: number; cores?: number }): PoolSize {
  const cores = Math.max(1, opts.cores ?? availableParallelism());
  const wanted = opts.workers > 0 ? opts.workers : cores;
  const workers = Math.max(1, Math.min(wanted, opts.pending));
  return { workers, threadsPerTrial: kernelThreads(opts.kernelThreads, workers, cores) };
}

/**
 * A search as a study, in Optuna's sense: it is asked for the next trial to run and told each trial's rung reports
 * and result; the sampler proposes values, the pruner decides at the rungs, and the study keeps the results. It
 * knows no files and no threads: storage.ts keeps its plan and records on disk, scheduler.ts runs its trials on an
 * executor.
 *
 * The plan: random and grid plan every trial up front; tpe plans its startup trials, then proposes each further
 * trial from the results so far when it is asked. Trials whose latest result is completed, pruned or diverged are
 * done; all others (failed, interrupted, never started) are asked again.
 */
import type { SearchConfig } from '../config/search-schema.js';
import type { TrainConfig } from '../config/schema.js';
import type { RungRecord } from '../formats/rungs-csv.js';
import type { PlannedTrial, SearchPlan } from '../formats/search-plan.js';
import { PLAN_VERSION, trialId } from '../formats/search-plan.js';
import type { RankedTrial } from '../formats/search-summary.js';
import type { RowStatus, TrialRow } from '../formats/trials-csv.js';
import { planRun } from '../pipeline/plan.js';
import { resolveSpace } from './narrow.js';
import { AshaPruner } from './pruner.js';
import { latestRows, observations, rankTrials } from './ranking.js';
import { makeSampler, type Sampler } from './samplers.js';
import type { ProgressState } from './progress.js';
import { paramsLabel } from './space.js';
import { checkTrialConfigs, trialConfig, trialConfigProblems } from './trial-config.js';
import type { TrialResult, TrialTask } from './types.js';

/** The parts of a config that define the trial list and what each trial computes. */
export function resumeKey(c: SearchConfig): unknown {
  const { kernels: _k, name: _n, ...base } = c.base;
  return { seed: c.seed, trials: c.trials, space: c.space, pruning: c.pruning, base };
}

/** The plan of a new search: the space (narrowed by `space.from`), the sampler's first trials, checked. */
export function planSearch(config: SearchConfig, log?: (line: string) => void, source = 'search'): SearchPlan {
  const resolved = resolveSpace(config.space, log);
  const sampler = makeSampler({ ...config.space, params: resolved.params }, config.trials, config.seed);
  const trials = sampler.initial().map((params, i) => ({ trial: i + 1, params }));
  checkTrialConfigs(config.base, trials, source);
  return {
    version: PLAN_VERSION,
    name: config.name,
    seed: config.seed,
    sampler: config.space.sampler,
    space: resolved.params,
    spaceSource: resolved.source,
    total: sampler.total,
    trials,
    key: resumeKey(config),
    createdAt: new Date().toISOString(),
  };
}

const DONE = new Set<RowStatus>(['completed', 'diverged', 'pruned']);

/** A trial's row from its result (not for 'interrupted' results: those are not rows). */
export function trialRow(plan: PlannedTrial, r: TrialResult): TrialRow {
  if (r.status === 'interrupted') throw new Error(`trial ${plan.trial} was interrupted: not a result`);
  const finite = (v: number | undefined | null): number | null => (v !== undefined && v !== null && Number.isFinite(v) ? v : null);
  return {
    trial: plan.trial,
    params: { ...plan.params },
    status: r.status,
    train_acc: finite(r.final?.train.accuracy),
    val_acc: finite(r.final?.val.accuracy ?? r.pruned?.valAccuracy),
    train_cost: finite(r.final?.train.cost),
    val_cost: finite(r.final?.val.cost),
    steps: finite(r.steps),
    total_steps: finite(r.totalSteps),
    seconds: finite(r.seconds === undefined ? undefined : Math.round(r.seconds * 1000) / 1000),
    backend: r.backend || null,
    threads: finite(r.threads),
    reason: r.reason ? r.reason.replace(/\s+/g, ' ').trim() : null,
  };
}

export interface StudyOptions {
  config: SearchConfig;
  plan: SearchPlan;
  /** Rows of an earlier session (trials.csv), latest last; rows of trials outside the plan are ignored. */
  rows?: TrialRow[];
  /** Pruning decisions of an earlier session (rungs.csv). */
  rungs?: RungRecord[];
  /** Validation records (for the pruner's noise tolerance). */
  valRecords?: number | null;
  /** Training records (to know each trial's length, hence its rungs, when it is given in epochs). */
  trainRecords?: number;
}

export class Study {
  readonly config: SearchConfig;
  readonly plan: SearchPlan;
  readonly pruner: AshaPruner | null;
  private readonly sampler: Sampler;
  private readonly rows: Map<number, TrialRow>;
  private readonly planned: Map<number, PlannedTrial>;
  /** Planned trials without a result, in trial order. */
  private readonly waiting: PlannedTrial[];
  private readonly trainRecords: number | undefined;

  constructor(o: StudyOptions) {
    this.config = o.config;
    this.plan = o.plan;
    this.trainRecords = o.trainRecords;
    this.planned = new Map(o.plan.trials.map((t) => [t.trial, t]));
    const previous = (o.rows ?? []).filter((r) => this.planned.has(r.trial)).map((r) => ({ ...r, params: this.planned.get(r.trial)!.params }));
    this.rows = latestRows(previous);
    this.waiting = o.plan.trials.filter((t) => !DONE.has(this.rows.get(t.trial)?.status as RowStatus));
    for (const t of this.waiting) this.rows.delete(t.trial); // failed trials run again: they are not results until they do
    this.pruner = o.config.pruning.rule === 'asha' ? new AshaPruner({ ...o.config.pruning, valRecords: o.valRecords ?? null }, o.rungs ?? []) : null;
    this.sampler = makeSampler({ ...o.config.space, params: o.plan.space }, o.config.trials, o.config.seed);
  }

  get total(): number {
    return this.plan.total;
  }

  /** Trials with a result. */
  get done(): number {
    return this.rows.size;
  }

  /** The searched fields' config paths, in column order. */
  get paths(): string[] {
    return Object.keys(this.plan.space);
  }

  /** The latest row of every trial with a result. */
  results(): ReadonlyMap<number, TrialRow> {
    return this.rows;
  }

  ranking(): RankedTrial[] {
    return rankTrials(this.rows.values());
  }

  /** Where the study stands, for a progress display. */
  progressState(running: number): ProgressState {
    const best = this.ranking()[0];
    return { total: this.total, done: this.done, running, best: best ? { valAcc: best.val_acc!, label: this.label(best) } : null };
  }

  label(t: PlannedTrial): string {
    return paramsLabel(this.plan.space, t.params);
  }

  /**
   * The next trial to run, or null when there is none: a planned one without a result, else the sampler's next
   * proposal (one the training schema accepts, if any of 20 is). `proposed`: the plan grew (store it).
   */
  ask(): { trial: PlannedTrial; proposed: boolean } | null {
    const t = this.waiting.shift();
    if (t) return { trial: t, proposed: false };
    if (this.plan.trials.length >= this.total) return null;
    const trial = this.plan.trials.length + 1;
    let proposal: PlannedTrial = { trial, params: {} };
    for (let attempt = 0; attempt < 20; attempt++) {
      proposal = { trial, params: this.sampler.next(trial, observations(this.rows.values()), attempt) };
      if (trialConfigProblems(this.config.base, proposal, this.config.name).length === 0) break;
    }
    this.plan.trials.push(proposal);
    this.planned.set(trial, proposal);
    return { trial: proposal, proposed: true };
  }

  /** Why the training schema rejects a trial's values (a combination of values, e.g. etaMin > etaMax); [] when it does not. */
  problems(t: PlannedTrial): string[] {
    return trialConfigProblems(this.config.base, t, this.config.name);
  }

  /** What an executor runs for trial `t`: its training config (with its kernel threads), folder, rungs. */
  task(t: PlannedTrial, o: { threadsPerTrial: number; outDir: string; dataDir: string }): TrialTask {
    const config = trialConfig(this.config, t, o.threadsPerTrial, this.total);
    const rungs = this.pruner?.rungsFor(this.totalStepsOf(config)) ?? [];
    return {
      trial: t.trial, params: t.params, config, outDir: o.outDir, dataDir: o.dataDir,
      saveModel: this.config.keepModels !== 0,
      ...(rungs.length ? { rungs } : {}),
    };
  }

  /** Update steps of a trial's whole run, when they can be known here. */
  private totalStepsOf(config: TrainConfig): number | undefined {
    try {
      if (this.trainRecords !== undefined) return planRun(config, this.trainRecords).totalSteps;
    } catch {
      return undefined; // the trial reports the problem itself
    }
    return config.schedule.epochs === undefined ? Math.round((config.schedule.cycles ?? 1) * 2 * config.schedule.ns) : undefined;
  }

  /** A trial at a rung: the pruner's decision; `fresh` when it is a new decision (to be stored). */
  report(trial: number, step: number, valAccuracy: number): { record: RungRecord; fresh: boolean } {
    if (!this.pruner) throw new Error('report: this study does not prune');
    return this.pruner.decide(trial, step, valAccuracy);
  }

  /**
   * Why a result cannot be taken as it is (accuracies outside [0, 1], steps outside the plan, a pruned trial in a study
   * without pruning), or null. A result from another process or machine is plain data: it is checked, not trusted.
   */
  implausible(t: PlannedTrial, r: TrialResult): string | null {
    const share = (v: number | undefined) => v === undefined || (Number.isFinite(v) && v >= 0 && v <= 1);
    const metrics = r.final ? [r.final.train, r.final.val, ...(r.final.test ? [r.final.test] : [])] : [];
    if (!metrics.every((m) => share(m.accuracy)) || !share(r.pruned?.valAccuracy)) return 'an accuracy outside [0, 1]';
    if (r.status === 'completed' && !(r.final && Number.isFinite(r.final.val.accuracy))) return 'completed without a validation accuracy';
    if (r.status === 'pruned' && !this.pruner) return 'pruned in a search without pruning';
    const total = this.totalStepsOf(trialConfig(this.config, t, 1, this.total));
    if (Number.isFinite(r.steps) && (r.steps < 0 || !Number.isInteger(r.steps) || (total !== undefined && r.steps > total))) {
      return `${r.steps} steps, outside the plan's 0..${total ?? '∞'}`;
    }
    return null;
  }

  /** The row of a trial's result, checked: an implausible result is a failed trial. */
  rowOf(t: PlannedTrial, result: TrialResult): TrialRow {
    const why = this.implausible(t, result);
    return trialRow(t, why
      ? { ...result, status: 'failed', final: null, pruned: undefined, reason: `result refused: ${why}${result.reason ? ` (${result.reason})` : ''}` }
      : result);
  }

  /** A trial's result, recorded: its row is now the trial's latest. */
  tell(row: TrialRow): void {
    this.rows.set(row.trial, row);
  }

  /** The trial folder name of a trial. */
  id(trial: number): string {
    return trialId(trial, this.total);
  }
}

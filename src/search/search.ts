/**
 * The search logic: plan the trials (or reload the plan of an interrupted search), run the ones without a result on
 * an executor (never more than its slots at once), ask the sampler for the next trial when the plan grows as results
 * come in (tpe), decide at every rung whether a trial goes on (the pruner), stream one trials.csv row per finished
 * trial and one rungs.csv row per pruning decision, keep the best trials' models, keep summary.json current, and
 * finish with the chosen trial's test accuracy, the ranking, the plots and the report page.
 *
 * Out folder:
 *   config.yaml   the resolved search config       plan.json    the space as sampled and every trial's values so far
 *   trials.csv    one row per finished trial       rungs.csv    one row per pruning decision (pruning: asha)
 *   trials/<id>/  each trial's config.yaml, metrics.csv, summary.json (model.json for the best keepModels)
 *   summary.json  ranking, chosen trial, budget, status          param-*.svg/png, overview, rungs, curves, report.html
 *
 * Resume: the plan is read back from plan.json (same values, whatever `space.from` says now), and the pruner from
 * rungs.csv (a trial that runs again is decided at each rung as before); trials whose latest row is completed,
 * pruned or diverged are kept, all others (failed, interrupted, never started) run again, and their rows are appended.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../util/errors.js';
import { toYaml } from '../config/load.js';
import type { ParamSpec, SamplerName, SearchConfig } from '../config/search-schema.js';
import type { TrainConfig } from '../config/schema.js';
import { MODEL_FILE } from '../formats/model-file.js';
import { planRun } from '../pipeline/plan.js';
import type { SplitMetrics } from '../model/split-metrics.js';
import { CsvLog } from '../util/csv-log.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { parseJsonBounded } from '../util/bounded-json.js';
import { FileReadError, readRegularText } from '../util/read-file.js';
import type { TrialExecutor } from './executor.js';
import { resolveSpace } from './narrow.js';
import { checkTrialConfigs, trialConfig, trialConfigProblems, trialId, type PlannedTrial } from './plan.js';
import type { ProgressState, SearchProgress } from './progress.js';
import { AshaPruner, type RungRecord } from './pruner.js';
import {
  csvRecord, latestRows, rankTrials, readRungsCsv, readTrialsCsv, RUNG_COLUMNS, rungRecord, trialColumns, trialRow,
  type RankedTrial, type TrialRow,
} from './results.js';
import { makeSampler, type Observation } from './samplers.js';
import { paramsLabel } from './space.js';
import type { TrialResult, TrialTask } from './types.js';

export const PLAN_FILE = 'plan.json';
export const TRIALS_CSV = 'trials.csv';
export const RUNGS_CSV = 'rungs.csv';
export const SUMMARY_FILE = 'summary.json';
const PLAN_VERSION = 2;

/** Largest plan.json read (10,000 trials take about 1 MB). */
const MAX_PLAN_BYTES = 64 * 2 ** 20;

export type SearchStatus = 'running' | 'completed' | 'interrupted' | 'failed';

export interface SearchPlan {
  version: typeof PLAN_VERSION;
  name: string;
  seed: number;
  sampler: SamplerName;
  /** The space as sampled (after `space.from`). */
  space: Record<string, ParamSpec>;
  /** How its ranges were chosen. */
  spaceSource: string;
  /** Trials of the search when done. */
  total: number;
  /** Every trial planned so far (all of them for random and grid; tpe adds each proposal as it makes it). */
  trials: PlannedTrial[];
  /** What must not change for --resume to continue this search (see resumeKey). */
  key: unknown;
  createdAt: string;
}

export interface TrialEntry extends PlannedTrial {
  id: string;
  status: TrialRow['status'] | 'pending';
  row: TrialRow | null;
}

/** The trial the search chose (best validation accuracy) and its test accuracy: the only test figure of a search. */
export interface ChosenTrial {
  trial: number;
  id: string;
  params: PlannedTrial['params'];
  valAccuracy: number;
  /** Measured on the test split from the trial's model.json after the search; null when it could not be (see note). */
  test: SplitMetrics | null;
  note?: string;
}

export interface SearchSummary {
  kind: 'search';
  status: SearchStatus;
  name: string;
  /** Why the search ended this way (interrupted, every trial failed). */
  note?: string;
  trials: number;
  counts: { completed: number; pruned: number; diverged: number; failed: number; pending: number };
  sampler: SamplerName;
  seed: number;
  /** The searched fields' config paths, in column order. */
  params: string[];
  space: Record<string, ParamSpec>;
  spaceSource: string;
  pruning: SearchConfig['pruning'];
  /** Update steps the trials with a result took, and what the same trials take without pruning (pruned ones to their end). */
  budget: { stepsSpent: number; stepsWithoutPruning: number };
  /** Records of the validation split (the noise of a validation accuracy p is about ±1.96·sqrt(p(1 − p)/n)). */
  valRecords: number | null;
  workers: number;
  threadsPerTrial: number;
  backend: string | null;
  startedAt: string;
  finishedAt: string;
  /** Wall time of this session (a resumed search counts from its resume). */
  seconds: number;
  /** The trials' own times added up (this session's trials only): trialSeconds / seconds is how many ran at once on average. */
  trialSeconds: number;
  /** Peak resident memory of the search process so far, its worker threads included (getrusage maxRSS). */
  peakRssMiB: number;
  /** The best three completed trials, by validation accuracy. */
  best: RankedTrial[];
  /** The best trial and its test accuracy (set when the search completes). */
  chosen: ChosenTrial | null;
  /** Every completed trial, best validation accuracy first. */
  ranking: RankedTrial[];
  /** Every planned trial with its latest result (status pending when it has none). */
  results: TrialEntry[];
  /** Every pruning decision, in the order made. */
  rungs: RungRecord[];
  config: SearchConfig;
}

type Progress = Pick<SearchProgress, 'begin' | 'started' | 'finished' | 'note' | 'stop'>;

export interface SearchOptions {
  config: SearchConfig;
  outDir: string;
  /** The CIFAR-10 folder (recorded in tasks for executors that load data themselves). */
  dataDir: string;
  /** Makes the executor once the number of trials to run is known (not called when there are none). */
  executor: (pending: number) => TrialExecutor | Promise<TrialExecutor>;
  resume?: boolean;
  signal?: AbortSignal;
  progress?: Progress;
  log?: (line: string) => void;
  /** Render the plots and report.html at the end (default true). */
  render?: boolean;
  /** Training records (to know each trial's length, hence its rungs, when it is given in epochs). */
  trainRecords?: number;
  /** Validation records (recorded for the noise band of the plots; default base.data.holdout when > 0). */
  valRecords?: number;
  /** Measures the chosen trial's network (its folder's model.json) on the test split. */
  testChosen?: (trialDir: string) => Promise<SplitMetrics>;
}

/** The parts of a config that define the trial list and what each trial computes. */
export function resumeKey(c: SearchConfig): unknown {
  const { kernels: _k, name: _n, ...base } = c.base;
  return { seed: c.seed, trials: c.trials, space: c.space, pruning: c.pruning, base };
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function differingKeys(a: Record<string, unknown>, b: Record<string, unknown>, prefix = ''): string[] {
  const keys = new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})]);
  const out: string[] = [];
  for (const k of keys) {
    const x = a?.[k], y = b?.[k];
    if (sameJson(x, y)) continue;
    if (x && y && typeof x === 'object' && typeof y === 'object' && !Array.isArray(x) && !Array.isArray(y)) {
      out.push(...differingKeys(x as Record<string, unknown>, y as Record<string, unknown>, `${prefix}${k}.`));
    } else out.push(`${prefix}${k}`);
  }
  return out;
}

function loadPlan(outDir: string): SearchPlan | null {
  const path = join(outDir, PLAN_FILE);
  if (!existsSync(path)) return null;
  let p: SearchPlan;
  try {
    p = parseJsonBounded(readRegularText(path, { maxBytes: MAX_PLAN_BYTES, expected: 'a search plan' })) as SearchPlan;
    if (p === null || typeof p !== 'object' || !Array.isArray(p.trials)) throw new Error('no trial list');
  } catch (e) {
    const why = e instanceof FileReadError ? e.reason : (e as Error).message;
    throw new UsageError(`--resume: ${path}: unreadable (${why}); start a new search with --force or another --out`);
  }
  if (p.version !== PLAN_VERSION) {
    throw new UsageError(`--resume: ${path} was written by an earlier version of cifar-mlp (lambda-only search); start a new search with --force or another --out`);
  }
  return p;
}

/** The plan of a new search, written nowhere: the space (narrowed by `space.from`), the sampler's first trials, checked. */
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

/** The plan of a new search, or the stored plan of the search being resumed (after checking the config still fits it). */
export function preparePlan(config: SearchConfig, outDir: string, resume: boolean, log?: (line: string) => void): { plan: SearchPlan; resumed: boolean } {
  if (resume) {
    const stored = loadPlan(outDir);
    if (stored) {
      const key = resumeKey(config);
      if (!sameJson(stored.key, key)) {
        const diff = differingKeys(stored.key as Record<string, unknown>, key as Record<string, unknown>);
        throw new UsageError(`--resume: the config differs from the one the search in ${outDir} started with (${diff.join(', ')}); ` +
          'resume with the same config (only workers, keepModels and base.kernels may change), or start a new search with --force or another --out');
      }
      return { plan: stored, resumed: true };
    }
    log?.(`cifar-mlp: --resume: no ${PLAN_FILE} in ${outDir}: starting a new search there`);
  }
  const plan = planSearch(config, log);
  writeJsonAtomic(join(outDir, PLAN_FILE), plan);
  return { plan, resumed: false };
}

/** Update steps of a trial's whole run, when they can be known here. */
function totalStepsOf(config: TrainConfig, trainRecords: number | undefined): number | undefined {
  try {
    if (trainRecords !== undefined) return planRun(config, trainRecords).totalSteps;
  } catch {
    return undefined; // the trial reports the problem itself
  }
  return config.schedule.epochs === undefined ? Math.round((config.schedule.cycles ?? 1) * 2 * config.schedule.ns) : undefined;
}

/** What the finished trials tell a model-based sampler. */
export function observations(rows: Iterable<TrialRow>): Observation[] {
  const out: Observation[] = [];
  for (const r of rows) {
    if (r.status === 'completed') out.push({ values: r.params, level: 1, accuracy: r.val_acc ?? NaN });
    else if (r.status === 'pruned') out.push({ values: r.params, level: (r.steps ?? 0) / (r.total_steps ?? Infinity), accuracy: r.val_acc ?? NaN });
    else if (r.status === 'diverged') out.push({ values: r.params, level: -1, accuracy: NaN });
  }
  return out;
}

/** Steps the trials took, and what they would have taken without pruning. */
export function budgetOf(rows: Iterable<TrialRow>): SearchSummary['budget'] {
  let stepsSpent = 0, stepsWithoutPruning = 0;
  for (const r of rows) {
    const steps = r.steps ?? 0;
    stepsSpent += steps;
    stepsWithoutPruning += r.status === 'pruned' ? (r.total_steps ?? steps) : steps;
  }
  return { stepsSpent, stepsWithoutPruning };
}

export function buildSummary(o: {
  config: SearchConfig; plan: SearchPlan; rows: Map<number, TrialRow>; status: SearchStatus; note?: string;
  workers: number; threadsPerTrial: number; startedAt: number; trialSeconds: number; rungs: RungRecord[];
  chosen?: ChosenTrial | null; valRecords: number | null;
}): SearchSummary {
  const { plan, rows } = o;
  const total = plan.total;
  const planned = new Map(plan.trials.map((t) => [t.trial, t]));
  const results: TrialEntry[] = Array.from({ length: total }, (_, i) => {
    const t = planned.get(i + 1) ?? { trial: i + 1, params: {} };
    const row = rows.get(t.trial) ?? null;
    return { ...t, id: trialId(t.trial, total), status: row?.status ?? 'pending', row };
  });
  const count = (s: TrialEntry['status']) => results.filter((r) => r.status === s).length;
  const ranking = rankTrials(results.flatMap((r) => (r.row ? [r.row] : [])));
  const backends = [...new Set(results.flatMap((r) => (r.row?.backend ? [r.row.backend] : [])))];
  return {
    kind: 'search',
    status: o.status,
    name: o.config.name,
    ...(o.note ? { note: o.note } : {}),
    trials: total,
    counts: { completed: count('completed'), pruned: count('pruned'), diverged: count('diverged'), failed: count('failed'), pending: count('pending') },
    sampler: plan.sampler,
    seed: plan.seed,
    params: Object.keys(plan.space),
    space: plan.space,
    spaceSource: plan.spaceSource,
    pruning: o.config.pruning,
    budget: budgetOf(rows.values()),
    valRecords: o.valRecords,
    workers: o.workers,
    threadsPerTrial: o.threadsPerTrial,
    backend: backends.length ? backends.join(', ') : null,
    startedAt: new Date(o.startedAt).toISOString(),
    finishedAt: new Date().toISOString(),
    seconds: (Date.now() - o.startedAt) / 1000,
    trialSeconds: o.trialSeconds,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    best: ranking.slice(0, 3),
    chosen: o.chosen ?? null,
    ranking,
    results,
    rungs: o.rungs,
    config: o.config,
  };
}

const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e)) || 'unknown error';

/** Removes the model.json of completed trials outside the best `keep` (all kept for 'all'). */
function keepBestModels(outDir: string, rows: Iterable<TrialRow>, keep: SearchConfig['keepModels'], total: number): void {
  if (keep === 'all') return;
  const ranking = rankTrials(rows);
  for (const r of ranking.slice(keep)) rmSync(join(outDir, 'trials', trialId(r.trial, total), MODEL_FILE), { force: true });
}

async function chooseTrial(outDir: string, ranking: RankedTrial[], total: number, config: SearchConfig, testChosen: SearchOptions['testChosen']): Promise<ChosenTrial | null> {
  const best = ranking[0];
  if (!best) return null;
  const id = trialId(best.trial, total);
  const base = { trial: best.trial, id, params: best.params, valAccuracy: best.val_acc! };
  if (config.keepModels === 0) return { ...base, test: null, note: 'keepModels: 0 keeps no model: no test accuracy' };
  if (!testChosen) return { ...base, test: null, note: 'not measured here' };
  const dir = join(outDir, 'trials', id);
  if (!existsSync(join(dir, MODEL_FILE))) return { ...base, test: null, note: `${join(dir, MODEL_FILE)} is missing: no test accuracy` };
  try {
    return { ...base, test: await testChosen(dir) };
  } catch (e) {
    return { ...base, test: null, note: `test evaluation failed: ${errorMessage(e)}` };
  }
}

export async function runSearch(opts: SearchOptions): Promise<SearchSummary> {
  const { config, outDir, signal, progress } = opts;
  const log = opts.log ?? (() => {});
  const startedAt = Date.now();
  const { plan, resumed } = preparePlan(config, outDir, opts.resume ?? false, log);
  const paths = Object.keys(plan.space);
  const total = plan.total;
  const valRecords = opts.valRecords ?? (config.base.data.holdout > 0 ? config.base.data.holdout : null);

  const csvPath = join(outDir, TRIALS_CSV);
  const previous = resumed ? await readTrialsCsv(csvPath, plan.space) : { rows: [], skipped: 0, hasHeader: false };
  writeFileAtomic(join(outDir, 'config.yaml'), toYaml(config));
  if (previous.skipped > 0) log(`cifar-mlp: ${csvPath}: ${previous.skipped} unreadable line(s) skipped`);
  const planned = new Map(plan.trials.map((t) => [t.trial, t]));
  const rows = latestRows(previous.rows.filter((r) => planned.has(r.trial)).map((r) => ({ ...r, params: planned.get(r.trial)!.params })));
  const done = (s: TrialRow['status'] | undefined) => s === 'completed' || s === 'diverged' || s === 'pruned';
  const queue = plan.trials.filter((t) => !done(rows.get(t.trial)?.status));
  // Failed trials run again: they are not results until they do.
  for (const t of queue) rows.delete(t.trial);
  const pendingCount = total - rows.size;

  const rungsPath = join(outDir, RUNGS_CSV);
  const pastRungs = resumed && config.pruning.rule === 'asha' ? await readRungsCsv(rungsPath) : { records: [], skipped: 0 };
  if (pastRungs.skipped > 0) log(`cifar-mlp: ${rungsPath}: ${pastRungs.skipped} unreadable line(s) skipped`);
  const pruner = config.pruning.rule === 'asha' ? new AshaPruner({ ...config.pruning, valRecords }, pastRungs.records) : null;
  if (pruner && config.pruning.tolerance > 0 && !valRecords) log('cifar-mlp: warning: pruning.tolerance: the number of validation records is unknown here: plain ASHA');
  const sampler = makeSampler({ ...config.space, params: plan.space }, config.trials, config.seed);

  let running = 0;
  let workers = 0, threadsPerTrial = 0, trialSeconds = 0;
  const state = (): ProgressState => {
    const best = rankTrials(rows.values())[0];
    return { total, done: rows.size, running, best: best ? { valAcc: best.val_acc!, label: paramsLabel(plan.space, best.params) } : null };
  };
  const summarise = (status: SearchStatus, note?: string, chosen?: ChosenTrial | null) =>
    buildSummary({ config, plan, rows, status, note, workers, threadsPerTrial, startedAt, trialSeconds, rungs: pruner?.records() ?? [], chosen, valRecords });

  if (resumed) log(`cifar-mlp: resuming ${outDir}: ${total - pendingCount} of ${total} trials done, ${pendingCount} to run`);

  const csv = new CsvLog(csvPath, trialColumns(paths), resumed);
  const rungCsv = pruner ? new CsvLog(rungsPath, RUNG_COLUMNS, resumed) : null;
  let executor: TrialExecutor | null = null;
  let interrupted = false;

  /**
   * The next trial to run: a planned one without a result, else the sampler's next proposal (one the training schema
   * accepts, if any of 20 is), else none.
   */
  const nextTrial = (): PlannedTrial | null => {
    const t = queue.shift();
    if (t) return t;
    if (plan.trials.length >= total) return null;
    const trial = plan.trials.length + 1;
    let proposal: PlannedTrial = { trial, params: {} };
    for (let attempt = 0; attempt < 20; attempt++) {
      proposal = { trial, params: sampler.next(trial, observations(rows.values()), attempt) };
      if (trialConfigProblems(config.base, proposal, config.name).length === 0) break;
    }
    plan.trials.push(proposal);
    planned.set(trial, proposal);
    writeJsonAtomic(join(outDir, PLAN_FILE), plan);
    return proposal;
  };

  // Stops the trials: the caller's signal (SIGINT/SIGTERM), or a trials.csv that cannot be written (full disk).
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  if (signal?.aborted) stop.abort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  let writeError = null as Error | null;
  try {
    if (pendingCount > 0 && !stop.signal.aborted) {
      executor = await opts.executor(pendingCount);
      workers = executor.slots;
      threadsPerTrial = executor.threadsPerTrial;
    }
    writeJsonAtomic(join(outDir, SUMMARY_FILE), summarise('running'));
    progress?.begin(state());
    const stopSignal = stop.signal;

    const record = async (t: PlannedTrial, result: TrialResult) => {
      const row = trialRow(t, result);
      try {
        await csv.write(csvRecord(row, paths));
      } catch (e) {
        // Not a result until its row is written: the search fails now, and --resume runs the trial again.
        writeError ??= e as Error;
        stop.abort();
        return null;
      }
      rows.set(t.trial, row);
      keepBestModels(outDir, rows.values(), config.keepModels, total);
      writeJsonAtomic(join(outDir, SUMMARY_FILE), summarise('running'));
      return row;
    };

    const runOne = async (t: PlannedTrial) => {
      const id = trialId(t.trial, total);
      const label = paramsLabel(plan.space, t.params);
      const problems = trialConfigProblems(config.base, t, config.name);
      if (problems.length) {
        // A proposal the training schema rejects (a combination of values, e.g. etaMin > etaMax): failed, not run.
        const row = await record(t, { trial: t.trial, status: 'failed', final: null, steps: 0, seconds: 0, backend: '', threads: 0, reason: `invalid values: ${problems[0]}` });
        if (row) progress?.finished(t.trial, label, { status: row.status, valAcc: null, steps: 0, seconds: 0, reason: row.reason }, state());
        return;
      }
      const trialCfg = trialConfig(config, t, threadsPerTrial, total);
      const rungs = pruner?.rungsFor(totalStepsOf(trialCfg, opts.trainRecords)) ?? [];
      const task: TrialTask = {
        trial: t.trial, params: t.params, config: trialCfg, outDir: join(outDir, 'trials', id), dataDir: opts.dataDir,
        saveModel: config.keepModels !== 0,
        ...(rungs.length ? { rungs } : {}),
      };
      const onRung = async (r: { trial: number; step: number; valAccuracy: number }) => {
        const { record: decision, fresh } = pruner!.decide(r.trial, r.step, r.valAccuracy);
        if (fresh) await rungCsv!.write(rungRecord(decision));
        return decision.decision;
      };
      running++;
      progress?.started(t.trial, label, state());
      let result: TrialResult;
      const t0 = Date.now();
      try {
        result = await executor!.run(task, stopSignal, pruner ? { onRung } : {});
      } catch (e) {
        result = {
          trial: t.trial, status: stopSignal.aborted ? 'interrupted' : 'failed', final: null, steps: NaN, seconds: (Date.now() - t0) / 1000, backend: '', threads: threadsPerTrial,
          reason: `worker: ${errorMessage(e)}`,
        };
      }
      if (result.status === 'interrupted' && !stopSignal.aborted) result = { ...result, status: 'failed', reason: result.reason ?? 'stopped unexpectedly' };
      running--;
      if (Number.isFinite(result.seconds)) trialSeconds += result.seconds;
      if (result.status === 'interrupted') {
        interrupted = true;
        progress?.finished(t.trial, label, { status: 'interrupted', valAcc: null, steps: null, seconds: result.seconds }, state());
        return;
      }
      const row = await record(t, result);
      if (!row) return;
      progress?.finished(t.trial, label, { status: row.status, valAcc: row.val_acc, steps: row.steps, seconds: row.seconds ?? 0, reason: row.reason }, state());
    };

    const lanes = Array.from({ length: executor?.slots ?? 0 }, async () => {
      while (!stopSignal.aborted) {
        const next = nextTrial();
        if (!next) break;
        await runOne(next);
      }
    });
    await Promise.all(lanes);
    if (stopSignal.aborted && rows.size < total) interrupted = true;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    progress?.stop();
    await csv.close();
    await rungCsv?.close();
    await executor?.close().catch((e) => log(`cifar-mlp: warning: closing the worker pool: ${errorMessage(e)}`));
  }

  let status: SearchStatus, note: string | undefined;
  const ranking = rankTrials(rows.values());
  if (writeError) {
    status = 'failed';
    note = `${writeError.message}; continue with --resume once it can be written`;
  } else if (interrupted) {
    status = 'interrupted';
    note = `stopped with ${total - rows.size} of ${total} trials not done; continue with --resume`;
  } else if (ranking.length === 0) {
    status = 'failed';
    note = 'no trial completed (every trial failed, diverged or was pruned)';
  } else status = 'completed';
  const chosen = status === 'completed' ? await chooseTrial(outDir, ranking, total, config, opts.testChosen) : null;
  const summary = summarise(status, note, chosen);
  writeJsonAtomic(join(outDir, SUMMARY_FILE), summary);

  if (opts.render !== false) {
    try {
      const { writeSearchReport } = await import('./report.js');
      await writeSearchReport(outDir, summary);
    } catch (e) {
      log(`cifar-mlp: warning: could not render the search plots or report for ${outDir}: ${errorMessage(e)}`);
    }
  }
  return summary;
}

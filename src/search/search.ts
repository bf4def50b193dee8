/**
 * The search logic: plan the trials (or reload the plan of an interrupted search), run the ones without
 * a result on an executor (never more than its slots at once), stream one trials.csv row per finished
 * trial, keep summary.json current, and finish with the ranking, the plot and the report page.
 *
 * Out folder:
 *   config.yaml   the resolved search config        plan.json    the trial list (id, l, lambda) and range
 *   trials.csv    one row per finished trial        trials/<id>/ each trial's config.yaml, metrics.csv, summary.json
 *   summary.json  ranking, best three, best lambda, status      lambda.svg/png, report.html
 *
 * Resume: the plan is read back from plan.json (same l values, whatever the range source says now);
 * trials whose latest row is completed or diverged are kept, all others (failed, interrupted, never
 * started) run again, and their rows are appended to trials.csv.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../config/errors.js';
import { toYaml } from '../config/load.js';
import type { SearchConfig, TrainConfig } from '../config/schema.js';
import { CsvLog } from '../util/csv-log.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { parseJsonBounded } from '../util/bounded-json.js';
import { FileReadError, readRegularText } from '../util/read-file.js';
import type { TrialExecutor } from './executor.js';
import { planTrials, resolveRange, sampleLs, trialId, type PlannedTrial, type Range } from './plan.js';
import type { ProgressState, SearchProgress } from './progress.js';
import { csvRecord, latestRows, rankTrials, readTrialsCsv, TRIAL_COLUMNS, trialRow, type RankedTrial, type TrialRow } from './results.js';
import type { TrialResult, TrialTask } from './types.js';

export const PLAN_FILE = 'plan.json';
export const TRIALS_CSV = 'trials.csv';
export const SUMMARY_FILE = 'summary.json';

/** Largest plan.json read (10,000 trials take about 1 MB). */
const MAX_PLAN_BYTES = 64 * 2 ** 20;

export type SearchStatus = 'running' | 'completed' | 'interrupted' | 'failed';

export interface SearchPlan {
  name: string;
  seed: number;
  sampling: 'random' | 'grid';
  range: Range;
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

export interface SearchSummary {
  kind: 'search';
  status: SearchStatus;
  name: string;
  /** Why the search ended this way (interrupted, every trial failed). */
  note?: string;
  trials: number;
  counts: { completed: number; diverged: number; failed: number; pending: number };
  range: Range;
  sampling: 'random' | 'grid';
  seed: number;
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
  bestLambda: number | null;
  bestL: number | null;
  /** Every completed trial, best validation accuracy first. */
  ranking: RankedTrial[];
  /** Every planned trial with its latest result (status pending when it has none). */
  results: TrialEntry[];
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
  /** Render lambda.svg/png and report.html at the end (default true). */
  render?: boolean;
}

/** The parts of a config that define the trial list and what each trial computes. */
export function resumeKey(c: SearchConfig): unknown {
  const { kernels: _k, name: _n, ...base } = c.base;
  return { seed: c.seed, trials: c.trials, space: c.space, base };
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
  try {
    const p = parseJsonBounded(readRegularText(path, { maxBytes: MAX_PLAN_BYTES, expected: 'a search plan' })) as SearchPlan;
    if (p === null || typeof p !== 'object' || !Array.isArray(p.trials) || !p.range) throw new Error('no trial list');
    const bad = p.trials.findIndex((t) => !Number.isInteger(t?.trial) || !Number.isFinite(t?.l) || !Number.isFinite(t?.lambda));
    if (bad >= 0) throw new Error(`trial entry ${bad + 1} is not a trial`);
    return p;
  } catch (e) {
    const why = e instanceof FileReadError ? e.reason : (e as Error).message;
    throw new UsageError(`--resume: ${path}: unreadable (${why}); start a new search with --force or another --out`);
  }
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
          'resume with the same config (only workers and base.kernels may change), or start a new search with --force or another --out');
      }
      return { plan: stored, resumed: true };
    }
    log?.(`cifar-mlp: --resume: no ${PLAN_FILE} in ${outDir}: starting a new search there`);
  }
  const range = resolveRange(config, log);
  const plan: SearchPlan = {
    name: config.name,
    seed: config.seed,
    sampling: config.space.sampling,
    range,
    trials: planTrials(sampleLs(range, config.trials, config.space.sampling, config.seed)),
    key: resumeKey(config),
    createdAt: new Date().toISOString(),
  };
  writeJsonAtomic(join(outDir, PLAN_FILE), plan);
  return { plan, resumed: false };
}

/** The training config of one trial. */
export function trialConfig(config: SearchConfig, t: PlannedTrial, threads: number): TrainConfig {
  const base = config.base;
  return {
    ...base,
    name: `${config.name}-trial-${trialId(t.trial, config.trials)}`,
    train: { ...base.train, lambda: t.lambda },
    kernels: { ...base.kernels, threads },
  };
}

export function buildSummary(o: {
  config: SearchConfig; plan: SearchPlan; rows: Map<number, TrialRow>; status: SearchStatus; note?: string;
  workers: number; threadsPerTrial: number; startedAt: number; trialSeconds: number;
}): SearchSummary {
  const { plan, rows } = o;
  const total = plan.trials.length;
  const results: TrialEntry[] = plan.trials.map((t) => {
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
    counts: { completed: count('completed'), diverged: count('diverged'), failed: count('failed'), pending: count('pending') },
    range: plan.range,
    sampling: plan.sampling,
    seed: plan.seed,
    workers: o.workers,
    threadsPerTrial: o.threadsPerTrial,
    backend: backends.length ? backends.join(', ') : null,
    startedAt: new Date(o.startedAt).toISOString(),
    finishedAt: new Date().toISOString(),
    seconds: (Date.now() - o.startedAt) / 1000,
    trialSeconds: o.trialSeconds,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    best: ranking.slice(0, 3),
    bestLambda: ranking[0]?.lambda ?? null,
    bestL: ranking[0]?.l ?? null,
    ranking,
    results,
    config: o.config,
  };
}

const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e)) || 'unknown error';

export async function runSearch(opts: SearchOptions): Promise<SearchSummary> {
  const { config, outDir, signal, progress } = opts;
  const log = opts.log ?? (() => {});
  const startedAt = Date.now();
  const { plan, resumed } = preparePlan(config, outDir, opts.resume ?? false, log);
  const csvPath = join(outDir, TRIALS_CSV);
  const previous = resumed ? await readTrialsCsv(csvPath) : { rows: [], skipped: 0, hasHeader: false };
  writeFileAtomic(join(outDir, 'config.yaml'), toYaml(config));

  if (previous.skipped > 0) log(`cifar-mlp: ${csvPath}: ${previous.skipped} unreadable line(s) skipped`);
  const planned = new Set(plan.trials.map((t) => t.trial));
  const rows = latestRows(previous.rows.filter((r) => planned.has(r.trial)));
  const pending = plan.trials.filter((t) => {
    const s = rows.get(t.trial)?.status;
    return s !== 'completed' && s !== 'diverged' && s !== 'pruned';
  });
  // Failed trials run again: they are not results until they do.
  for (const t of pending) rows.delete(t.trial);

  const total = plan.trials.length;
  let running = 0;
  let workers = 0, threadsPerTrial = 0, trialSeconds = 0;
  const state = (): ProgressState => {
    const best = rankTrials(rows.values())[0];
    return { total, done: rows.size, running, best: best ? { valAcc: best.val_acc!, l: best.l } : null };
  };
  const summarise = (status: SearchStatus, note?: string) =>
    buildSummary({ config, plan, rows, status, note, workers, threadsPerTrial, startedAt, trialSeconds });

  if (resumed) log(`cifar-mlp: resuming ${outDir}: ${total - pending.length} of ${total} trials done, ${pending.length} to run`);

  const csv = new CsvLog(csvPath, TRIAL_COLUMNS, resumed);
  let executor: TrialExecutor | null = null;
  let interrupted = false;
  // Stops the trials: the caller's signal (SIGINT/SIGTERM), or a trials.csv that cannot be written (full disk).
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  if (signal?.aborted) stop.abort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  let writeError = null as Error | null;
  try {
    if (pending.length > 0 && !stop.signal.aborted) {
      executor = await opts.executor(pending.length);
      workers = executor.slots;
      threadsPerTrial = executor.threadsPerTrial;
    }
    writeJsonAtomic(join(outDir, SUMMARY_FILE), summarise('running'));
    progress?.begin(state());
    const queue = [...pending];
    const stopSignal = stop.signal;
    const runOne = async (t: PlannedTrial) => {
      const id = trialId(t.trial, total);
      const task: TrialTask = {
        trial: t.trial, l: t.l, lambda: t.lambda,
        config: trialConfig(config, t, threadsPerTrial),
        outDir: join(outDir, 'trials', id),
        dataDir: opts.dataDir,
      };
      running++;
      progress?.started(t.trial, t.l, state());
      let result: TrialResult;
      const t0 = Date.now();
      try {
        result = await executor!.run(task, stopSignal);
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
        progress?.finished(t.trial, t.l, { status: 'interrupted', valAcc: null, testAcc: null, seconds: result.seconds }, state());
        return;
      }
      const row = trialRow(t, result);
      try {
        await csv.write(csvRecord(row));
      } catch (e) {
        // Not a result until its row is written: the search fails now, and --resume runs the trial again.
        writeError ??= e as Error;
        stop.abort();
        return;
      }
      rows.set(t.trial, row);
      writeJsonAtomic(join(outDir, SUMMARY_FILE), summarise('running'));
      progress?.finished(t.trial, t.l, { status: row.status, valAcc: row.val_acc, testAcc: row.test_acc, seconds: row.seconds ?? 0, reason: row.reason }, state());
    };
    const lanes = Array.from({ length: executor?.slots ?? 0 }, async () => {
      while (queue.length > 0 && !stopSignal.aborted) await runOne(queue.shift()!);
    });
    await Promise.all(lanes);
    if (stopSignal.aborted && rows.size < total) interrupted = true;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    progress?.stop();
    await csv.close();
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
    note = 'no trial completed (every trial failed or diverged)';
  } else status = 'completed';
  const summary = summarise(status, note);
  writeJsonAtomic(join(outDir, SUMMARY_FILE), summary);

  if (opts.render !== false) {
    try {
      const { writeSearchReport } = await import('./report.js');
      await writeSearchReport(outDir, summary);
    } catch (e) {
      log(`cifar-mlp: warning: could not render the search plot or report for ${outDir}: ${errorMessage(e)}`);
    }
  }
  return summary;
}

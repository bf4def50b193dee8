/**
 * A search in its folder: the study (study.ts) on its storage (storage.ts), its trials run on an executor
 * (scheduler.ts), then the chosen trial's test accuracy, the summary, the plots and the report page.
 *
 * Resume: the plan is read back from plan.json (same values, whatever `space.from` says now), and the pruner from
 * rungs.csv (a trial that runs again is decided at each rung as before); trials whose latest row is completed,
 * pruned or diverged are kept when their folders still hold what the search relies on; all others run again, and
 * their rows are appended.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { SearchConfig } from '../config/search-schema.js';
import { MODEL_FILE } from '../formats/model-file.js';
import { readSearchSummary, readSummaryJson, type ChosenTrial, type RankedTrial, type SearchStatus, type SearchSummary } from '../formats/search-summary.js';
import type { SplitMetrics } from '../model/split-metrics.js';
import type { TrialExecutor } from './executor.js';
import { runTrials, type SchedulerProgress } from './scheduler.js';
import { SearchStorage } from './storage.js';
import { Study } from './study.js';
import { buildSummary, peakRssMiB } from './summary.js';

export interface RunSearchOptions {
  config: SearchConfig;
  outDir: string;
  /** The CIFAR-10 folder (recorded in tasks for executors that load data themselves). */
  dataDir: string;
  /** Makes the executor once the number of trials to run is known (not called when there are none). */
  executor: (pending: number) => TrialExecutor | Promise<TrialExecutor>;
  resume?: boolean;
  signal?: AbortSignal;
  progress?: SchedulerProgress;
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

const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e)) || 'unknown error';

async function chooseTrial(storage: SearchStorage, ranking: RankedTrial[], study: Study, testChosen: RunSearchOptions['testChosen'], earlier: ChosenTrial | null): Promise<ChosenTrial | null> {
  const best = ranking[0];
  if (!best) return null;
  const id = study.id(best.trial);
  const base = { trial: best.trial, id, params: best.params, valAccuracy: best.val_acc! };
  if (study.config.keepModels === 0) return { ...base, test: null, note: 'keepModels: 0 keeps no model: no test accuracy' };
  // What an earlier session measured of this same trial stands when it cannot be measured again (never erased).
  const unmeasured = (why: string): ChosenTrial => (earlier?.test
    ? { ...base, test: earlier.test, note: `measured by an earlier session of the search (${why})` }
    : { ...base, test: null, note: why });
  if (!testChosen) return unmeasured('not measured here');
  const dir = storage.trialDir(best.trial, study.total);
  if (!existsSync(join(dir, MODEL_FILE))) return unmeasured(`${join(dir, MODEL_FILE)} is missing: no test accuracy`);
  try {
    return { ...base, test: await testChosen(dir) };
  } catch (e) {
    return unmeasured(`test evaluation failed: ${errorMessage(e)}`);
  }
}

/** The wall time an interrupted search's summary.json records (0 when it cannot be read). */
function secondsOfEarlierSessions(dir: string): number {
  try {
    const seconds = (readSummaryJson(dir, '') as { seconds?: unknown } | null)?.seconds;
    return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? seconds : 0;
  } catch {
    return 0;
  }
}

/** The chosen trial of the summary an earlier session left, when that trial's result was kept as it was. */
function earlierChosen(outDir: string, kept: readonly { trial: number; val_acc: number | null }[]): ChosenTrial | null {
  let chosen: ChosenTrial | null | undefined;
  try {
    chosen = readSearchSummary(outDir).chosen;
  } catch {
    return null;
  }
  const row = chosen ? [...kept].reverse().find((r) => r.trial === chosen!.trial) : undefined;
  return chosen && row && row.val_acc === chosen.valAccuracy && chosen.test && Number.isFinite(chosen.test.accuracy) ? chosen : null;
}

export async function runSearch(opts: RunSearchOptions): Promise<SearchSummary> {
  const { config, outDir, progress } = opts;
  const log = opts.log ?? (() => {});
  const signal = opts.signal ?? new AbortController().signal;
  const startedAt = Date.now();
  const storage = new SearchStorage(outDir, log);
  const { plan, resumed } = storage.openPlan(config, opts.resume ?? false);
  const valRecords = opts.valRecords ?? (config.base.data.holdout > 0 ? config.base.data.holdout : null);
  const stored = resumed ? await storage.readResults(plan, config) : { rows: [], rungs: [] };
  const secondsBefore = resumed ? secondsOfEarlierSessions(outDir) : undefined;
  const earlier = resumed ? earlierChosen(outDir, stored.rows) : null;
  storage.saveConfig(config);
  const study = new Study({ config, plan, rows: stored.rows, rungs: stored.rungs, valRecords, trainRecords: opts.trainRecords });
  if (study.pruner && config.pruning.tolerance > 0 && !valRecords) log('cifar-mlp: warning: pruning.tolerance: the number of validation records is unknown here: plain ASHA');
  const pending = study.total - study.done;
  if (resumed) log(`cifar-mlp: resuming ${outDir}: ${study.done} of ${study.total} trials done, ${pending} to run`);

  let workers = 0, threadsPerTrial = 0, trialSeconds = 0;
  const summarise = (status: SearchStatus, note?: string, chosen?: ChosenTrial | null) => buildSummary({
    config, plan, rows: study.results(), status, note, workers, threadsPerTrial, startedAt, trialSeconds, rungs: study.pruner?.records() ?? [], chosen, valRecords, secondsBefore,
  });

  storage.openLogs(study.paths, study.pruner !== null, resumed);
  let executor: TrialExecutor | null = null;
  let outcome = { interrupted: false, writeError: null as Error | null, trialSeconds: 0 };
  try {
    if (pending > 0 && !signal.aborted) {
      executor = await opts.executor(pending);
      workers = executor.slots;
      threadsPerTrial = executor.threadsPerTrial;
    }
    storage.writeSummary(summarise('running'));
    if (executor) {
      outcome = await runTrials({ study, storage, executor, dataDir: opts.dataDir, signal, progress, recorded: () => storage.writeSummary(summarise('running')) });
    } else if (pending > 0) outcome.interrupted = true;
    trialSeconds = outcome.trialSeconds;
  } catch (e) {
    outcome.writeError = e as Error; // summary.json or the plan could not be written
  } finally {
    if (!executor) {
      progress?.begin(study.progressState(0));
      progress?.stop();
    }
    await storage.close().catch((e) => { outcome.writeError ??= e as Error; });
    await executor?.close().catch((e) => log(`cifar-mlp: warning: closing the worker pool: ${errorMessage(e)}`));
  }

  let status: SearchStatus, note: string | undefined;
  const ranking = study.ranking();
  if (outcome.writeError) {
    status = 'failed';
    note = `${outcome.writeError.message}; continue with --resume once it can be written`;
  } else if (outcome.interrupted) {
    status = 'interrupted';
    note = `stopped with ${study.total - study.done} of ${study.total} trials not done; continue with --resume`;
  } else if (ranking.length === 0) {
    status = 'failed';
    note = 'no trial completed (every trial failed, diverged or was pruned)';
  } else status = 'completed';
  const chosen = status === 'completed' ? await chooseTrial(storage, ranking, study, opts.testChosen, earlier?.trial === ranking[0]?.trial ? earlier : null) : null;
  const summary = summarise(status, note, chosen);
  try {
    storage.writeSummary(summary);
  } catch (e) {
    if (!outcome.writeError) return { ...summary, status: 'failed', note: `${errorMessage(e)}; continue with --resume once it can be written` };
  }

  if (opts.render !== false && !outcome.writeError) {
    try {
      const { writeSearchReport } = await import('./report.js');
      await writeSearchReport(outDir, summary);
    } catch (e) {
      log(`cifar-mlp: warning: could not render the search plots or report for ${outDir}: ${errorMessage(e)}`);
    }
    // The peak memory as it stands after plotting, which may be the search's largest moment.
    const measured = { ...summary, peakRssMiB: peakRssMiB() };
    try {
      storage.writeSummary(measured);
      return measured;
    } catch (e) {
      log(`cifar-mlp: warning: ${errorMessage(e)}`);
    }
  }
  return summary;
}

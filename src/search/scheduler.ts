/**
 * Runs a study's trials on an executor: as many at once as it has slots, each lane asking the study for its next
 * trial until there is none. Rung reports go to the study (the pruner decides) and into rungs.csv before the trial
 * hears the decision; each result is told to the study and is a result once its row is in trials.csv.
 *
 * A search stops on its signal (running trials stop after their current step and run again on resume) and on the
 * first file it cannot write, its own (trials.csv, rungs.csv, plan.json, summary.json) or a trial's (metrics.csv,
 * model.json…): a full disk fails the search at once, and a trial that could not record its result is never ranked.
 */
import type { PlannedTrial } from '../formats/search-plan.js';
import type { TrialRow } from '../formats/trials-csv.js';
import type { TrialExecutor } from './executor.js';
import type { SearchProgress, TrialOutcome } from './progress.js';
import type { SearchStorage } from './storage.js';
import type { Study } from './study.js';
import type { TrialResult } from './types.js';

export type SchedulerProgress = Pick<SearchProgress, 'begin' | 'started' | 'finished' | 'note' | 'stop'>;

export interface ScheduleOptions {
  study: Study;
  storage: SearchStorage;
  executor: TrialExecutor;
  /** The CIFAR-10 folder (recorded in tasks for executors that load data themselves). */
  dataDir: string;
  signal: AbortSignal;
  progress?: SchedulerProgress;
  /** After every recorded result (the caller rewrites summary.json). */
  recorded?: () => void;
}

export interface ScheduleResult {
  /** Stopped by the signal before every trial had a result. */
  interrupted: boolean;
  /** The first file that could not be written: the search failed on it. */
  writeError: Error | null;
  /** The trials' own times added up. */
  trialSeconds: number;
}

const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e)) || 'unknown error';

export async function runTrials(o: ScheduleOptions): Promise<ScheduleResult> {
  const { study, storage, executor, progress } = o;
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  if (o.signal.aborted) stop.abort();
  else o.signal.addEventListener('abort', onAbort, { once: true });
  let running = 0, trialSeconds = 0, interrupted = false;
  let writeError: Error | null = null;
  const failOn = (e: unknown) => {
    writeError ??= e instanceof Error ? e : new Error(String(e));
    stop.abort();
  };
  const state = () => study.progressState(running);
  const finished = (t: PlannedTrial, outcome: TrialOutcome) => progress?.finished(t.trial, study.label(t), outcome, state());

  /** Records a result; null when its row could not be written (the search then fails and --resume runs it again). */
  const record = async (t: PlannedTrial, result: TrialResult): Promise<TrialRow | null> => {
    if (result.writeError) {
      failOn(new Error(result.writeError));
      return null;
    }
    const row = study.rowOf(t, result);
    try {
      await storage.recordTrial(row);
      study.tell(row);
      storage.keepBestModels(study.ranking(), study.config.keepModels, study.total);
      o.recorded?.();
    } catch (e) {
      failOn(e);
      return null;
    }
    return row;
  };

  const runOne = async (t: PlannedTrial) => {
    const problems = study.problems(t);
    if (problems.length) {
      const row = await record(t, { trial: t.trial, status: 'failed', final: null, steps: 0, seconds: 0, backend: '', threads: 0, reason: `invalid values: ${problems[0]}` });
      if (row) finished(t, { status: row.status, valAcc: null, steps: 0, seconds: 0, reason: row.reason });
      return;
    }
    const task = study.task(t, { threadsPerTrial: executor.threadsPerTrial, outDir: storage.trialDir(t.trial, study.total), dataDir: o.dataDir });
    const onRung = async (r: { trial: number; step: number; valAccuracy: number }) => {
      const { record: decision, fresh } = study.report(r.trial, r.step, r.valAccuracy);
      if (fresh) {
        try {
          await storage.recordRung(decision);
        } catch (e) {
          failOn(e);
        }
      }
      return decision.decision;
    };
    running++;
    progress?.started(t.trial, study.label(t), state());
    const t0 = Date.now();
    let result: TrialResult;
    try {
      result = await executor.run(task, stop.signal, study.pruner ? { onRung } : {});
    } catch (e) {
      result = {
        trial: t.trial, status: stop.signal.aborted ? 'interrupted' : 'failed', final: null, steps: NaN, seconds: (Date.now() - t0) / 1000,
        backend: '', threads: executor.threadsPerTrial, reason: `worker: ${errorMessage(e)}`,
      };
    }
    if (result.status === 'interrupted' && !stop.signal.aborted) result = { ...result, status: 'failed', reason: result.reason ?? 'stopped unexpectedly' };
    running--;
    if (Number.isFinite(result.seconds)) trialSeconds += result.seconds;
    if (result.status === 'interrupted') {
      interrupted = true;
      finished(t, { status: 'interrupted', valAcc: null, steps: null, seconds: result.seconds });
      return;
    }
    const row = await record(t, result);
    if (row) finished(t, { status: row.status, valAcc: row.val_acc, steps: row.steps, seconds: row.seconds ?? 0, reason: row.reason });
  };

  try {
    progress?.begin(state());
    const lanes = Array.from({ length: executor.slots }, async () => {
      while (!stop.signal.aborted) {
        const next = study.ask();
        if (!next) break;
        if (next.proposed) {
          try {
            storage.savePlan(study.plan);
          } catch (e) {
            failOn(e);
            break;
          }
        }
        await runOne(next.trial);
      }
    });
    await Promise.all(lanes);
    if (stop.signal.aborted && study.done < study.total) interrupted = true;
  } finally {
    o.signal.removeEventListener('abort', onAbort);
    progress?.stop();
  }
  return { interrupted, writeError, trialSeconds };
}

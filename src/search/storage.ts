/**
 * A study's storage: its search folder. The plan (plan.json), the results (trials.csv, one row per finished trial),
 * the pruning decisions (rungs.csv), the summary (summary.json) and the trials' own folders (trials/<id>/), all
 * through the format modules. Every write error is thrown (a FileWriteError naming the file): the scheduler ends the
 * search on the first one.
 *
 * Out folder:
 *   config.yaml   the resolved search config       plan.json    the space as sampled and every trial's values so far
 *   trials.csv    one row per finished trial       rungs.csv    one row per pruning decision (pruning: asha)
 *   trials/<id>/  each trial's config.yaml, metrics.csv, summary.json (model.json for the best keepModels)
 *   summary.json  ranking, chosen trial, budget, status          param-*.svg/png, overview, rungs, curves, report.html
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { toYaml } from '../config/load.js';
import type { SearchConfig } from '../config/search-schema.js';
import { MODEL_FILE } from '../formats/model-file.js';
import { readRunSummary } from '../formats/run-summary.js';
import { readRungsCsv, RUNGS_CSV, RungsLog, type RungRecord } from '../formats/rungs-csv.js';
import { readSearchPlan, trialDir, writeSearchPlan, type SearchPlan } from '../formats/search-plan.js';
import { writeSearchSummary, type SearchSummary } from '../formats/search-summary.js';
import { readTrialsCsv, TrialsLog, TRIALS_CSV, type TrialRow } from '../formats/trials-csv.js';
import { writeFileAtomic } from '../util/atomic.js';
import { UsageError } from '../util/errors.js';
import { planSearch, resumeKey } from './study.js';

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

/** What an earlier session of the search left: its rows and decisions. */
export interface StoredResults {
  rows: TrialRow[];
  rungs: RungRecord[];
}

export class SearchStorage {
  private trials: TrialsLog | null = null;
  private rungs: RungsLog | null = null;

  constructor(readonly dir: string, private readonly log: (line: string) => void = () => {}) {}

  /**
   * The plan of a new search (written), or the stored plan of the search being resumed, after checking that the
   * config still fits it.
   */
  openPlan(config: SearchConfig, resume: boolean): { plan: SearchPlan; resumed: boolean } {
    if (resume) {
      const stored = readSearchPlan(this.dir);
      if (stored) {
        const key = resumeKey(config);
        if (!sameJson(stored.key, key)) {
          const diff = differingKeys(stored.key as Record<string, unknown>, key as Record<string, unknown>);
          throw new UsageError(`--resume: the config differs from the one the search in ${this.dir} started with (${diff.join(', ')}); ` +
            'resume with the same config (only workers, keepModels and base.kernels may change), or start a new search with --force or another --out');
        }
        return { plan: stored, resumed: true };
      }
      this.log(`cifar-mlp: --resume: no plan.json in ${this.dir}: starting a new search there`);
    }
    const plan = planSearch(config, this.log);
    writeSearchPlan(this.dir, plan);
    return { plan, resumed: false };
  }

  savePlan(plan: SearchPlan): void {
    writeSearchPlan(this.dir, plan);
  }

  saveConfig(config: SearchConfig): void {
    writeFileAtomic(join(this.dir, 'config.yaml'), toYaml(config));
  }

  /**
   * The rows and decisions of an earlier session, verified against the trial folders: a trial recorded as done whose
   * folder no longer holds its summary (deleted, or left by another search) runs again, and so does the best trial
   * whose model should have been kept but is gone (the search's test figure is measured from it).
   */
  async readResults(plan: SearchPlan, config: SearchConfig): Promise<StoredResults> {
    const trials = await readTrialsCsv(join(this.dir, TRIALS_CSV), plan.space);
    if (trials.skipped > 0) this.log(`cifar-mlp: ${join(this.dir, TRIALS_CSV)}: ${trials.skipped} unreadable line(s) skipped`);
    const rungs = config.pruning.rule === 'asha' ? await readRungsCsv(join(this.dir, RUNGS_CSV)) : { records: [], skipped: 0 };
    if (rungs.skipped > 0) this.log(`cifar-mlp: ${join(this.dir, RUNGS_CSV)}: ${rungs.skipped} unreadable line(s) skipped`);
    const latest = new Map(trials.rows.map((r) => [r.trial, r]));
    const missing = new Set<number>();
    for (const r of latest.values()) {
      if (r.status === 'failed') continue;
      const dir = trialDir(this.dir, r.trial, plan.total);
      let status: unknown;
      try {
        status = readRunSummary(dir)?.status;
      } catch {
        status = undefined;
      }
      if (status !== r.status) missing.add(r.trial);
    }
    const kept = config.keepModels === 'all' ? Infinity : config.keepModels;
    const ranked = [...latest.values()].filter((r) => r.status === 'completed' && r.val_acc !== null && !missing.has(r.trial))
      .sort((a, b) => b.val_acc! - a.val_acc! || a.trial - b.trial);
    if (kept > 0 && ranked[0] && !existsSync(join(trialDir(this.dir, ranked[0].trial, plan.total), MODEL_FILE))) missing.add(ranked[0].trial);
    if (missing.size) {
      const ids = [...missing].sort((a, b) => a - b);
      this.log(`cifar-mlp: --resume: trial${ids.length === 1 ? '' : 's'} ${ids.join(', ')} recorded as done but ${ids.length === 1 ? 'its' : 'their'} ` +
        'folder no longer holds what the search relies on (summary.json, or the best model): running again');
    }
    return { rows: trials.rows.filter((r) => !missing.has(r.trial)), rungs: rungs.records };
  }

  /** Opens trials.csv (and rungs.csv with pruning) for appending; a resumed search keeps their rows. */
  openLogs(paths: string[], pruning: boolean, append: boolean): void {
    this.trials = new TrialsLog(this.dir, paths, append);
    if (pruning) this.rungs = new RungsLog(this.dir, append);
  }

  /** A trial's row, in trials.csv: the trial is a result once this resolves. */
  recordTrial(row: TrialRow): Promise<void> {
    return this.trials!.write(row);
  }

  recordRung(r: RungRecord): Promise<void> {
    return this.rungs!.write(r);
  }

  writeSummary(s: SearchSummary): void {
    writeSearchSummary(this.dir, s);
  }

  trialDir(trial: number, total: number): string {
    return trialDir(this.dir, trial, total);
  }

  /** Removes the model.json of completed trials outside the best `keep` (ranked best first; all kept for 'all'). */
  keepBestModels(ranking: readonly TrialRow[], keep: SearchConfig['keepModels'], total: number): void {
    if (keep === 'all') return;
    for (const r of ranking.slice(keep)) rmSync(join(this.trialDir(r.trial, total), MODEL_FILE), { force: true });
  }

  async close(): Promise<void> {
    const closing = [this.trials?.close(), this.rungs?.close()];
    this.trials = this.rungs = null;
    await Promise.all(closing);
  }
}

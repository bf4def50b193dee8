/**
 * summary.json of a search (kind "search"): the ranking by validation accuracy, every planned trial with its latest
 * result, the chosen trial and its test accuracy (the only test figure of a search), the pruning budget and
 * decisions; rewritten atomically as trials finish, and at the end.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ParamSpec, SamplerName, SearchConfig } from '../config/search-schema.js';
import type { SplitMetrics } from '../model/split-metrics.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { redactStrings } from '../util/redact.js';
import { parseJsonBounded } from '../util/bounded-json.js';
import { UsageError } from '../util/errors.js';
import { FileReadError, readRegularText } from '../util/read-file.js';
import { MAX_SUMMARY_BYTES, SUMMARY_FILE } from './run-summary.js';
import type { RungRecord } from './rungs-csv.js';
import type { PlannedTrial } from './search-plan.js';
import type { TrialRow } from './trials-csv.js';

/** Version 1: `version` added; files without it are read as version 1 too. */
export const SEARCH_SUMMARY_VERSION = 1;

export type SearchStatus = 'running' | 'completed' | 'interrupted' | 'failed';

export interface TrialEntry extends PlannedTrial {
  id: string;
  status: TrialRow['status'] | 'pending';
  row: TrialRow | null;
}

export interface RankedTrial extends TrialRow {
  rank: number;
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
  version: number;
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
  /** Wall time of the search, every session of a resumed one included. */
  seconds: number;
  /** A resumed search: the wall time since its last resume (the session trialSeconds counts). */
  secondsSinceResume?: number;
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

export function writeSearchSummary(dir: string, s: SearchSummary): void {
  writeJsonAtomic(join(dir, SUMMARY_FILE), s, redactStrings);
}

/**
 * The JSON of `<dir>/summary.json`, bounded in size and depth; `what` prefixes the one-line UsageError of a file
 * that is missing, unreadable or not JSON.
 */
export function readSummaryJson(dir: string, what: string): unknown {
  const path = join(dir, SUMMARY_FILE);
  if (!existsSync(path)) throw new UsageError(`${what}${dir}: no summary.json there (not a search folder, or the search never started)`);
  let text: string;
  try {
    text = readRegularText(path, { maxBytes: MAX_SUMMARY_BYTES, expected: 'a search summary.json' });
  } catch (e) {
    throw new UsageError(`${what}${path}: unreadable (${e instanceof FileReadError ? e.reason : (e as Error).message})`);
  }
  try {
    return parseJsonBounded(text);
  } catch (e) {
    throw new UsageError(`${what}${path}: unreadable (${(e as Error).message})`);
  }
}

/** A search's summary.json, checked to be one; every problem is a one-line UsageError naming the file. */
export function readSearchSummary(dir: string): SearchSummary {
  const s = readSummaryJson(dir, '') as SearchSummary | null;
  if (s === null || typeof s !== 'object' || s.kind !== 'search' || !Array.isArray(s.results) || !Array.isArray(s.params)) {
    throw new UsageError(`${join(dir, SUMMARY_FILE)}: not a search summary of this version of cifar-mlp (no params and results)`);
  }
  return s;
}

/** What a training run takes from a finished search (`run CONFIG --from SEARCH_DIR`, `train(config, { from })`). */
export interface ChosenFields {
  /** The search folder. */
  dir: string;
  /** The chosen trial's id and validation accuracy. */
  trial: string;
  valAccuracy: number;
  /** Its searched fields, by training-config path (base.train.lambda → train.lambda), as `--set` overrides. */
  sets: string[];
}

/** Where a run's values came from, for the top of its config.yaml. */
export const chosenFieldsComment = (c: ChosenFields) => [`${c.sets.join(', ')}: from the search in ${c.dir} (trial ${c.trial}, its chosen one)`];

/**
 * The searched fields of a search's chosen trial as overrides of a training config. A UsageError (one line naming the
 * folder) when it is not a search folder or has no chosen trial yet (an interrupted search: resume it first).
 */
export function chosenFields(dir: string): ChosenFields {
  const s = readSummaryJson(dir, '--from ') as Partial<SearchSummary> | null;
  const where = `--from ${dir}`;
  if (s === null || typeof s !== 'object' || s.kind !== 'search') throw new UsageError(`${where}: not a search folder (its summary.json is not a search's)`);
  const c = s.chosen;
  if (!c || typeof c !== 'object' || typeof c.params !== 'object' || c.params === null) {
    throw new UsageError(`${where}: the search (status ${String(s.status)}) has chosen no trial yet; finish it first (cifar-mlp search --out ${dir} --resume)`);
  }
  const sets = Object.entries(c.params).map(([path, value]) => `${path.replace(/^base\./, '')}=${JSON.stringify(value)}`);
  return { dir, trial: String(c.id), valAccuracy: Number(c.valAccuracy), sets };
}

/** `search()`: a search over training config fields on a pool of worker threads, as `cifar-mlp search` runs it. */
import type { SearchConfig } from '../config/schema.js';
import type { ProgressState } from '../search/progress.js';
import { searchIntoFolder, type SearchDisplay } from '../experiment/search-run.js';
import type { SearchSummary } from '../formats/search-summary.js';
import { abortedBeforeStart } from './abort.js';
import { configOfKind, type ConfigSource } from './config.js';
import type { FolderOptions } from './folder-options.js';
import { checkArgument, searchOptionsArgument } from './arguments.js';

export interface SearchOptions extends FolderOptions {
  /** Called as trials start, advance and finish. */
  onProgress?: (event: SearchEvent) => void;
}

/** The search as a whole when an event happens. */
export interface SearchState {
  /** Trials of the search, of which `done` have a result and `running` are running. */
  total: number;
  done: number;
  running: number;
  /** The best completed trial so far (by validation accuracy) and its parameter values as text. */
  best: { valAccuracy: number; params: string } | null;
}

/** What a search reports while it runs. `params`: the trial's searched values as text, e.g. "lambda=10^-3.07". */
export type SearchEvent =
  | { type: 'begin'; state: SearchState }
  | { type: 'trial-started'; trial: number; params: string; state: SearchState }
  | { type: 'trial-progress'; trial: number; steps: number; totalSteps: number; valAccuracy?: number }
  | {
    type: 'trial-finished'; trial: number; params: string; state: SearchState;
    /** completed, pruned, diverged, failed, or interrupted (the signal: runs again on resume). */
    status: string;
    /** Validation accuracy at its end (pruned: at the rung it stopped at); null when it has none. */
    valAccuracy: number | null;
    seconds: number;
    reason?: string | null;
  }
  | { type: 'note'; text: string };

const stateOf = (s: ProgressState): SearchState => ({
  total: s.total, done: s.done, running: s.running, best: s.best ? { valAccuracy: s.best.valAcc, params: s.best.label } : null,
});

function eventDisplay(emit: (e: SearchEvent) => void): SearchDisplay {
  return {
    begin: (state) => emit({ type: 'begin', state: stateOf(state) }),
    started: (trial, params, state) => emit({ type: 'trial-started', trial, params, state: stateOf(state) }),
    trialProgress: (trial, p) => emit({ type: 'trial-progress', trial, steps: p.steps, totalSteps: p.totalSteps, ...(p.valAccuracy !== undefined ? { valAccuracy: p.valAccuracy } : {}) }),
    finished: (trial, params, o, state) => emit({
      type: 'trial-finished', trial, params, state: stateOf(state), status: o.status, valAccuracy: o.valAcc, seconds: o.seconds, reason: o.reason,
    }),
    note: (text) => emit({ type: 'note', text }),
    stop: () => {},
  };
}

/**
 * Runs the search a search config describes (a validated config, a plain object, or the path of a YAML file) into
 * `options.out` and resolves with its summary (also written as summary.json): the ranking by validation accuracy,
 * every trial's result, and the chosen trial with its test accuracy (the only test figure of a search).
 * `status` is completed, interrupted (the signal) or failed (no trial completed). Rejects with a
 * ConfigError/UsageError on bad input (nothing written), with an AbortError when aborted before it started.
 */
export async function search(config: SearchConfig | ConfigSource, options: SearchOptions): Promise<SearchSummary> {
  checkArgument('search(): options', searchOptionsArgument, options);
  const { config: resolved, configPath } = configOfKind(config, 'search', 'search');
  const onProgress = options.onProgress;
  const result = await searchIntoFolder(resolved, {
    data: options.data, out: options.out, force: options.force, resume: options.resume, configPath,
    signal: options.signal ?? new AbortController().signal,
    log: options.log ?? (() => {}),
    downloadProgress: false,
    ...(onProgress ? { display: () => eventDisplay(onProgress) } : {}),
  });
  if (!result) throw abortedBeforeStart('search()');
  return result.summary;
}

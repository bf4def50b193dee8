/** A search's output folder as other commands see it (plot, evaluate): is it one, its summary, its chosen trial. */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UsageError } from '../util/errors.js';
import { MODEL_FILE } from '../formats/model-file.js';
import { parseJsonBounded } from '../util/bounded-json.js';
import { FileReadError, readRegularText } from '../util/read-file.js';
import type { SearchSummary } from './search.js';

/** Largest summary.json read (a search of 10,000 trials writes about 10 MB). */
const MAX_SUMMARY_BYTES = 64 * 2 ** 20;

const PLAN = 'plan.json';
const SUMMARY = 'summary.json';

/** Whether `dir` is a search's output folder (it holds plan.json). */
export const isSearchFolder = (dir: string) => existsSync(join(dir, PLAN));

/** Whether `dir` is a trial folder of a search (…/<search>/trials/<id>). */
export const isTrialFolder = (dir: string) => basename(dirname(dir)) === 'trials' && isSearchFolder(dirname(dirname(dir)));

export function readSearchSummary(dir: string): SearchSummary {
  const path = join(dir, SUMMARY);
  let s: SearchSummary;
  try {
    if (!existsSync(path)) throw new UsageError(`${path}: no search summary in this folder`);
    s = parseJsonBounded(readRegularText(path, { maxBytes: MAX_SUMMARY_BYTES, expected: 'a search summary.json' })) as SearchSummary;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${path}: unreadable (${e instanceof FileReadError ? e.reason : (e as Error).message})`);
  }
  if (s === null || typeof s !== 'object' || s.kind !== 'search' || !Array.isArray(s.results) || !Array.isArray(s.params)) {
    throw new UsageError(`${path}: not a search summary of this version of cifar-mlp (no params and results)`);
  }
  return s;
}

/** The folder of a search's chosen trial (best validation accuracy), or a one-line UsageError saying why there is none. */
export function chosenTrialDir(dir: string): string {
  const s = readSearchSummary(dir);
  const id = s.chosen?.id ?? s.results.find((e) => e.trial === s.best[0]?.trial)?.id;
  if (!id) throw new UsageError(`${dir}: the search has no completed trial to choose (status ${s.status})`);
  return join(dir, 'trials', id);
}

/** Why a trial folder has no model.json (its model was not kept), or null when that is not the case. */
export function missingTrialModel(dir: string): string | null {
  if (!isTrialFolder(dir) || existsSync(join(dir, MODEL_FILE))) return null;
  let keep = 'keepModels';
  try {
    const s = readSearchSummary(dirname(dirname(dir)));
    keep = `keepModels: ${s.config.keepModels}`;
  } catch {
    /* the summary is optional for this message */
  }
  return `${dir}: no ${MODEL_FILE}: the search kept the models of its best trials only (${keep}); this trial's was not kept (or it did not complete)`;
}

/**
 * The model a path names for `evaluate`: a search folder stands for its chosen trial's folder (`log` says so); a trial
 * folder whose model was not kept is a one-line UsageError. Anything else is returned as it is.
 */
export function modelTarget(path: string, log: (line: string) => void): string {
  let target = path;
  if (isSearchFolder(target)) {
    target = chosenTrialDir(path);
    log(`cifar-mlp: ${path} is a search: evaluating its chosen trial (best validation accuracy), ${target}`);
  }
  const missing = missingTrialModel(target);
  if (missing) throw new UsageError(missing);
  return target;
}

/** A search's output folder as other commands see it (plot, evaluate): is it one, its summary, its chosen trial. */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MODEL_FILE } from '../formats/model-file.js';
import { isSearchFolder, TRIALS_DIR } from '../formats/search-plan.js';
import { readSearchSummary } from '../formats/search-summary.js';
import { UsageError } from '../util/errors.js';

/** Whether `dir` is a trial folder of a search (…/<search>/trials/<id>). */
export const isTrialFolder = (dir: string) => basename(dirname(dir)) === TRIALS_DIR && isSearchFolder(dirname(dirname(dir)));

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

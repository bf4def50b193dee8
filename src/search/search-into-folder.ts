/**
 * A search, from its config to its output folder: what `cifar-mlp search` and the library's `search()` both do
 * (they differ only in how they report). Trials run on a pool of worker threads, or with `queue` on `cifar-mlp
 * worker` processes through Redis (queue-executor.ts). The data is read and normalised once here; every trial of the worker
 * pool shares it. Everything that can reject the input (data, sizes, the range source, every planned trial's
 * config) is checked before anything is written.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../util/errors.js';
import type { SearchConfig } from '../config/schema.js';
import { acquireDataDir } from '../data/acquire.js';
import { computeNormalization } from '../data/normalization.js';
import { loadSplits, type Splits } from '../data/splits.js';
import { checkSplitsFit } from '../pipeline/plan.js';
import { LOCK_FILE } from '../util/folder-lock.js';
import { claimDir, prepareOutDir, type OutDir } from '../util/out-dir.js';
import { withTrialProgress, type TrialProgress } from './executor.js';
import { LocalPoolExecutor } from './local-pool.js';
import { poolSize } from './plan.js';
import type { ProgressState, TrialOutcome } from './progress.js';
import { isSearchFigureFile } from './report-files.js';
import { planSearch, PLAN_FILE, RUNGS_CSV, runSearch, SUMMARY_FILE, TRIALS_CSV, type SearchSummary } from './search.js';
import { testFromModel } from './test-chosen.js';
import { dataFingerprint, dataKey } from './data-fingerprint.js';
import { checkQueueUrl, isSearchId, newSearchId } from './queue-protocol.js';
import type { TrialTask } from './types.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { parseJsonBounded } from '../util/bounded-json.js';
import { readRegularText } from '../util/read-file.js';

/** What a search tells while it runs (a terminal display, a library's callback). */
export interface SearchDisplay {
  begin(state: ProgressState): void;
  started(trial: number, params: string, state: ProgressState): void;
  trialProgress(trial: number, p: TrialProgress): void;
  finished(trial: number, params: string, outcome: TrialOutcome, state: ProgressState): void;
  note(text: string): void;
  stop(): void;
}

export interface SearchFolderOptions {
  /** The CIFAR-10 folder (else base.data.dir, $CIFAR10_DIR, ./data/cifar-10-batches-bin, else download). */
  data?: string;
  /** The output folder (default runs/<name>, or runs/<name>-<time> when taken). */
  out?: string;
  /** Replace the search files of a non-empty `out`. */
  force?: boolean;
  /** Run the trials of the search in `out` that did not finish. */
  resume?: boolean;
  /** The config file, when the config came from one (messages name it; a relative data.dir is taken from its folder). */
  configPath?: string;
  /** Stops the search: running trials stop after their current step and run again on resume. */
  signal: AbortSignal;
  log: (line: string) => void;
  /** The display of the trials, made once the pool's size (`slots`: trials at once) is known. */
  display?: (name: string, slots: number) => SearchDisplay;
  /** Draw a download's progress bar on stderr (default true). */
  downloadProgress?: boolean;
  /** Run the trials on `cifar-mlp worker` processes through this Redis URL instead of the local pool. */
  queue?: string;
}

export interface SearchFolderResult {
  summary: SearchSummary;
  outDir: string;
}

/**
 * What a search writes into its folder, removed before a new search with --force (the trials/ folder only when
 * the folder held a search); nothing else is touched.
 */
const QUEUE_FILE = 'queue.json';
const SEARCH_FILES = [PLAN_FILE, TRIALS_CSV, RUNGS_CSV, SUMMARY_FILE, 'config.yaml', 'report.html', QUEUE_FILE];

/**
 * The search's id on the queue: the one in <out>/queue.json when it resumes (its jobs, finished or not, are found
 * there), else a new one, written there.
 */
function queueSearchId(outDir: string, name: string, resume: boolean, log: (line: string) => void): string {
  const path = join(outDir, QUEUE_FILE);
  if (resume && existsSync(path)) {
    try {
      const id = (parseJsonBounded(readRegularText(path, { maxBytes: 4096, expected: 'a queue.json file' })) as { id?: unknown } | null)?.id;
      if (typeof id === 'string' && isSearchId(id)) return id;
    } catch { /* a new id below */ }
    log(`cifar-mlp: ${path}: unreadable; the search gets a new queue (trials that finished on workers meanwhile run again)`);
  }
  const id = newSearchId(name);
  writeJsonAtomic(path, { id });
  return id;
}

/** The fingerprint of the records each trial trains on, read here once per data config. */
function fingerprints(base: SearchConfig['base'], splits: Splits, dataDir: string): (task: TrialTask) => string {
  const cache = new Map<string, string>();
  return (task) => {
    const key = dataKey(task.config.data);
    let fp = cache.get(key);
    if (!fp) {
      fp = dataFingerprint(key === dataKey(base.data) ? splits : loadSplits(task.config.data, dataDir));
      cache.set(key, fp);
    }
    return fp;
  };
}

function outDirFor(config: SearchConfig, opts: SearchFolderOptions): OutDir {
  if (opts.resume && opts.force) throw new UsageError('--resume and --force exclude each other: --force would remove the search that --resume continues');
  if (opts.resume && !opts.out) {
    // Resume the search in its default folder.
    const dir = join('runs', config.name.replace(/[^A-Za-z0-9_.-]+/g, '-'));
    if (existsSync(join(dir, PLAN_FILE))) return { dir, lock: claimDir(dir, `--out ${dir}`, opts.log) };
    throw new UsageError(`--resume: give --out with the folder of the search to continue (no ${PLAN_FILE} in ${dir})`);
  }
  if (opts.resume && opts.out && existsSync(opts.out) && statSync(opts.out).isDirectory() && readdirSync(opts.out).some((n) => n !== LOCK_FILE) && !existsSync(join(opts.out, PLAN_FILE))) {
    throw new UsageError(`--resume: ${opts.out} holds no search (no ${PLAN_FILE}); choose another --out`);
  }
  const wasSearch = opts.out !== undefined && existsSync(join(opts.out, PLAN_FILE));
  const out = prepareOutDir(config.name, opts.out, opts);
  if (opts.force) {
    try {
      if (wasSearch) rmSync(join(out.dir, 'trials'), { recursive: true, force: true });
      for (const f of SEARCH_FILES) rmSync(join(out.dir, f), { force: true });
      for (const f of readdirSync(out.dir)) if (isSearchFigureFile(f)) rmSync(join(out.dir, f), { force: true });
    } catch (e) {
      out.lock.release();
      throw e;
    }
  }
  return out;
}

/**
 * Runs the search into its output folder. Resolves with its summary (completed, interrupted, or failed when no
 * trial completed) and folder, or with null when the signal was aborted before anything was written. Rejects
 * with a UsageError on bad input (nothing written).
 */
export async function searchIntoFolder(config: SearchConfig, opts: SearchFolderOptions): Promise<SearchFolderResult | null> {
  const source = opts.configPath ?? 'config';
  if (opts.queue !== undefined) checkQueueUrl(opts.queue); // a bad URL is refused before anything is read or written
  const dataDir = await acquireDataDir({
    cliDir: opts.data, configPath: opts.configPath, data: config.base.data, signal: opts.signal, log: opts.log, downloadProgress: opts.downloadProgress,
  });
  const t0 = Date.now();
  const splits = loadSplits(config.base.data, dataDir, source);
  checkSplitsFit(config.base, splits, source);
  const readSeconds = (Date.now() - t0) / 1000;
  // The space (narrowed by space.from) and every planned trial's config, checked by the training schema.
  if (!opts.resume) planSearch(config, undefined, source);
  if (opts.signal.aborted) return null;
  const out = outDirFor(config, opts);
  try {
    return { summary: await searchInFolder(config, opts, out.dir, { dataDir, splits, readSeconds }), outDir: out.dir };
  } finally {
    out.lock.release();
  }
}

async function searchInFolder(config: SearchConfig, opts: SearchFolderOptions, outDir: string, { dataDir, splits, readSeconds }: { dataDir: string; splits: Splits; readSeconds: number }): Promise<SearchSummary> {
  const cores = availableParallelism();
  const { log } = opts;
  const queueDisplay = opts.queue !== undefined ? checkQueueUrl(opts.queue) : undefined;
  let display: SearchDisplay | undefined;
  return runSearch({
    config,
    outDir,
    dataDir,
    resume: opts.resume,
    signal: opts.signal,
    log,
    trainRecords: splits.train.count,
    valRecords: splits.val.count,
    testChosen: testFromModel(splits.test, config.base.kernels.backend, config.base.kernels.threads || cores),
    executor: async (pending) => {
      if (opts.queue !== undefined) {
        const threads = Math.max(1, config.base.kernels.threads);
        const slots = config.workers > 0 ? config.workers : Math.min(pending, 512);
        const searchId = queueSearchId(outDir, config.name, opts.resume ?? false, log);
        log(`cifar-mlp: ${config.name}: data ${dataDir} (train ${splits.train.count}, val ${splits.val.count}, test ${splits.test.count}); ` +
          `${pending} trial${pending === 1 ? '' : 's'} to run on the queue ${queueDisplay} (search ${searchId}), up to ${slots} at once, ` +
          `${threads} kernel thread${threads === 1 ? '' : 's'} each; backend ${config.base.kernels.backend}; out ${outDir}`);
        log(`cifar-mlp: start workers with: cifar-mlp worker --queue ${queueDisplay} --data DIR`);
        if (config.space.sampler === 'tpe' && config.workers === 0) {
          log('cifar-mlp: warning: space.sampler tpe with workers: 0 queues every trial at once, so each is proposed before any result comes back ' +
            '(as random sampling); set workers to the number of worker processes');
        }
        const { QueueExecutor } = await import('./queue-executor.js'); // bullmq loads only for --queue
        const executor = await QueueExecutor.open({
          url: opts.queue, searchId, searchName: config.name, slots, threadsPerTrial: threads,
          fingerprint: fingerprints(config.base, splits, dataDir), signal: opts.signal,
          note: (t) => (display ? display.note(t) : log(`${config.name}: ${t}`)), log,
        });
        const shown = opts.display?.(config.name, executor.slots);
        display = shown;
        return shown ? withTrialProgress(executor, (trial, p) => shown.trialProgress(trial, p)) : executor;
      }
      const t1 = Date.now();
      const normalization = computeNormalization(splits.train);
      const size = poolSize({ workers: config.workers, kernelThreads: config.base.kernels.threads, pending, cores });
      log(`cifar-mlp: ${config.name}: data ${dataDir} (train ${splits.train.count}, val ${splits.val.count}, test ${splits.test.count}; ` +
        `read ${readSeconds.toFixed(1)}s and normalised ${((Date.now() - t1) / 1000).toFixed(1)}s, once for all trials); ${pending} trial${pending === 1 ? '' : 's'} to run, ` +
        `${size.workers} at once with ${size.threadsPerTrial} kernel thread${size.threadsPerTrial === 1 ? '' : 's'} each (${cores} cores); ` +
        `backend ${config.base.kernels.backend}; out ${outDir}`);
      const executor = new LocalPoolExecutor({ splits, normalization, workers: size.workers, threadsPerTrial: size.threadsPerTrial });
      const shown = opts.display?.(config.name, executor.slots);
      display = shown;
      return shown ? withTrialProgress(executor, (trial, p) => shown.trialProgress(trial, p)) : executor;
    },
    progress: {
      begin: (s) => display?.begin(s),
      started: (...a) => display?.started(...a),
      finished: (...a) => display?.finished(...a),
      note: (t) => display?.note(t),
      stop: () => display?.stop(),
    },
  });
}

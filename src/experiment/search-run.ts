/**
 * A search config into its output folder: what `cifar-mlp search` and the library's `search()` both do (they differ
 * only in how they report). Trials run on a pool of worker threads, or with `queue` on `cifar-mlp worker` processes
 * through Redis (search/queue-executor.ts). The data is read and normalised once here; every trial of the worker pool
 * shares it. Everything that can reject the input (the queue URL, data, sizes, the range source, every planned
 * trial's config) is checked before anything is written.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { SearchConfig } from '../config/schema.js';
import { acquireDataDir } from '../data/acquire.js';
import { computeNormalization } from '../data/normalization.js';
import { loadSplits, type Splits } from '../data/splits.js';
import { readQueueFile, QUEUE_FILE, writeQueueFile } from '../formats/queue-file.js';
import { SUMMARY_FILE } from '../formats/run-summary.js';
import { RUNGS_CSV } from '../formats/rungs-csv.js';
import { PLAN_FILE, TRIALS_DIR } from '../formats/search-plan.js';
import type { SearchSummary } from '../formats/search-summary.js';
import { TRIALS_CSV } from '../formats/trials-csv.js';
import { checkSplitsFit, kernelThreads } from '../pipeline/plan.js';
import { dataFingerprint, dataKey } from '../search/data-fingerprint.js';
import { withTrialProgress, type TrialExecutor, type TrialProgress } from '../search/executor.js';
import { LocalPoolExecutor } from '../search/local-pool.js';
import type { ProgressState, TrialOutcome } from '../search/progress.js';
import { checkQueueUrl, isSearchId, newSearchId } from '../search/queue-protocol.js';
import { isSearchFigureFile } from '../search/report-files.js';
import { runSearch } from '../search/run-search.js';
import { planSearch } from '../search/study.js';
import { testFromModel } from '../search/test-chosen.js';
import { poolSize } from '../search/trial-config.js';
import type { TrialTask } from '../search/types.js';
import { UsageError } from '../util/errors.js';
import { LOCK_FILE } from '../util/folder-lock.js';
import { claimDir, prepareOutDir, type OutDir } from '../util/out-dir.js';
import { runInFolder, type FolderStrategy } from './folder-run.js';
import { configSource, type FolderRunOptions } from './options.js';

/** What a search tells while it runs (a terminal display, a library's callback). */
export interface SearchDisplay {
  begin(state: ProgressState): void;
  started(trial: number, params: string, state: ProgressState): void;
  trialProgress(trial: number, p: TrialProgress): void;
  finished(trial: number, params: string, outcome: TrialOutcome, state: ProgressState): void;
  note(text: string): void;
  stop(): void;
}

export interface SearchFolderOptions extends FolderRunOptions {
  /** The display of the trials, made once the pool's size (`slots`: trials at once) is known. */
  display?: (name: string, slots: number) => SearchDisplay;
  /** Run the trials on `cifar-mlp worker` processes through this Redis URL instead of the local pool. */
  queue?: string;
  /** With queue: a folder shared with the workers through which the trials' files travel (search/queue-artifacts.ts). */
  artifacts?: string;
}

export interface SearchFolderResult {
  summary: SearchSummary;
  outDir: string;
}

/**
 * What a search writes into its folder, removed before a new search with --force (the trials/ folder only when
 * the folder held a search); nothing else is touched.
 */
const SEARCH_FILES = [PLAN_FILE, TRIALS_CSV, RUNGS_CSV, SUMMARY_FILE, 'config.yaml', 'report.html', QUEUE_FILE];

/**
 * The search's id on the queue: the one in <out>/queue.json when it resumes (its jobs, finished or not, are found
 * there), else a new one, written there.
 */
function queueSearchId(outDir: string, name: string, resume: boolean, log: (line: string) => void): string {
  const stored = resume ? readQueueFile(outDir) : undefined;
  if (typeof stored === 'string' && isSearchId(stored)) return stored;
  if (stored !== undefined) log(`cifar-mlp: ${join(outDir, QUEUE_FILE)}: unreadable; the search gets a new queue (trials that finished on workers meanwhile run again)`);
  const id = newSearchId(name);
  writeQueueFile(outDir, id);
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

/** The queue URL as it may be printed, once its server answered (search/queue-connection probeQueue). */
async function probeQueueOf(url: string, opts: SearchFolderOptions): Promise<string> {
  const reporterName = checkQueueUrl(url);
  const { ConnectionReporter, probeQueue } = await import('../search/queue-connection.js'); // ioredis loads only for --queue
  return probeQueue(url, new ConnectionReporter(reporterName, opts.log, 'coordinator'), opts.signal);
}

/** The search's folder: --out (a non-empty one with --force or --resume), or for --resume its default folder. */
function claimSearchFolder(config: SearchConfig, opts: SearchFolderOptions): OutDir {
  if (opts.resume && opts.force) throw new UsageError('--resume and --force exclude each other: --force would remove the search that --resume continues');
  if (opts.resume && !opts.out) {
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
      if (wasSearch) rmSync(join(out.dir, TRIALS_DIR), { recursive: true, force: true });
      for (const f of SEARCH_FILES) rmSync(join(out.dir, f), { force: true });
      for (const f of readdirSync(out.dir)) if (isSearchFigureFile(f)) rmSync(join(out.dir, f), { force: true });
    } catch (e) {
      out.lock.release();
      throw e;
    }
  }
  return out;
}

interface Prepared {
  dataDir: string;
  splits: Splits;
  readSeconds: number;
  /** The queue URL as it may be shown (no password). */
  queueDisplay?: string;
}

function searchRun(config: SearchConfig, opts: SearchFolderOptions): FolderStrategy<Prepared, SearchSummary> {
  return {
    name: config.name,
    async prepare() {
      // The queue URL and its server (transport, credentials, database), before anything is read or written.
      if (opts.artifacts !== undefined && opts.queue === undefined) throw new UsageError('--artifacts: only with --queue (the folder shared with the workers)');
      const queueDisplay = opts.queue !== undefined ? await probeQueueOf(opts.queue, opts) : undefined;
      const dataDir = await acquireDataDir({
        cliDir: opts.data, configPath: opts.configPath, data: config.base.data, signal: opts.signal, log: opts.log, downloadProgress: opts.downloadProgress,
      });
      const t0 = Date.now();
      const splits = loadSplits(config.base.data, dataDir, configSource(opts));
      checkSplitsFit(config.base, splits, configSource(opts));
      const readSeconds = (Date.now() - t0) / 1000;
      // The space (narrowed by space.from) and every planned trial's config, checked by the training schema.
      if (!opts.resume) planSearch(config, undefined, configSource(opts));
      return { dataDir, splits, readSeconds, ...(queueDisplay !== undefined ? { queueDisplay } : {}) };
    },
    claim: () => claimSearchFolder(config, opts),
    run: (p, dir) => searchInFolder(config, opts, dir, p),
  };
}

async function searchInFolder(config: SearchConfig, opts: SearchFolderOptions, outDir: string, { dataDir, splits, readSeconds, queueDisplay }: Prepared): Promise<SearchSummary> {
  const cores = availableParallelism();
  const { log } = opts;
  let display: SearchDisplay | undefined;
  const shown = (executor: TrialExecutor): TrialExecutor => {
    display = opts.display?.(config.name, executor.slots);
    const d = display;
    return d ? withTrialProgress(executor, (trial, p) => d.trialProgress(trial, p)) : executor;
  };
  const dataLine = `data ${dataDir} (train ${splits.train.count}, val ${splits.val.count}, test ${splits.test.count}`;
  return runSearch({
    config,
    outDir,
    dataDir,
    resume: opts.resume,
    signal: opts.signal,
    log,
    trainRecords: splits.train.count,
    valRecords: splits.val.count,
    testChosen: testFromModel(splits.test, config.base.kernels.backend, kernelThreads(config.base.kernels.threads)),
    executor: async (pending) => {
      if (opts.queue !== undefined) {
        const threads = kernelThreads(config.base.kernels.threads, 1, 1);
        const slots = config.workers > 0 ? config.workers : Math.min(pending, 512);
        const searchId = queueSearchId(outDir, config.name, opts.resume ?? false, log);
        log(`cifar-mlp: ${config.name}: ${dataLine}); ` +
          `${pending} trial${pending === 1 ? '' : 's'} to run on the queue ${queueDisplay} (search ${searchId}), up to ${slots} at once, ` +
          `${threads} kernel thread${threads === 1 ? '' : 's'} each; backend ${config.base.kernels.backend}; out ${outDir}`);
        log(`cifar-mlp: start workers with: cifar-mlp worker --queue ${queueDisplay} --data DIR`);
        if (config.space.sampler === 'tpe' && config.workers === 0) {
          log('cifar-mlp: warning: space.sampler tpe with workers: 0 queues every trial at once, so each is proposed before any result comes back ' +
            '(as random sampling); set workers to the number of worker processes');
        }
        const { QueueExecutor } = await import('../search/queue-executor.js'); // bullmq loads only for --queue
        return shown(await QueueExecutor.open({
          url: opts.queue, searchId, searchName: config.name, slots, threadsPerTrial: threads,
          fingerprint: fingerprints(config.base, splits, dataDir), signal: opts.signal, ...(opts.artifacts !== undefined ? { artifacts: opts.artifacts } : {}),
          note: (t) => (display ? display.note(t) : log(`${config.name}: ${t}`)), log,
        }));
      }
      const t1 = Date.now();
      const normalization = computeNormalization(splits.train);
      const size = poolSize({ workers: config.workers, kernelThreads: config.base.kernels.threads, pending, cores });
      log(`cifar-mlp: ${config.name}: ${dataLine}; ` +
        `read ${readSeconds.toFixed(1)}s and normalised ${((Date.now() - t1) / 1000).toFixed(1)}s, once for all trials); ${pending} trial${pending === 1 ? '' : 's'} to run, ` +
        `${size.workers} at once with ${size.threadsPerTrial} kernel thread${size.threadsPerTrial === 1 ? '' : 's'} each (${cores} cores); ` +
        `backend ${config.base.kernels.backend}; out ${outDir}`);
      return shown(new LocalPoolExecutor({ splits, normalization, workers: size.workers, threadsPerTrial: size.threadsPerTrial }));
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

/**
 * Runs the search into its output folder. Resolves with its summary (completed, interrupted, or failed when no
 * trial completed) and folder, or with null when the signal was aborted before anything was written. Rejects
 * with a UsageError on bad input (nothing written).
 */
export async function searchIntoFolder(config: SearchConfig, opts: SearchFolderOptions): Promise<SearchFolderResult | null> {
  const done = await runInFolder(searchRun(config, opts), opts);
  return done && { summary: done.result, outDir: done.outDir };
}

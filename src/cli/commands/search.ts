/**
 * `cifar-mlp run|search <search config>`: a search on a pool of worker threads, or with `--queue URL` on
 * `cifar-mlp worker` processes through Redis (src/search/queue-executor.ts).
 * The data is read and normalised once here; every trial shares it. Exit code: 0 completed,
 * 130 interrupted (continue with --resume), 1 when no trial completed.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { UsageError } from '../../config/errors.js';
import type { SearchConfig } from '../../config/schema.js';
import { acquireDataDir } from '../../data/acquire.js';
import { computeNormalization } from '../../data/normalization.js';
import { checkSplitsFit } from '../../pipeline/plan.js';
import { withTrialProgress } from '../../search/executor.js';
import { dataFingerprint, dataKey } from '../../search/data-fingerprint.js';
import { LocalPoolExecutor } from '../../search/local-pool.js';
import { checkQueueUrl, isSearchId, newSearchId } from '../../search/queue-protocol.js';
import type { TrialTask } from '../../search/types.js';
import { writeJsonAtomic } from '../../util/atomic.js';
import { parseJsonBounded } from '../../util/bounded-json.js';
import { readRegularText } from '../../util/read-file.js';
import { poolSize } from '../../search/plan.js';
import { SearchProgress } from '../../search/progress.js';
import { isSearchFigureFile } from '../../search/report-files.js';
import { planSearch, PLAN_FILE, RUNGS_CSV, runSearch, SUMMARY_FILE, TRIALS_CSV } from '../../search/search.js';
import { paramsLabel } from '../../search/space.js';
import { testFromModel } from '../../search/test-chosen.js';
import { claimDir, prepareOutDir, type OutDir } from '../out-dir.js';
import { loadSplits, type Splits } from '../../data/splits.js';
import { LOCK_FILE } from '../../util/folder-lock.js';
import { log, type RunOptions } from './train.js';

const pct = (v: number | null | undefined) => (v === null || v === undefined ? 'NA' : `${(100 * v).toFixed(2)}%`);

/**
 * What a search writes into its folder, removed before a new search with --force (the trials/ folder only when
 * the folder held a search); nothing else is touched.
 */
const QUEUE_FILE = 'queue.json';
const SEARCH_FILES = [PLAN_FILE, TRIALS_CSV, RUNGS_CSV, SUMMARY_FILE, 'config.yaml', 'report.html', QUEUE_FILE];

export interface SearchCommandOptions extends RunOptions {
  /** Run the trials on `cifar-mlp worker` processes through this Redis URL instead of the local pool. */
  queue?: string;
}

/**
 * The search's id on the queue: the one in <out>/queue.json when it resumes (its jobs, finished or not, are found
 * there), else a new one, written there.
 */
function queueSearchId(outDir: string, name: string, resume: boolean): string {
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

function outDirFor(config: SearchConfig, opts: RunOptions): OutDir {
  if (opts.resume && opts.force) throw new UsageError('--resume and --force exclude each other: --force would remove the search that --resume continues');
  if (opts.resume && !opts.out) {
    // Resume the search in its default folder.
    const dir = join('runs', config.name.replace(/[^A-Za-z0-9_.-]+/g, '-'));
    if (existsSync(join(dir, PLAN_FILE))) return { dir, lock: claimDir(dir, `--out ${dir}`, log) };
    throw new UsageError(`--resume: give --out with the folder of the search to continue (no ${PLAN_FILE} in ${dir})`);
  }
  if (opts.resume && opts.out && existsSync(opts.out) && statSync(opts.out).isDirectory() && readdirSync(opts.out).some((n) => n !== LOCK_FILE) && !existsSync(join(opts.out, PLAN_FILE))) {
    throw new UsageError(`--resume: ${opts.out} holds no search (no ${PLAN_FILE}); choose another --out`);
  }
  const wasSearch = opts.out !== undefined && existsSync(join(opts.out, PLAN_FILE));
  const out = prepareOutDir(config.name, opts.out, { ...opts, log });
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

export async function searchCommand(config: SearchConfig, opts: SearchCommandOptions): Promise<number> {
  const source = opts.configPath;
  if (opts.queue !== undefined) checkQueueUrl(opts.queue); // a bad URL is refused before anything is read or written
  // Everything that can reject the input is checked before anything is written: data, sizes, the range source.
  const dataDir = await acquireDataDir({ cliDir: opts.data, configPath: opts.configPath, data: config.base.data, signal: opts.signal, log });
  const t0 = Date.now();
  const splits = loadSplits(config.base.data, dataDir, source);
  checkSplitsFit(config.base, splits, source);
  const readSeconds = (Date.now() - t0) / 1000;
  // The space (narrowed by space.from) and every planned trial's config, checked by the training schema.
  if (!opts.resume) planSearch(config, undefined, source);
  if (opts.signal.aborted) {
    log('cifar-mlp: interrupted before the search started; nothing was written');
    return 130;
  }
  const out = outDirFor(config, opts);
  try {
    return await searchInFolder(config, opts, out.dir, { dataDir, splits, readSeconds });
  } finally {
    out.lock.release();
  }
}

async function searchInFolder(config: SearchConfig, opts: SearchCommandOptions, outDir: string, { dataDir, splits, readSeconds }: { dataDir: string; splits: Splits; readSeconds: number }): Promise<number> {
  const cores = availableParallelism();
  const queueDisplay = opts.queue !== undefined ? checkQueueUrl(opts.queue) : undefined;
  let progress: SearchProgress | undefined;

  const summary = await runSearch({
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
        const searchId = queueSearchId(outDir, config.name, opts.resume ?? false);
        log(`cifar-mlp: ${config.name}: data ${dataDir} (train ${splits.train.count}, val ${splits.val.count}, test ${splits.test.count}); ` +
          `${pending} trial${pending === 1 ? '' : 's'} to run on the queue ${queueDisplay} (search ${searchId}), up to ${slots} at once, ` +
          `${threads} kernel thread${threads === 1 ? '' : 's'} each; backend ${config.base.kernels.backend}; out ${outDir}`);
        log(`cifar-mlp: start workers with: cifar-mlp worker --queue ${queueDisplay} --data DIR`);
        if (config.space.sampler === 'tpe' && config.workers === 0) {
          log('cifar-mlp: warning: space.sampler tpe with workers: 0 queues every trial at once, so each is proposed before any result comes back ' +
            '(as random sampling); set workers to the number of worker processes');
        }
        const { QueueExecutor } = await import('../../search/queue-executor.js'); // bullmq loads only for --queue
        const executor = await QueueExecutor.open({
          url: opts.queue, searchId, searchName: config.name, slots, threadsPerTrial: threads,
          fingerprint: fingerprints(config.base, splits, dataDir), signal: opts.signal,
          note: (t) => (progress ? progress.note(t) : log(`${config.name}: ${t}`)), log,
        });
        const shown = new SearchProgress(config.name, executor.slots);
        progress = shown;
        return withTrialProgress(executor, (trial, p) => shown.trialProgress(trial, p));
      }
      const t1 = Date.now();
      const normalization = computeNormalization(splits.train);
      const size = poolSize({ workers: config.workers, kernelThreads: config.base.kernels.threads, pending, cores });
      log(`cifar-mlp: ${config.name}: data ${dataDir} (train ${splits.train.count}, val ${splits.val.count}, test ${splits.test.count}; ` +
        `read ${readSeconds.toFixed(1)}s and normalised ${((Date.now() - t1) / 1000).toFixed(1)}s, once for all trials); ${pending} trial${pending === 1 ? '' : 's'} to run, ` +
        `${size.workers} at once with ${size.threadsPerTrial} kernel thread${size.threadsPerTrial === 1 ? '' : 's'} each (${cores} cores); ` +
        `backend ${config.base.kernels.backend}; out ${outDir}`);
      const executor = new LocalPoolExecutor({ splits, normalization, workers: size.workers, threadsPerTrial: size.threadsPerTrial });
      const shown = new SearchProgress(config.name, executor.slots);
      progress = shown;
      return withTrialProgress(executor, (trial, p) => shown.trialProgress(trial, p));
    },
    progress: {
      begin: (s) => progress?.begin(s),
      started: (...a) => progress?.started(...a),
      finished: (...a) => progress?.finished(...a),
      note: (t) => progress?.note(t),
      stop: () => progress?.stop(),
    },
  });

  const { counts } = summary;
  const label = (p: Record<string, number | string | boolean>) => paramsLabel(summary.space, p);
  const resumeHint = summary.status === 'interrupted' ? `; continue with --out ${outDir} --resume` : '';
  log(`cifar-mlp: search ${summary.status}: ${counts.completed} completed, ${counts.pruned} pruned, ${counts.diverged} diverged, ${counts.failed} failed, ${counts.pending} not run, ` +
    `in ${summary.seconds.toFixed(1)}s` + (summary.note ? ` (${summary.note})` : ''));
  if (summary.trialSeconds > 0) {
    log(`cifar-mlp: ${summary.trialSeconds.toFixed(1)}s of trials in ${summary.seconds.toFixed(1)}s (${(summary.trialSeconds / summary.seconds).toFixed(2)} running on average, ` +
      `${summary.workers} worker(s) × ${summary.threadsPerTrial} kernel thread(s)); peak memory ${summary.peakRssMiB.toFixed(0)} MiB`);
  }
  if (config.pruning.rule !== 'none') {
    const { stepsSpent, stepsWithoutPruning } = summary.budget;
    log(`cifar-mlp: pruning (${config.pruning.rule}): ${counts.pruned} trial(s) pruned; ${stepsSpent} update steps spent, ${stepsWithoutPruning} without pruning ` +
      `(${stepsWithoutPruning > 0 ? ((100 * stepsSpent) / stepsWithoutPruning).toFixed(1) : '—'}%)`);
  }
  for (const r of summary.best) log(`cifar-mlp:   #${r.rank} trial ${r.trial} (${label(r.params)}): val ${pct(r.val_acc)}`);
  const c = summary.chosen;
  if (c) {
    log(`cifar-mlp: chosen trial ${c.id} (${label(c.params)}): val ${pct(c.valAccuracy)}, test ${c.test ? pct(c.test.accuracy) : `— (${c.note})`}` +
      ` (the search's only test figure); results in ${outDir}`);
  } else log(`cifar-mlp: no trial chosen; results in ${outDir}${resumeHint}`);
  return summary.status === 'completed' ? 0 : summary.status === 'interrupted' ? 130 : 1;
}

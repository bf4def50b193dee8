/**
 * `cifar-mlp run|search <search config>`: a lambda search on a pool of worker threads, or with `--queue URL` on
 * `cifar-mlp worker` processes through Redis (src/search/queue-executor.ts).
 * The data is read and normalised once here; every trial shares it. Exit code: 0 completed,
 * 130 interrupted (continue with --resume), 1 when no trial completed.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { UsageError } from '../../config/errors.js';
import type { SearchConfig } from '../../config/schema.js';
import { acquireDataDir } from '../../data/acquire.js';
import { computeNormalization } from '../../data/normalization.js';
import { checkSplitsFit } from '../../pipeline/plan.js';
import { dataFingerprint, dataKey } from '../../search/data-fingerprint.js';
import { LocalPoolExecutor } from '../../search/local-pool.js';
import { checkQueueUrl, isSearchId, newSearchId } from '../../search/queue-protocol.js';
import type { TrialTask } from '../../search/types.js';
import { writeJsonAtomic } from '../../util/atomic.js';
import { poolSize, resolveRange } from '../../search/plan.js';
import { SearchProgress } from '../../search/progress.js';
import { PLAN_FILE, runSearch, SUMMARY_FILE, TRIALS_CSV } from '../../search/search.js';
import { prepareOutDir } from '../out-dir.js';
import { loadSplits, type Splits } from '../../data/splits.js';
import { log, type RunOptions } from './train.js';

const pct = (v: number | null | undefined) => (v === null || v === undefined ? 'NA' : `${(100 * v).toFixed(2)}%`);

/**
 * What a search writes into its folder, removed before a new search with --force (the trials/ folder only when
 * the folder held a search); nothing else is touched.
 */
const QUEUE_FILE = 'queue.json';
const SEARCH_FILES = [PLAN_FILE, TRIALS_CSV, SUMMARY_FILE, 'config.yaml', 'lambda.svg', 'lambda.png', 'report.html', QUEUE_FILE];

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
      const id = (JSON.parse(readFileSync(path, 'utf8')) as { id?: unknown }).id;
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

function outDirFor(config: SearchConfig, opts: RunOptions): string {
  if (opts.resume && opts.force) throw new UsageError('--resume and --force exclude each other: --force would remove the search that --resume continues');
  if (opts.resume && !opts.out) {
    // Resume the search in its default folder.
    const dir = join('runs', config.name.replace(/[^A-Za-z0-9_.-]+/g, '-'));
    if (existsSync(join(dir, PLAN_FILE))) return dir;
    throw new UsageError(`--resume: give --out with the folder of the search to continue (no ${PLAN_FILE} in ${dir})`);
  }
  if (opts.resume && opts.out && existsSync(opts.out) && statSync(opts.out).isDirectory() && readdirSync(opts.out).length > 0 && !existsSync(join(opts.out, PLAN_FILE))) {
    throw new UsageError(`--resume: ${opts.out} holds no search (no ${PLAN_FILE}); choose another --out`);
  }
  const wasSearch = opts.out !== undefined && existsSync(join(opts.out, PLAN_FILE));
  const dir = prepareOutDir(config.name, opts.out, opts);
  if (opts.force) {
    if (wasSearch) rmSync(join(dir, 'trials'), { recursive: true, force: true });
    for (const f of SEARCH_FILES) rmSync(join(dir, f), { force: true });
  }
  return dir;
}

export async function searchCommand(config: SearchConfig, opts: SearchCommandOptions): Promise<number> {
  const source = opts.configPath;
  const queueDisplay = opts.queue !== undefined ? checkQueueUrl(opts.queue) : undefined;
  // Everything that can reject the input is checked before anything is written: data, sizes, the range source.
  const dataDir = await acquireDataDir({ cliDir: opts.data, configPath: opts.configPath, data: config.base.data, signal: opts.signal, log });
  const t0 = Date.now();
  const splits = loadSplits(config.base.data, dataDir, source);
  checkSplitsFit(config.base, splits, source);
  const readSeconds = (Date.now() - t0) / 1000;
  if (config.space.from && !opts.resume) resolveRange(config);
  if (opts.signal.aborted) {
    log('cifar-mlp: interrupted before the search started; nothing was written');
    return 130;
  }
  const outDir = outDirFor(config, opts);
  const cores = availableParallelism();
  let progress: SearchProgress | undefined;

  const summary = await runSearch({
    config,
    outDir,
    dataDir,
    resume: opts.resume,
    signal: opts.signal,
    log,
    executor: async (pending) => {
      if (opts.queue !== undefined) {
        const threads = Math.max(1, config.base.kernels.threads);
        const slots = config.workers > 0 ? config.workers : Math.min(pending, 512);
        const searchId = queueSearchId(outDir, config.name, opts.resume ?? false);
        log(`cifar-mlp: ${config.name}: data ${dataDir} (train ${splits.train.count}, val ${splits.val.count}, test ${splits.test.count}); ` +
          `${pending} trial${pending === 1 ? '' : 's'} to run on the queue ${queueDisplay} (search ${searchId}), up to ${slots} at once, ` +
          `${threads} kernel thread${threads === 1 ? '' : 's'} each; backend ${config.base.kernels.backend}; out ${outDir}`);
        log(`cifar-mlp: start workers with: cifar-mlp worker --queue ${queueDisplay} --data DIR`);
        const { QueueExecutor } = await import('../../search/queue-executor.js'); // bullmq loads only for --queue
        const executor = await QueueExecutor.open({
          url: opts.queue, searchId, searchName: config.name, slots, threadsPerTrial: threads,
          fingerprint: fingerprints(config.base, splits, dataDir), signal: opts.signal,
          note: (t) => (progress ? progress.note(t) : log(`${config.name}: ${t}`)), log,
        });
        progress = new SearchProgress(config.name, executor.slots);
        return executor;
      }
      const t1 = Date.now();
      const normalization = computeNormalization(splits.train);
      const size = poolSize({ workers: config.workers, kernelThreads: config.base.kernels.threads, pending, cores });
      log(`cifar-mlp: ${config.name}: data ${dataDir} (train ${splits.train.count}, val ${splits.val.count}, test ${splits.test.count}; ` +
        `read ${readSeconds.toFixed(1)}s and normalised ${((Date.now() - t1) / 1000).toFixed(1)}s, once for all trials); ${pending} trial${pending === 1 ? '' : 's'} to run, ` +
        `${size.workers} at once with ${size.threadsPerTrial} kernel thread${size.threadsPerTrial === 1 ? '' : 's'} each (${cores} cores); ` +
        `backend ${config.base.kernels.backend}; out ${outDir}`);
      const executor = new LocalPoolExecutor({ splits, normalization, workers: size.workers, threadsPerTrial: size.threadsPerTrial });
      progress = new SearchProgress(config.name, executor.slots);
      return executor;
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
  const best = summary.best[0];
  log(`cifar-mlp: search ${summary.status}: ${counts.completed} completed, ${counts.diverged} diverged, ${counts.failed} failed, ${counts.pending} not run, ` +
    `in ${summary.seconds.toFixed(1)}s` + (summary.note ? ` (${summary.note})` : ''));
  if (summary.trialSeconds > 0) {
    log(`cifar-mlp: ${summary.trialSeconds.toFixed(1)}s of trials in ${summary.seconds.toFixed(1)}s (${(summary.trialSeconds / summary.seconds).toFixed(2)} running on average, ` +
      `${summary.workers} worker(s) × ${summary.threadsPerTrial} kernel thread(s)); peak memory ${summary.peakRssMiB.toFixed(0)} MiB`);
  }
  for (const r of summary.best) {
    log(`cifar-mlp:   #${r.rank} trial ${r.trial}: l=${r.l.toFixed(4)} λ=${r.lambda.toExponential(3)} val ${pct(r.val_acc)} test ${pct(r.test_acc)}`);
  }
  if (best) log(`cifar-mlp: best lambda ${best.lambda.toExponential(4)} (10^${best.l.toFixed(4)}); results in ${outDir}` + (summary.status === 'interrupted' ? `; continue with --out ${outDir} --resume` : ''));
  else log(`cifar-mlp: no best lambda; results in ${outDir}` + (summary.status === 'interrupted' ? `; continue with --out ${outDir} --resume` : ''));
  return summary.status === 'completed' ? 0 : summary.status === 'interrupted' ? 130 : 1;
}

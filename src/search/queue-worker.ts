/**
 * `cifar-mlp worker`: runs trials from the queues of the searches in Redis (queue-executor.ts is the other side).
 *
 * It serves one search at a time: whichever registered search has trials waiting (round robin), through a BullMQ
 * Worker with `concurrency` trials at once, until that search has none left; then the next. Trials run on a local
 * Piscina pool (local-pool.ts, the same code as a search without a queue), on the records this worker reads from
 * its own --data folder, with the task's kernel threads, so a trial's result does not depend on where it ran.
 *
 * Before a trial runs, the job is checked: the versions of both sides (a mismatch is refused), the payload against
 * the schemas (the trial config with the training config schema; an invalid job fails for good), the data (read
 * from --data; the fingerprint must match the coordinator's), the kernel backend. A worker that cannot run a
 * search's trials fails the attempt with its reason (BullMQ retries it, on another worker when there is one) and
 * keeps away from that search for a while (5 s, doubling to 5 min), so that it does not eat the trial's attempts.
 *
 * The trial writes into this worker's own folder (never a path from the queue); its files go back in the job's
 * result and the folder is removed. Rungs: the worker posts a rung report as job progress and waits (bounded) for
 * the decision in the job's data. Stop: the coordinator's control.stop, a lost lock (another worker has the trial
 * now), or this worker's shutdown (the trial goes back to the queue without using up an attempt).
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { Queue, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { TrainConfig } from '../config/schema.js';
import { batchPath } from '../data/cifar.js';
import { computeNormalization } from '../data/normalization.js';
import { loadSplits, validationFiles, type Splits } from '../data/splits.js';
import type { BackendName } from '../kernels/names.js';
import { selectBackend } from '../kernels/select.js';
import { dataFingerprint, dataKey } from './data-fingerprint.js';
import type { RungDecision } from '../formats/rungs-csv.js';
import type { TrialExecutor, TrialHooks } from './executor.js';
import { LocalPoolExecutor } from './local-pool.js';
import { bullConnection, checkQueueUrl, ConnectionReporter, connectRedis, listSearches, processName } from './queue-connection.js';
import { MODEL_FILE } from '../formats/model-file.js';
import { MAX_TRIAL_BYTES, packFolder } from './queue-files.js';
import { openArtifactStore, putTrialFiles, type ArtifactStore } from './queue-artifacts.js';
import { describeFiles, INLINE_BYTES, sendFiles } from './queue-transfer.js';
import {
  coordinatorKey, rungDecisionSchema, rungDecisionsKey, rungField, rungReportsKey, controlSchema, encodeNumbers, handshakeProblem, identityFields, identityText, jobDataSchema, localIdentity, MAX_STALLED, QUEUE_PREFIX, zodProblems,
  type Identity, type SearchDescriptor, type TrialControl, type TrialJobResult, type JobProgress,
} from './queue-protocol.js';
import type { TrialData } from './run-trial.js';
import { formatValue, shortName } from './space.js';
import type { TrialResult, TrialTask } from './types.js';
import { percent } from '../util/format.js';

export interface QueueWorkerOptions {
  url: string;
  /** The CIFAR-10 folder this worker reads (absolute). */
  dataDir: string;
  /** Trials at once (default 1). */
  concurrency?: number;
  /** Parent of this worker's own work folder (default <tmp>/cifar-mlp-worker). */
  workRoot?: string;
  /** Shown to the coordinator (default host:pid). */
  name?: string;
  /** The artifact store shared with the coordinators of searches that use one (--artifacts). */
  artifacts?: string;
  /** Lock of a running trial: when the worker stops renewing it for this long, the trial goes to another worker (default 30000 ms). */
  lockMs?: number;
  /** Longest wait for a rung decision; then the trial continues (default 600000 ms). */
  rungTimeoutMs?: number;
  /** At a rung, how long without a coordinator's heartbeat before the trial continues undecided (default 15000 ms). */
  coordinatorGraceMs?: number;
  /** How often it looks for work when idle and whether to switch searches (default 1000 ms). */
  pollMs?: number;
  log?: (line: string) => void;
  /** Tests: another version, or another way to run trials than the local pool. */
  identity?: Identity;
  makeExecutor?: (data: TrialData, threads: number, concurrency: number) => TrialExecutor;
}

interface LoadedData {
  key: string;
  splits: Splits;
  fingerprint: string;
  data: TrialData;
}

interface RunningTrial {
  stop: (why: 'coordinator' | 'shutdown' | 'lost') => void;
}

/** "lambda=1.00e-3 hidden=57": a trial's searched values by their short names. */
const paramsText = (params: TrialTask['params']) =>
  Object.entries(params).map(([path, v]) => `${shortName(path)}=${formatValue(undefined, v)}`).join(' ') || 'no searched values';
const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];
const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((r) => {
  if (signal?.aborted) return r();
  const done = () => { clearTimeout(t); signal?.removeEventListener('abort', done); r(); };
  const t = setTimeout(done, ms);
  signal?.addEventListener('abort', done, { once: true });
});

export class QueueWorker {
  readonly name: string;
  readonly workDir: string;
  private readonly identity: Identity;
  private readonly concurrency: number;
  private readonly lockMs: number;
  private readonly rungTimeoutMs: number;
  private readonly coordinatorGraceMs: number;
  private readonly pollMs: number;
  private readonly log: (line: string) => void;
  private readonly display: string;
  private readonly reporter: ConnectionReporter;
  private redis: Redis | null = null;
  private readonly queues = new Map<string, Queue>();
  private readonly loaded = new Map<string, LoadedData>();
  private readonly executors = new Map<string, TrialExecutor>();
  private readonly backendChecks = new Map<string, Promise<string | null>>();
  private readonly running = new Map<string, RunningTrial>();
  private readonly backoff = new Map<string, { until: number; delay: number }>();
  private readonly stopping = new AbortController();
  private current: Worker | null = null;
  private lastServed = '';
  private loopDone: Promise<void> | null = null;
  private trialsRun = 0;
  private abandon: () => void = () => {};
  /** Resolves when stop() gave up waiting for Redis. */
  private readonly abandoned = new Promise<void>((r) => { this.abandon = r; });
  private store: ArtifactStore | null = null;

  constructor(private readonly opts: QueueWorkerOptions) {
    this.display = checkQueueUrl(opts.url);
    this.identity = opts.identity ?? localIdentity();
    this.name = (opts.name ?? processName()).slice(0, 100);
    this.concurrency = Math.max(1, opts.concurrency ?? 1);
    this.lockMs = opts.lockMs ?? 30_000;
    this.rungTimeoutMs = opts.rungTimeoutMs ?? 600_000;
    this.coordinatorGraceMs = opts.coordinatorGraceMs ?? 15_000;
    this.pollMs = opts.pollMs ?? 1000;
    this.log = opts.log ?? (() => {});
    this.reporter = new ConnectionReporter(this.display, this.log, `worker ${this.name}`);
    const root = resolve(opts.workRoot ?? join(tmpdir(), 'cifar-mlp-worker'));
    this.workDir = join(root, `${hostname().replace(/[^A-Za-z0-9_.-]/g, '_')}-${process.pid}`);
  }

  /** Connects (waiting while Redis is away), then serves searches until stop(). */
  async start(signal?: AbortSignal): Promise<void> {
    this.cleanStaleWorkDirs();
    mkdirSync(this.workDir, { recursive: true });
    try {
      this.redis = await connectRedis(this.opts.url, `cifar-mlp-worker-${this.name}`, this.reporter, signal);
    } catch (e) {
      rmSync(this.workDir, { recursive: true, force: true }); // stopped (or refused) while waiting for Redis: nothing left behind
      throw e;
    }
    this.log(`worker ${this.name}: ${identityText(this.identity)}; data ${this.opts.dataDir}; ${this.concurrency} trial(s) at once; ` +
      `work folder ${this.workDir}; waiting for trials on ${this.display}`);
    this.loopDone = this.loop();
  }

  /** Resolves when the worker has stopped (after stop()). */
  async finished(): Promise<void> {
    await Promise.race([this.loopDone, this.abandoned]);
  }

  /** Stops taking trials; running ones stop and go back to the queue for another worker. */
  async stop(): Promise<void> {
    if (!this.stopping.signal.aborted) {
      this.stopping.abort();
      for (const r of this.running.values()) r.stop('shutdown');
      // With Redis away nothing can be handed back, and commands waiting for it never end: the worker ends now.
      if (this.reporter.down) {
        this.redis?.disconnect();
        void this.current?.close(true).catch(() => {});
        void Promise.allSettled([...this.executors.values()].map((e) => e.close()));
        rmSync(this.workDir, { recursive: true, force: true });
        this.log(`worker ${this.name}: stopped after ${this.trialsRun} trial(s) (redis away: its running trials run again elsewhere once their locks expire)`);
        this.abandon();
        return;
      }
    }
    await this.loopDone?.catch(() => {});
  }

  private async loop(): Promise<void> {
    let idleSaid = false;
    try {
      while (!this.stopping.signal.aborted) {
        const search = await this.pickSearch().catch((e) => { this.reporter.error(e); return null; });
        if (!search) {
          if (!idleSaid) this.log(`worker ${this.name}: no search has trials waiting; looking every ${this.pollMs / 1000}s`);
          idleSaid = true;
          await sleep(this.pollMs, this.stopping.signal);
          continue;
        }
        idleSaid = false;
        await this.serve(search);
      }
    } finally {
      await this.shutdown();
    }
  }

  private queueOf(d: SearchDescriptor): Queue {
    let q = this.queues.get(d.queue);
    if (!q) {
      q = new Queue(d.queue, { connection: this.redis!, prefix: QUEUE_PREFIX });
      q.on('error', (e) => this.reporter.error(e));
      this.queues.set(d.queue, q);
    }
    return q;
  }

  private async waitingIn(d: SearchDescriptor): Promise<number> {
    const c = await this.queueOf(d).getJobCounts('waiting', 'prioritized', 'delayed');
    return (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0);
  }

  private inBackoff(id: string): boolean {
    return (this.backoff.get(id)?.until ?? 0) > Date.now();
  }

  /** The next registered search (round robin) that has trials waiting and that this worker is not keeping away from. */
  private async pickSearch(): Promise<SearchDescriptor | null> {
    const searches = await listSearches(this.redis!);
    const known = new Set(searches.map((s) => s.queue));
    for (const [name, q] of this.queues) if (!known.has(name)) { this.queues.delete(name); void q.close().catch(() => {}); }
    const at = searches.findIndex((s) => s.id === this.lastServed);
    const order = [...searches.slice(at + 1), ...searches.slice(0, at + 1)];
    for (const s of order) {
      if (this.inBackoff(s.id)) continue;
      if ((await this.waitingIn(s)) > 0) return s;
    }
    return null;
  }

  /** Runs the search's trials until it has none waiting (or this worker refuses it, or stops). */
  private async serve(search: SearchDescriptor): Promise<void> {
    this.lastServed = search.id;
    this.log(`worker ${this.name}: serving search ${search.name} (${search.id}, coordinator on ${search.host})`);
    const worker = new Worker(search.queue, (job, token, signal) => this.process(search, job, token, signal).catch((e: unknown) => {
      // The reason names this worker: whoever reads the job later (a resumed coordinator) blames the right one.
      if (e instanceof Error && !(e instanceof WaitingError) && !e.message.startsWith('worker ')) e.message = `worker ${this.name}: ${e.message}`;
      throw e;
    }), {
      connection: bullConnection(this.opts.url, `cifar-mlp-worker-${this.name}`),
      prefix: QUEUE_PREFIX,
      name: this.name,
      concurrency: this.concurrency,
      lockDuration: this.lockMs,
      stalledInterval: Math.max(1000, this.lockMs),
      maxStalledCount: MAX_STALLED,
      drainDelay: 1,
      autorun: true,
    });
    this.current = worker;
    worker.on('error', (e) => {
      if (/Missing (key|lock) for job|could not renew lock/.test(e.message)) return; // a trial this worker lost: already said
      this.reporter.error(e);
    });
    worker.on('lockRenewalFailed', (ids) => {
      for (const id of ids) this.running.get(`${search.id}/${id}`)?.stop('lost');
    });
    try {
      while (!this.stopping.signal.aborted) {
        await sleep(this.pollMs, this.stopping.signal);
        if (this.stopping.signal.aborted || this.inBackoff(search.id)) break;
        if ([...this.running.keys()].some((k) => k.startsWith(`${search.id}/`))) continue;
        const registered = (await listSearches(this.redis!)).some((s) => s.id === search.id);
        if (!registered || (await this.waitingIn(search)) === 0) break;
      }
    } catch (e) {
      this.reporter.error(e);
    } finally {
      await worker.close();
      this.current = null;
    }
  }

  private async shutdown(): Promise<void> {
    await this.current?.close(this.reporter.down).catch(() => {});
    await Promise.allSettled([...this.executors.values()].map((e) => e.close()));
    this.executors.clear();
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    this.redis?.disconnect();
    rmSync(this.workDir, { recursive: true, force: true });
    this.log(`worker ${this.name}: stopped after ${this.trialsRun} trial(s)`);
  }

  /** Work folders of workers of this host that no longer run (killed): removed. */
  private cleanStaleWorkDirs(): void {
    const root = resolve(this.workDir, '..');
    if (!existsSync(root)) return;
    const mine = `${hostname().replace(/[^A-Za-z0-9_.-]/g, '_')}-`;
    for (const name of readdirSync(root)) {
      if (!name.startsWith(mine)) continue;
      const pid = Number(name.slice(mine.length));
      if (!Number.isInteger(pid) || pid === process.pid) continue;
      try {
        process.kill(pid, 0);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(root, name), { recursive: true, force: true });
      }
    }
  }

  /** Fails this attempt with the reason and keeps away from the search for a while (doubling up to 5 min). */
  private async refuse(search: SearchDescriptor, reason: string): Promise<Error> {
    const prev = this.backoff.get(search.id);
    const delay = prev ? Math.min(prev.delay * 2, 300_000) : 5000;
    this.backoff.set(search.id, { until: Date.now() + delay, delay });
    this.log(`worker ${this.name}: refusing the trials of search ${search.name} (${search.id}): ${reason}; trying it again in ${delay / 1000}s`);
    await this.current?.pause(true).catch(() => {});
    return new Error(reason);
  }

  /** The splits a trial's data config selects, from this worker's folder (cached for the next trials). */
  private dataFor(data: TrainConfig['data']): LoadedData {
    const key = dataKey(data);
    const known = this.loaded.get(key);
    if (known) return known;
    // Nothing from the queue names a file outside the data folder (the schema allows plain names only; checked again).
    const root = resolve(this.opts.dataDir);
    for (const name of [...data.train, ...validationFiles(data), ...data.test]) {
      if (!resolve(batchPath(root, name)).startsWith(root + sep)) throw new Error(`batch name ${JSON.stringify(name)} leaves the data folder`);
    }
    // Other data: the old splits and their pools go, unless a trial still runs on them.
    if (this.running.size === 0) {
      for (const [k, e] of this.executors) { this.executors.delete(k); void e.close().catch(() => {}); }
      this.loaded.clear();
    }
    const splits = loadSplits(data, root, 'trial config');
    const normalization = computeNormalization(splits.train);
    const loaded = { key, splits, fingerprint: dataFingerprint(splits), data: { splits, normalization } };
    this.loaded.set(key, loaded);
    return loaded;
  }

  /** A check that says true once no coordinator of the search has renewed its heartbeat for coordinatorGraceMs. */
  private coordinatorAway(searchId: string): () => Promise<boolean> {
    let seen = Date.now();
    return async () => {
      if (await this.redis!.exists(coordinatorKey(searchId)).catch(() => 1)) seen = Date.now();
      return Date.now() - seen >= this.coordinatorGraceMs;
    };
  }

  /** This worker's artifact store when it is the one a job names, else why not (the store's id file is read once). */
  private storeFor(id: string): ArtifactStore | string {
    if (this.opts.artifacts === undefined) {
      return 'its trials keep their files in an artifact store: start the worker with --artifacts DIR (the folder shared with the coordinator)';
    }
    if (this.store?.id !== id) {
      try {
        this.store = openArtifactStore(this.opts.artifacts, false);
      } catch (e) {
        return message(e);
      }
    }
    return this.store.id === id ? this.store
      : `--artifacts ${this.opts.artifacts} here is another store (id ${this.store.id}) than the coordinator's (id ${id}): give the folder shared with the coordinator`;
  }

  /** Why the backend does not load here (null: it loads). Checked once per backend and thread count. */
  private backendProblem(choice: BackendName, threads: number): Promise<string | null> {
    const key = `${choice}/${threads}`;
    let check = this.backendChecks.get(key);
    if (!check) {
      check = (async () => {
        try {
          const { backend } = await selectBackend(choice, threads);
          await Promise.resolve(backend.dispose()).catch(() => {});
          return null;
        } catch (e) {
          return message(e);
        }
      })();
      this.backendChecks.set(key, check);
    }
    return check;
  }

  private executorFor(loaded: LoadedData, threads: number): TrialExecutor {
    const key = `${loaded.key}|${threads}`;
    let ex = this.executors.get(key);
    if (!ex) {
      ex = this.opts.makeExecutor?.(loaded.data, threads, this.concurrency)
        ?? new LocalPoolExecutor({ splits: loaded.splits, normalization: loaded.data.normalization, workers: this.concurrency, threadsPerTrial: threads });
      this.executors.set(key, ex);
    }
    return ex;
  }

  /** One job: checks, the trial on the local pool, its folder packed into the result. */
  private async process(search: SearchDescriptor, job: Job, token: string | undefined, bullSignal?: AbortSignal): Promise<TrialJobResult> {
    if (!job.data || typeof job.data !== 'object' || Array.isArray(job.data)) throw new UnrecoverableError('invalid trial job: its data is not an object');
    const mismatch = handshakeProblem(identityFields.parse(job.data), this.identity, 'coordinator');
    if (mismatch) throw await this.refuse(search, mismatch);
    const parsed = jobDataSchema.safeParse(job.data);
    if (!parsed.success) {
      this.log(`worker ${this.name}: job ${job.id} of search ${search.id}: invalid (${zodProblems(parsed.error)}); failed it`);
      throw new UnrecoverableError(`invalid trial job: ${zodProblems(parsed.error)}`);
    }
    const payload = parsed.data;
    if (payload.search !== search.id) throw new UnrecoverableError(`a job of search ${payload.search} in the queue of search ${search.id}`);
    const config = payload.task.config;
    const trial = payload.task.trial;

    let loaded: LoadedData;
    try {
      loaded = this.dataFor(config.data);
    } catch (e) {
      throw await this.refuse(search, `cannot load the trial's data from ${this.opts.dataDir}: ${message(e)}`);
    }
    if (loaded.fingerprint !== payload.fingerprint) {
      throw await this.refuse(search, `the data in ${this.opts.dataDir} differ from the coordinator's (records fingerprint ` +
        `${loaded.fingerprint.slice(0, 12)} here, ${payload.fingerprint.slice(0, 12)} there): give --data the same CIFAR-10 files`);
    }
    const store = payload.artifacts ? this.storeFor(payload.artifacts.store) : null;
    if (typeof store === 'string') throw await this.refuse(search, store);
    const backendProblem = await this.backendProblem(config.kernels.backend, payload.threads);
    if (backendProblem) throw await this.refuse(search, `kernel backend ${config.kernels.backend} does not load here: ${backendProblem}`);

    const outDir = join(this.workDir, search.id, `trial-${trial}-${job.attemptsStarted}`);
    rmSync(outDir, { recursive: true, force: true });
    mkdirSync(outDir, { recursive: true });
    const task: TrialTask = { ...payload.task, outDir, dataDir: this.opts.dataDir };
    const key = `${search.id}/${job.id}`;
    const label = `worker ${this.name}: trial ${trial} of ${search.name}`;

    // Stop requests: the coordinator's (control.stop), a lost lock or job, this worker's shutdown.
    const controller = new AbortController();
    let stopped: 'coordinator' | 'shutdown' | 'lost' | null = null;
    const stop = (why: 'coordinator' | 'shutdown' | 'lost') => {
      if (stopped) return;
      stopped = why;
      controller.abort();
      if (why === 'lost') this.log(`${label}: lost the trial (its lock expired, or the search ended): stopped it`);
    };
    if (this.stopping.signal.aborted) stop('shutdown');
    bullSignal?.addEventListener('abort', () => stop('lost'), { once: true });
    this.running.set(key, { stop });
    let control: TrialControl = payload.control;
    const queue = this.queueOf(search);
    const readControl = async () => {
      const j = await queue.getJob(job.id!);
      if (!j) return stop('lost');
      const c = controlSchema.safeParse(j.data?.control ?? {});
      if (c.success) control = c.data;
      if (control.stop) stop('coordinator');
    };
    const poll = setInterval(() => void readControl().catch((e) => this.reporter.error(e)), 1000);

    // Progress and rung reports, in order, as job progress.
    let progress: JobProgress = { worker: this.name };
    let posting = Promise.resolve();
    const post = (p: JobProgress) => {
      progress = p;
      posting = posting.then(() => job.updateProgress(p)).catch((e) => this.reporter.error(e));
      return posting;
    };
    let lastPost = 0, lastLine = Date.now();
    const hooks: TrialHooks = {
      onProgress: ({ steps: stepsDone, totalSteps, valAccuracy }) => {
        const now = Date.now();
        if (now - lastPost >= 1000 || stepsDone === totalSteps) {
          lastPost = now;
          void post({ worker: this.name, stepsDone, totalSteps, ...(valAccuracy !== undefined ? { valAccuracy } : {}) });
        }
        if (now - lastLine >= 10_000) {
          lastLine = now;
          this.log(`${label}: step ${stepsDone}/${totalSteps}`);
        }
      },
      ...(payload.task.rungs?.length ? { onRung: (r) => this.awaitDecision(search, trial, r, label, controller.signal, post, progress) } : {}),
    };

    this.log(`${label} started (${paramsText(payload.task.params)}, backend ${config.kernels.backend}, ${payload.threads} thread(s), attempt ${job.attemptsStarted})`);
    await post({ worker: this.name });
    let result: TrialResult;
    try {
      result = await this.executorFor(loaded, payload.threads).run(task, controller.signal, hooks);
    } catch (e) {
      result = { trial, status: controller.signal.aborted ? 'interrupted' : 'failed', final: null, steps: NaN, seconds: 0, backend: '', threads: payload.threads, reason: `worker: ${message(e)}` };
    } finally {
      clearInterval(poll);
      this.running.delete(key);
      await posting;
    }

    try {
      if (stopped === 'shutdown') {
        this.log(`${label}: stopped by this worker's shutdown; back in the queue for another worker`);
        await job.moveToWait(token);
        throw new WaitingError();
      }
      if (stopped === 'lost') throw new Error('the trial was taken from this worker (lock lost)');
      const stored = store ? putTrialFiles(store, search.id, trial, job.attemptsStarted, outDir, MAX_TRIAL_BYTES) : undefined;
      const described = stored ? null : describeFiles(outDir);
      if (described && described.bytes > MAX_TRIAL_BYTES) throw new Error(`trial folder ${outDir} holds more than ${MAX_TRIAL_BYTES / 2 ** 20} MiB: too large for the queue`);
      // In chunks to a running coordinator; inside the result when none runs (a resumed one collects it).
      const streamed = described && described.bytes > INLINE_BYTES && (await this.redis!.exists(coordinatorKey(search.id)))
        ? await sendFiles(this.redis!, search.id, trial, job.attemptsStarted, outDir, described.files, { coordinatorAway: this.coordinatorAway(search.id), signal: controller.signal }) ?? undefined
        : undefined;
      const files = stored || streamed ? [] : packFolder(outDir);
      this.trialsRun++;
      const withModel = (stored?.files ?? streamed?.files ?? files).some((f) => f.path === MODEL_FILE);
      const what = result.status === 'completed'
        ? `completed: val ${percent(result.final?.val.accuracy)} in ${result.seconds.toFixed(1)}s${withModel ? ' (with its model)' : ''}`
        : `${result.status}${result.reason ? `: ${result.reason}` : ''}`;
      this.log(`${label} ${what}`);
      return { ...this.identity, worker: this.name, result: encodeNumbers(result) as unknown as TrialJobResult['result'], files, ...(stored ? { stored } : {}), ...(streamed ? { streamed } : {}) };
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }

  /** The coordinator's decision for a rung, when it made one (a trial that runs again finds its earlier ones). */
  private async decisionFor(search: SearchDescriptor, field: string): Promise<RungDecision | undefined> {
    const d = rungDecisionSchema.safeParse(await this.redis!.hget(rungDecisionsKey(search.id), field));
    return d.success ? d.data : undefined;
  }

  /**
   * Writes the rung report (reports hash, and job progress as a hint) and waits for the coordinator's decision in the
   * decisions hash. The trial continues undecided after rungTimeoutMs, or sooner when no coordinator of the search has
   * renewed its heartbeat for coordinatorGraceMs (nobody would decide).
   */
  private async awaitDecision(
    search: SearchDescriptor, trial: number, r: { step: number; valAccuracy: number }, label: string,
    signal: AbortSignal, post: (p: JobProgress) => Promise<void>, last: JobProgress,
  ): Promise<RungDecision> {
    const field = rungField(trial, r.step);
    let decision = await this.decisionFor(search, field);
    if (!decision) {
      await this.redis!.hset(rungReportsKey(search.id), field, JSON.stringify({ valAccuracy: r.valAccuracy, worker: this.name }));
      await post({ ...last, worker: this.name, rung: { step: r.step, valAccuracy: r.valAccuracy } });
    }
    const until = Date.now() + this.rungTimeoutMs;
    const away = this.coordinatorAway(search.id);
    let lastLook = 0, why = `within ${this.rungTimeoutMs / 1000}s`;
    while (!decision && !signal.aborted && Date.now() < until) {
      await sleep(200, signal);
      decision = await this.decisionFor(search, field).catch((e) => { this.reporter.error(e); return undefined; });
      if (decision || Date.now() - lastLook < 1000) continue;
      lastLook = Date.now();
      if (await away()) {
        why = `(no coordinator of the search for ${Math.round(this.coordinatorGraceMs / 1000)}s)`;
        break;
      }
    }
    if (signal.aborted) {
      this.log(`${label}: stopped while waiting for the decision at rung step ${r.step}`);
      return 'continue';
    }
    if (decision) this.log(`${label} at rung step ${r.step}: val ${percent(r.valAccuracy)}; ${decision}`);
    else {
      this.log(`${label}: no rung decision at step ${r.step} ${why}; it continues undecided`);
      await this.redis!.hdel(rungReportsKey(search.id), field).catch((e) => this.reporter.error(e)); // nobody decides it after the fact
    }
    await post({ ...last, worker: this.name });
    return decision ?? 'continue';
  }
}


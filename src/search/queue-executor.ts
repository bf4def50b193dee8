/**
 * Trials on a BullMQ queue in Redis, run by `cifar-mlp worker` processes on any number of machines
 * (queue-worker.ts). The search calls run() per trial as with the local pool; this executor adds the trial as a
 * job of the search's own queue (cifar-mlp:trials-<search id>, listed in the registry so that workers find it)
 * and resolves when the job has finished, after writing the files the trial left into its folder of the search.
 *
 * BullMQ does the distributed part: workers take jobs, hold a lock they renew while the trial runs, and a job
 * whose lock expires (its worker was killed or cut off) is moved back to the queue by the stalled-job check
 * (which this coordinator runs too, so it happens even when every live worker is busy elsewhere); a job that
 * throws (a worker that cannot load its data or backend, or of another version) is retried `attempts` times, and
 * then fails with the worker's reason. A trial is recorded once: only the job's final state settles run().
 *
 * Rungs: the worker writes its rung report into the search's rung-reports hash (and, as a prompt hint, into the job's
 * progress) and waits; the coordinator asks hooks.onRung and writes the decision into the decisions hash, where the
 * worker reads it. Neither is overwritten by later progress, so a coordinator that missed the event, or a resumed one,
 * finds every undecided report at its next sweep. The coordinator renews a heartbeat key while it runs: a worker at a
 * rung with no coordinator does not wait for a decision that nobody will make. Stop: control.stop.
 *
 * Events (QueueEvents) make it prompt; a sweep of the job states every second makes it correct when events are
 * lost (Redis away) and re-adds jobs that vanished (Redis restarted without its data).
 *
 * Resume: jobs keep their results until the search closes, so a new coordinator of the same search (same id,
 * from the search folder's queue.json) collects what finished while none was running and attaches to what is
 * queued or running; only what is missing is added. close() removes the search's data from Redis.
 */
import { hostname } from 'node:os';
import { Queue, QueueEvents, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RungDecision } from '../formats/rungs-csv.js';
import type { TrialExecutor, TrialHooks } from './executor.js';
import { bullConnection, checkQueueUrl, ConnectionReporter, connectRedis, registerSearch, unregisterSearch } from './queue-connection.js';
import { openArtifactStore, removeSearchArtifacts, removeTrialArtifacts, takeTrialFiles, type ArtifactStore } from './queue-artifacts.js';
import { unpackInto } from './queue-files.js';
import { FileReceiver, transferKeys } from './queue-transfer.js';
import {
  COORDINATOR_TTL_MS, coordinatorKey, handshakeProblem, localIdentity, MAX_STALLED, parseRungField, progressSchema, QUEUE_PREFIX, resultEnvelopeSchema,
  rungDecisionsKey, rungField, rungReportSchema, rungReportsKey, transferAnnouncement, transfersKey, trialJobId, trialQueueName, zodProblems,
  type Identity, type SearchDescriptor, type TrialJobData,
} from './queue-protocol.js';
import type { TrialResult, TrialTask } from './types.js';

export interface QueueExecutorOptions {
  /** redis:// or rediss:// URL. */
  url: string;
  /** The search's id (queue-protocol newSearchId; kept in the search folder so that --resume finds its jobs). */
  searchId: string;
  searchName: string;
  /** Trials in flight (queued or running) at once. */
  slots: number;
  /** Kernel threads of every trial, whichever worker runs it. */
  threadsPerTrial: number;
  /** dataFingerprint() of the records the coordinator reads for this task's data config. */
  fingerprint: (task: TrialTask) => string;
  /** Tries per trial when a worker fails it (cannot load data or backend, another version): default 3. */
  attempts?: number;
  /** How often the coordinator looks for trials whose worker stopped renewing its lock: default 5000 ms. */
  stalledIntervalMs?: number;
  /** After a stop, how long a running trial may take to report before it counts as interrupted: default 15000 ms. */
  graceMs?: number;
  /** Trial status lines (queued, running on which worker, retried). */
  note?: (line: string) => void;
  /** Connection lines (Redis away, back) and warnings. */
  log?: (line: string) => void;
  /** Stops waiting for Redis at start. */
  signal?: AbortSignal;
  /** A folder shared with the workers (--artifacts): the trials' files go through it instead of through Redis. */
  artifacts?: string;
  /** Tests: pretend to be another version. */
  identity?: Identity;
}

interface Entry {
  task: TrialTask;
  jobId: string;
  data: TrialJobData;
  hooks: TrialHooks;
  signal: AbortSignal;
  resolve: (r: TrialResult) => void;
  startedAt: number;
  enqueued: boolean;
  settled: boolean;
  state: 'queued' | 'running';
  worker: string | null;
  attemptsSeen: number;
  stallsSeen: number;
  requeued: number;
  stopRequested: boolean;
  decisions: Map<number, RungDecision>;
  deciding: Set<number>;
  lastProgress: string;
  refreshing: Promise<void> | null;
  again: boolean;
  controlWrite: Promise<void>;
  graceTimer?: NodeJS.Timeout;
  onAbort?: () => void;
  /** Since when its current attempt runs (null: queued), and its length in steps once a worker said it. */
  runningSince?: number | null;
  totalSteps?: number;
  /** The chunked transfer of the trial's files now coming in (queue-transfer.ts). */
  receiver?: FileReceiver;
}

/** BullMQ's reason for a job whose lock expired more than maxStalledCount times. */
const STALLED_OUT = /stalled more than allowable limit/;
/** How often a trial goes back to the queue afresh (stalled out, or stopped by something else than this search). */
const MAX_REQUEUES = 5;
/** Trials the sweep looks at per second (all of them when fewer are in flight). */
const SWEEP_BATCH = 64;
/** How long a collected trial's job stays in Redis (for the search to record its row first). */
const FORGET_AFTER_MS = 10_000;
/** Running trials named in a status line. */
const STATUS_RUNNING = 8;
const QUEUED_STATES = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children']);
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class QueueExecutor implements TrialExecutor {
  readonly slots: number;
  readonly threadsPerTrial: number;
  readonly queueName: string;
  private readonly identity: Identity;
  private readonly attempts: number;
  private readonly graceMs: number;
  private readonly note: (line: string) => void;
  private readonly log: (line: string) => void;
  private readonly inflight = new Map<string, Entry>();
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly heartbeatTimer: NodeJS.Timeout;
  private sweeping = false;
  private sweepAt = 0;
  /** Jobs of recorded trials, removed from Redis a while after (by then the search has written their rows). */
  private readonly collected: { jobId: string; at: number }[] = [];
  private closed = false;
  private done = 0;

  private constructor(
    private readonly opts: QueueExecutorOptions,
    private readonly redis: Redis,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly stallChecker: Worker,
    private readonly reporter: ConnectionReporter,
    private readonly descriptor: SearchDescriptor,
    private readonly store: ArtifactStore | null,
  ) {
    this.slots = Math.max(1, opts.slots);
    this.threadsPerTrial = Math.max(1, opts.threadsPerTrial);
    this.queueName = descriptor.queue;
    this.identity = opts.identity ?? localIdentity();
    this.attempts = Math.max(1, opts.attempts ?? 3);
    this.graceMs = opts.graceMs ?? 15_000;
    this.note = opts.note ?? (() => {});
    this.log = opts.log ?? (() => {});
    for (const ev of ['active', 'completed', 'failed', 'stalled', 'waiting', 'removed', 'delayed', 'retries-exhausted'] as const) {
      events.on(ev, ({ jobId }: { jobId: string }) => this.kick(jobId));
    }
    events.on('progress', ({ jobId, data }: { jobId: string; data: unknown }) => {
      const entry = this.inflight.get(jobId);
      if (entry) this.onJobProgress(entry, data);
      this.kick(jobId);
    });
    reporter.onReconnect = () => {
      // Redis may have restarted without its data: register again; the sweep re-adds vanished jobs.
      void registerSearch(this.redis, this.descriptor).catch((e) => this.log(`coordinator: registering the search again: ${message(e)}`));
      for (const id of this.inflight.keys()) this.kick(id);
    };
    this.sweepTimer = setInterval(() => void this.sweep(), 1000);
    this.heartbeat();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), COORDINATOR_TTL_MS / 3);
  }

  /** Connects (waiting for Redis if it is away), registers the search and starts the stalled-job check. */
  static async open(opts: QueueExecutorOptions): Promise<QueueExecutor> {
    const display = checkQueueUrl(opts.url);
    const store = opts.artifacts !== undefined ? openArtifactStore(opts.artifacts, true) : null;
    const log = opts.log ?? (() => {});
    const reporter = new ConnectionReporter(display, log, 'coordinator');
    const name = trialQueueName(opts.searchId);
    const redis = await connectRedis(opts.url, `cifar-mlp-coordinator-${opts.searchId}`, reporter, opts.signal);
    const queue = new Queue(name, { connection: redis, prefix: QUEUE_PREFIX });
    queue.on('error', (e) => reporter.error(e));
    const events = new QueueEvents(name, { connection: bullConnection(opts.url, `cifar-mlp-events-${opts.searchId}`), prefix: QUEUE_PREFIX });
    events.on('error', (e) => reporter.error(e));
    const stallChecker = new Worker(name, null, {
      connection: bullConnection(opts.url, `cifar-mlp-stall-check-${opts.searchId}`),
      prefix: QUEUE_PREFIX,
      autorun: false,
      stalledInterval: opts.stalledIntervalMs ?? 5000,
      maxStalledCount: MAX_STALLED,
    });
    stallChecker.on('error', (e) => reporter.error(e));
    const identity = opts.identity ?? localIdentity();
    const descriptor: SearchDescriptor = {
      id: opts.searchId, name: opts.searchName.slice(0, 200), queue: name, ...identity, host: hostname().slice(0, 200), createdAt: new Date().toISOString(),
    };
    await registerSearch(redis, descriptor);
    await events.waitUntilReady();
    await stallChecker.startStalledCheckTimer();
    return new QueueExecutor(opts, redis, queue, events, stallChecker, reporter, descriptor, store);
  }

  run(task: TrialTask, signal: AbortSignal, hooks: TrialHooks = {}): Promise<TrialResult> {
    const jobId = trialJobId(task.trial);
    const { outDir: _o, dataDir: _d, ...sent } = task;
    if (!(task.rungs?.length && hooks.onRung)) delete sent.rungs;
    const data: TrialJobData = {
      ...this.identity, search: this.opts.searchId, task: sent, fingerprint: this.opts.fingerprint(task), threads: this.threadsPerTrial, control: {},
      ...(this.store ? { artifacts: { store: this.store.id } } : {}),
    };
    return new Promise<TrialResult>((resolve) => {
      const entry: Entry = {
        task, jobId, data, hooks, signal, resolve, startedAt: Date.now(), enqueued: false, settled: false, state: 'queued', worker: null,
        attemptsSeen: 0, stallsSeen: 0, requeued: 0, stopRequested: false, decisions: new Map(), deciding: new Set(), lastProgress: '',
        refreshing: null, again: false, controlWrite: Promise.resolve(),
      };
      this.inflight.set(jobId, entry);
      entry.onAbort = () => void this.stop(entry);
      this.enqueue(entry).then(() => {
        entry.enqueued = true;
        if (signal.aborted) entry.onAbort!();
        else signal.addEventListener('abort', entry.onAbort!, { once: true });
        this.kick(jobId);
      }, (e) => this.settle(entry, this.failed(entry, `queue: ${message(e)}`)));
    });
  }

  /** Adds the trial's job, or attaches to (or collects) the job an earlier coordinator of this search left. */
  private async enqueue(entry: Entry): Promise<void> {
    const { job: existing, state } = await this.jobAndState(entry.jobId);
    if (existing) {
      const same = sameTrial(existing.data, entry.data);
      // collect() also re-adds a job that only holds an interrupted run.
      if (same && state === 'completed') return void await this.collect(entry, existing, true);
      if (same && (state === 'active' || QUEUED_STATES.has(state))) {
        entry.data = { ...entry.data, control: existing.data.control ?? {} };
        this.note(`trial ${entry.task.trial}: already ${state === 'active' ? `running on ${existing.processedBy ?? 'a worker'}` : 'queued'} (left by an earlier run of this search): waiting for it`);
        return;
      }
      if (state === 'active') await this.stopStale(existing);
      await existing.remove();
    }
    await this.add(entry);
  }

  private async add(entry: Entry): Promise<void> {
    await this.queue.add('trial', entry.data, {
      jobId: entry.jobId,
      attempts: this.attempts,
      backoff: { type: 'fixed', delay: 1000 },
      removeOnComplete: false,
      removeOnFail: false,
    });
    entry.state = 'queued';
  }

  /** A job of an earlier run with another trial config (e.g. other kernel settings) that still runs: stop it first. */
  private async stopStale(job: Job): Promise<void> {
    await job.updateData({ ...job.data, control: { ...(job.data?.control ?? {}), stop: true } });
    const until = Date.now() + this.graceMs;
    while (Date.now() < until && (await job.getState()) === 'active') await new Promise((r) => setTimeout(r, 250));
    if ((await job.getState()) === 'active') throw new Error(`an earlier run of trial ${job.id} with another config still runs on ${job.processedBy ?? 'a worker'} and does not stop`);
  }

  /** The job's state, then the job (read in this order, a finished job comes with its result). */
  private async jobAndState(jobId: string): Promise<{ job: Job | undefined; state: string }> {
    const state = await this.queue.getJobState(jobId);
    const job = await this.queue.getJob(jobId);
    return { job, state: job ? state : 'unknown' };
  }

  private kick(jobId: string): void {
    const entry = this.inflight.get(jobId);
    if (entry && entry.enqueued && !entry.settled) void this.refresh(entry);
  }

  private async sweep(): Promise<void> {
    if (this.sweeping || this.closed) return;
    this.sweeping = true;
    try {
      await this.decideReported();
      await this.receiveAnnounced();
      await this.forgetCollected();
      // A bounded batch per sweep, round robin: events make the coordinator prompt, the sweep only makes it correct.
      const entries = [...this.inflight.values()].filter((e) => e.enqueued && !e.settled);
      const n = Math.min(entries.length, SWEEP_BATCH);
      for (let i = 0; i < n; i++) await this.refresh(entries[(this.sweepAt + i) % entries.length]);
      this.sweepAt = entries.length ? (this.sweepAt + n) % entries.length : 0;
    } catch (e) {
      if (!this.closed) this.reporter.error(e);
    } finally {
      this.sweeping = false;
    }
  }

  /** Looks at the job and acts on its state; one at a time per trial (a call during one makes it run again). */
  private refresh(entry: Entry): Promise<void> {
    if (entry.refreshing) {
      entry.again = true;
      return entry.refreshing;
    }
    entry.refreshing = (async () => {
      do {
        entry.again = false;
        try {
          await this.refreshOnce(entry);
        } catch (e) {
          if (!this.closed) this.reporter.error(e);
        }
      } while (entry.again && !entry.settled);
    })().finally(() => { entry.refreshing = null; });
    return entry.refreshing;
  }

  private async refreshOnce(entry: Entry): Promise<void> {
    if (entry.settled) return;
    const { job, state } = await this.jobAndState(entry.jobId);
    if (entry.settled) return;
    const trial = entry.task.trial;
    if (!job) {
      if (entry.stopRequested) return this.settle(entry, this.interrupted(entry));
      this.note(`trial ${trial}: its job is gone from redis (restarted without its data?): queued again`);
      await this.add(entry);
      await this.writeControl(entry);
      return;
    }
    if (state === 'completed') {
      await this.collect(entry, job, false);
      return;
    }
    if (state === 'failed' && STALLED_OUT.test(job.failedReason ?? '') && entry.requeued < MAX_REQUEUES) {
      // Its workers died (or were cut off) again and again: not the trial's fault; it starts afresh.
      entry.requeued++;
      this.note(`trial ${trial}: its workers stopped answering ${MAX_STALLED + 1} times (killed?): queued again afresh (${entry.requeued} of ${MAX_REQUEUES})`);
      await job.remove();
      await this.add(entry);
      return;
    }
    if (state === 'failed') {
      const tries = job.attemptsMade > 1 ? ` after ${job.attemptsMade} attempts` : '';
      const { worker, reason } = failureOf(job);
      return this.settle(entry, this.failed(entry, `${reason || 'failed in the queue'}${tries}`, worker));
    }
    const worker = state === 'active' ? (job.processedBy ?? progressSchema.safeParse(job.progress).data?.worker ?? 'a worker') : null;
    if (job.attemptsMade > entry.attemptsSeen) {
      entry.attemptsSeen = job.attemptsMade;
      const { worker: who, reason } = failureOf(job);
      // An attempt that ended without a reason was not a failure (its worker stopped answering: said below).
      if (reason) this.note(`trial ${trial}: attempt ${job.attemptsMade} of ${this.attempts} failed${who ? ` on ${who}` : ''}: ${reason}; queued for another try`);
    }
    if ((job.stalledCounter ?? 0) > entry.stallsSeen) {
      entry.stallsSeen = job.stalledCounter;
      this.note(`trial ${trial}: ${entry.worker ?? 'its worker'} stopped answering (lock expired): queued again for another worker`);
    }
    const next = state === 'active' ? 'running' : 'queued';
    if (next !== entry.state || worker !== entry.worker) {
      entry.state = next;
      entry.worker = worker;
      // A new attempt (another worker, or back in the queue): time estimates start it afresh, not from its first start.
      entry.runningSince = next === 'running' ? Date.now() : null;
      entry.lastProgress = '';
      if (entry.totalSteps !== undefined) entry.hooks.onProgress?.({ steps: 0, totalSteps: entry.totalSteps, attemptSeconds: 0 });
      this.note(`trial ${trial} ${next === 'running' ? `running on ${worker}` : 'queued'} | ${this.status()}`);
    }
    if (state === 'active') this.onJobProgress(entry, job.progress);
  }

  /** done / running (on which worker) / queued, of this coordinator's trials. */
  status(): string {
    const entries = [...this.inflight.values()].filter((e) => !e.settled);
    const running = entries.filter((e) => e.state === 'running').sort((a, b) => a.task.trial - b.task.trial);
    const queued = entries.length - running.length;
    const who = running.slice(0, STATUS_RUNNING).map((e) => `${e.task.trial}←${e.worker}`).join(', ') +
      (running.length > STATUS_RUNNING ? `, +${running.length - STATUS_RUNNING}` : '');
    return `${this.done} done, ${running.length} running${who ? ` (${who})` : ''}, ${queued} queued`;
  }

  private onJobProgress(entry: Entry, raw: unknown): void {
    const parsed = progressSchema.safeParse(raw);
    if (!parsed.success || entry.settled) return;
    const p = parsed.data;
    const key = `${p.stepsDone}/${p.totalSteps}`;
    if (p.stepsDone !== undefined && p.totalSteps !== undefined && key !== entry.lastProgress) {
      entry.lastProgress = key;
      entry.totalSteps = p.totalSteps;
      entry.runningSince ??= Date.now();
      entry.hooks.onProgress?.({
        steps: p.stepsDone, totalSteps: p.totalSteps, attemptSeconds: (Date.now() - entry.runningSince) / 1000,
        ...(p.valAccuracy !== undefined ? { valAccuracy: p.valAccuracy } : {}),
      });
    }
    if (p.rung && !entry.decisions.has(p.rung.step) && !entry.deciding.has(p.rung.step)) void this.decide(entry, p.rung);
  }

  private async forgetCollected(): Promise<void> {
    while (this.collected.length && Date.now() - this.collected[0].at > FORGET_AFTER_MS) {
      const { jobId } = this.collected[0];
      await this.queue.remove(jobId);
      this.collected.shift();
    }
  }

  /** Keeps this coordinator's heartbeat key alive (workers at a rung look at it). */
  private heartbeat(): void {
    if (this.closed) return;
    this.redis.set(coordinatorKey(this.opts.searchId), this.descriptor.host, 'PX', COORDINATOR_TTL_MS).catch((e) => this.reporter.error(e));
  }

  /** Every rung report in the reports hash whose trial runs here and that is not decided yet: decided now. */
  private async decideReported(): Promise<void> {
    const reports = await this.redis.hgetall(rungReportsKey(this.opts.searchId));
    for (const [field, text] of Object.entries(reports)) {
      const at = parseRungField(field);
      const entry = at && this.inflight.get(trialJobId(at.trial));
      if (!at || !entry || entry.settled || entry.decisions.has(at.step) || entry.deciding.has(at.step)) continue;
      let report;
      try {
        report = rungReportSchema.parse(JSON.parse(text));
      } catch {
        continue;
      }
      void this.decide(entry, { step: at.step, valAccuracy: report.valAccuracy });
    }
  }

  /** Starts receiving every announced transfer of a trial that runs here (a newer one replaces an older one). */
  private async receiveAnnounced(): Promise<void> {
    const announced = await this.redis.hgetall(transfersKey(this.opts.searchId));
    for (const [trial, text] of Object.entries(announced)) {
      const entry = /^\d{1,7}$/.test(trial) ? this.inflight.get(trialJobId(Number(trial))) : undefined;
      if (!entry || entry.settled) continue;
      let a;
      try {
        a = transferAnnouncement.parse(JSON.parse(text));
      } catch {
        continue;
      }
      if (entry.receiver?.announcement.key === a.key) continue;
      entry.receiver?.abandon();
      entry.receiver = new FileReceiver(this.redis, a, entry.task.outDir);
    }
  }

  private async decide(entry: Entry, rung: { step: number; valAccuracy: number }): Promise<void> {
    entry.deciding.add(rung.step);
    let d: RungDecision = 'continue';
    try {
      if (entry.hooks.onRung && entry.task.rungs?.includes(rung.step)) d = await entry.hooks.onRung({ trial: entry.task.trial, step: rung.step, valAccuracy: rung.valAccuracy });
    } catch (e) {
      this.log(`coordinator: trial ${entry.task.trial}: rung decision at step ${rung.step} failed (${message(e)}); it continues`);
    }
    const field = rungField(entry.task.trial, rung.step);
    try {
      await this.redis.multi().hset(rungDecisionsKey(this.opts.searchId), field, d).hdel(rungReportsKey(this.opts.searchId), field).exec();
      entry.decisions.set(rung.step, d);
    } catch (e) {
      this.reporter.error(e); // not recorded as decided: the next sweep finds the report again
    } finally {
      entry.deciding.delete(rung.step);
    }
  }

  /** Writes the stop request into the job's data, where its worker reads it. */
  private writeControl(entry: Entry): Promise<void> {
    entry.controlWrite = entry.controlWrite.then(async () => {
      entry.data = { ...entry.data, control: entry.stopRequested ? { stop: true } : {} };
      const job = await this.queue.getJob(entry.jobId);
      await job?.updateData(entry.data);
    }).catch((e) => this.reporter.error(e));
    return entry.controlWrite;
  }

  private async stop(entry: Entry): Promise<void> {
    if (entry.settled || entry.stopRequested) return;
    entry.stopRequested = true;
    entry.graceTimer = setTimeout(() => this.settle(entry, this.interrupted(entry)), this.graceMs);
    try {
      await this.writeControl(entry);
      const job = await this.queue.getJob(entry.jobId);
      const state = job ? await job.getState() : 'unknown';
      if (!job || QUEUED_STATES.has(state)) {
        await job?.remove().catch(() => {});
        const after = job ? await job.getState() : 'unknown';
        if (after === 'unknown') this.settle(entry, this.interrupted(entry));
      }
    } catch (e) {
      this.reporter.error(e);
    }
    this.kick(entry.jobId);
  }

  /** The finished job's result: files into the trial folder, the TrialResult to the search. False: run it again. */
  private async collect(entry: Entry, job: Job, meanwhile: boolean): Promise<boolean> {
    const parsed = resultEnvelopeSchema.safeParse(job.returnvalue);
    const worker = job.processedBy ?? (parsed.success ? parsed.data.worker : 'a worker');
    if (!parsed.success) {
      this.settle(entry, this.failed(entry, `unreadable result (${zodProblems(parsed.error)})`, worker));
      return true;
    }
    const env = parsed.data;
    const mismatch = handshakeProblem(env, this.identity, 'worker');
    if (mismatch) {
      this.settle(entry, this.failed(entry, mismatch, worker));
      return true;
    }
    const result = env.result as TrialResult;
    if (result.trial !== entry.task.trial) {
      this.settle(entry, this.failed(entry, `result of trial ${result.trial} in the job of trial ${entry.task.trial}`, worker));
      return true;
    }
    if (result.status === 'interrupted' && !entry.signal.aborted) {
      // Stopped by an earlier coordinator's stop request, or by its worker's shutdown: not a result.
      if (entry.requeued++ >= MAX_REQUEUES) {
        this.settle(entry, this.failed(entry, `stopped unexpectedly, ${MAX_REQUEUES + 1} times`, worker));
        return true;
      }
      await job.remove();
      await this.add(entry);
      return false;
    }
    if (env.streamed) {
      const receiver = entry.receiver?.announcement.key === env.streamed.key ? entry.receiver : undefined;
      const problem = receiver ? await receiver.done.then(() => null, (e: unknown) => message(e)) : 'they came to an earlier coordinator';
      entry.receiver = undefined;
      await this.redis.hdel(transfersKey(this.opts.searchId), String(entry.task.trial));
      if (problem) {
        if (entry.requeued++ >= MAX_REQUEUES) {
          this.settle(entry, this.failed(entry, `could not receive the trial's files (${problem}), ${MAX_REQUEUES + 1} times`, worker));
          return true;
        }
        this.note(`trial ${entry.task.trial}: could not receive its files from ${worker} (${problem}): queued again`);
        await job.remove();
        await this.add(entry);
        return false;
      }
    }
    try {
      if (env.stored) {
        if (!this.store) throw new Error('the worker put them into an artifact store, but this search has none (--artifacts)');
        takeTrialFiles(this.store, env.stored.location, env.stored.files, entry.task.outDir);
      }
      unpackInto(entry.task.outDir, env.files);
      if (this.store) removeTrialArtifacts(this.store, this.opts.searchId, entry.task.trial);
    } catch (e) {
      this.settle(entry, this.failed(entry, `could not write the trial's files into ${entry.task.outDir}: ${message(e)}`, worker));
      return true;
    }
    if (meanwhile) this.note(`trial ${entry.task.trial}: finished on ${worker} while no coordinator ran; collected`);
    this.collected.push({ jobId: entry.jobId, at: Date.now() });
    this.settle(entry, result, worker);
    return true;
  }

  private settle(entry: Entry, result: TrialResult, worker?: string | null): void {
    if (entry.settled) return;
    entry.settled = true;
    if (entry.graceTimer) clearTimeout(entry.graceTimer);
    if (entry.onAbort) entry.signal.removeEventListener('abort', entry.onAbort);
    this.inflight.delete(entry.jobId);
    entry.receiver?.abandon();
    if (result.status !== 'interrupted') {
      this.done++;
      this.note(`trial ${entry.task.trial} ${result.status}${worker ? ` on ${worker}` : ''} | ${this.status()}`);
    }
    entry.resolve(result);
  }

  private failed(entry: Entry, reason: string, worker?: string | null): TrialResult {
    return {
      trial: entry.task.trial, status: 'failed', final: null, steps: NaN, seconds: (Date.now() - entry.startedAt) / 1000, backend: '',
      threads: this.threadsPerTrial, reason: worker ? `worker ${worker}: ${reason}` : reason,
    };
  }

  private interrupted(entry: Entry): TrialResult {
    return { ...this.failed(entry, 'stopped'), status: 'interrupted' };
  }

  /** Stops watching, removes the search's jobs and registry entry from Redis, and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    clearInterval(this.heartbeatTimer);
    for (const entry of this.inflight.values()) this.settle(entry, this.interrupted(entry));
    const cleanup = (async () => {
      await Promise.allSettled([this.events.close(), this.stallChecker.close(true)]);
      await this.queue.obliterate({ force: true });
      const id = this.opts.searchId;
      await this.redis.del(rungReportsKey(id), rungDecisionsKey(id), coordinatorKey(id), transfersKey(id), ...(await transferKeys(this.redis, id)));
      await unregisterSearch(this.redis, id);
    })();
    if (this.store) {
      try {
        removeSearchArtifacts(this.store, this.opts.searchId);
      } catch (e) {
        this.log(`coordinator: removing ${this.opts.searchId} from the artifact store ${this.store.root}: ${message(e)}`);
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), this.reporter.down ? 2000 : 20_000); });
    try {
      const outcome = await Promise.race([cleanup.then(() => 'done' as const), timeout]);
      if (outcome === 'timeout') this.log(`coordinator: could not remove the data of search ${this.opts.searchId} from redis (unreachable); its keys ${QUEUE_PREFIX}:${this.queueName}:* stay there`);
    } catch (e) {
      this.log(`coordinator: removing the data of search ${this.opts.searchId} from redis: ${message(e)}`);
    } finally {
      clearTimeout(timer);
      cleanup.catch(() => {});
      await this.queue.close().catch(() => {});
      this.redis.disconnect();
    }
  }
}

/**
 * Who failed a job's last attempt and why. Workers put their name into the reason ("worker W: …"): the job's
 * processedBy names whichever worker took it last, which after a retry is not the one that failed.
 */
function failureOf(job: Job): { worker: string | null; reason: string } {
  const text = job.failedReason ?? '';
  const m = /^worker ([A-Za-z0-9_.:@-]{1,100}): /.exec(text);
  return m ? { worker: m[1], reason: text.slice(m[0].length) } : { worker: text ? job.processedBy ?? null : null, reason: text };
}

/** The same trial for the same data, threads and versions (the control part aside). */
function sameTrial(a: unknown, b: TrialJobData): boolean {
  if (!a || typeof a !== 'object') return false;
  const { control: _c1, ...x } = a as TrialJobData;
  const { control: _c2, ...y } = b;
  return canonical(x) === canonical(y);
}

/** JSON with sorted keys. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x)
    ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : x));
}

/**
 * The workers panel of queue searches: which worker runs which trial and its last sign of life, read from Redis
 * (read-only: LRANGE, HGET, PTTL; nothing is written, no BullMQ object is made). A worker renews its trial's lock
 * every half lock duration; one whose lock was not renewed for longer than that (and a second) has gone silent,
 * and is flagged before its lock expires and BullMQ's stall check puts the trial back in the queue.
 */
import { Redis } from 'ioredis';
import { ConnectionReporter, redisOptions } from '../search/queue-connection.js';
import { progressSchema, QUEUE_PREFIX, redactUrl, trialQueueName } from '../search/queue-protocol.js';
import type { WorkerState } from './api-types.js';
import type { Catalog } from './catalog.js';

/** Slack on top of half the lock duration before a missed renewal counts (ms). */
const RENEWAL_SLACK_MS = 1000;

interface JobSeen {
  /** Largest lock TTL seen: the lock duration, about. */
  maxTtl: number;
  lastTtl: number;
  /** When the lock was last seen renewed, or the job's progress last changed (ms since epoch). */
  lastSign: number;
  progress: string | null;
}

const TRIAL_JOB = /^trial-(\d+)$/;

export class QueuePoller {
  private readonly redis: Redis;
  private readonly seen = new Map<string, JobSeen>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(private readonly catalog: Catalog, url: string, private readonly opts: { intervalMs?: number; log?: (line: string) => void } = {}) {
    const reporter = new ConnectionReporter(redactUrl(url), opts.log ?? (() => undefined), 'dashboard');
    this.redis = new Redis(url, { ...redisOptions('cifar-mlp-dashboard'), lazyConnect: false });
    this.redis.on('error', (e) => reporter.error(e));
    this.redis.on('ready', () => reporter.up());
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.opts.intervalMs ?? 500);
  }

  async poll(now = Date.now()): Promise<void> {
    if (this.busy || this.redis.status !== 'ready') return;
    this.busy = true;
    try {
      for (const [search, id] of this.catalog.queueSearches()) this.catalog.setWorkers(search, await this.workersOf(id, now));
    } catch {
      /* Redis went away: the connection reporter says so; the next poll tries again */
    } finally {
      this.busy = false;
    }
  }

  private async workersOf(searchId: string, now: number): Promise<WorkerState[]> {
    const base = `${QUEUE_PREFIX}:${trialQueueName(searchId)}`;
    const active = (await this.redis.lrange(`${base}:active`, 0, 999)).filter((j) => TRIAL_JOB.test(j));
    const pipe = this.redis.pipeline();
    for (const job of active) pipe.hget(`${base}:${job}`, 'progress').pttl(`${base}:${job}:lock`);
    const replies = (await pipe.exec()) ?? [];
    const out: WorkerState[] = [];
    active.forEach((job, i) => {
      const progressText = replies[2 * i]?.[1] as string | null;
      const ttl = Number(replies[2 * i + 1]?.[1] ?? -2);
      const key = `${searchId}/${job}`;
      let s = this.seen.get(key);
      if (!s) this.seen.set(key, (s = { maxTtl: ttl, lastTtl: ttl, lastSign: now, progress: progressText }));
      if (ttl > s.lastTtl + 50 || progressText !== s.progress) s.lastSign = now;
      s.maxTtl = Math.max(s.maxTtl, ttl);
      s.lastTtl = ttl;
      s.progress = progressText;
      let parsed = null;
      try {
        parsed = progressText ? progressSchema.safeParse(JSON.parse(progressText)) : null;
      } catch {
        /* not JSON: no worker name */
      }
      const progress = parsed?.success ? parsed.data : null;
      const silentMs = now - s.lastSign;
      out.push({
        worker: progress?.worker ?? '(unknown)',
        trial: Number(TRIAL_JOB.exec(job)![1]),
        stepsDone: progress?.stepsDone ?? null,
        totalSteps: progress?.totalSteps ?? null,
        silentMs,
        silent: ttl < 0 || (s.maxTtl > 0 && silentMs > s.maxTtl / 2 + RENEWAL_SLACK_MS),
      });
    });
    for (const key of this.seen.keys()) if (key.startsWith(`${searchId}/`) && !active.includes(key.slice(searchId.length + 1))) this.seen.delete(key);
    return out;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.redis.disconnect();
  }
}

// What the coordinator says about queue faults (issue 21.13): a failed attempt blames the worker that failed it (not
// whichever took the retry), an attempt that ended without a reason is no "failed: undefined", and the time left does
// not explode while a trial whose worker died starts again from step 0.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { searchSchema } from '../src/config/search-schema.js';
import { loadSplits } from '../src/data/splits.js';
import { dataFingerprint } from '../src/search/data-fingerprint.js';
import { SearchProgress } from '../src/search/progress.js';
import { QueueExecutor } from '../src/search/queue-executor.js';
import { localIdentity, QUEUE_PREFIX, trialQueueName } from '../src/search/queue-protocol.js';
import { trialConfig } from '../src/search/trial-config.js';
import { BASE } from './helpers/queue-fixtures.js';
import { describeWithRedis, RedisServer } from './helpers/redis.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

let root: string;
let dataDir: string;
const servers: RedisServer[] = [];
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'queue-messages-'));
  dataDir = writeSyntheticCifar(join(root, 'data'), 200, 400);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(root, { recursive: true, force: true });
});

describe('time left while a trial starts again', () => {
  it('projects a restarted trial from its new attempt, not from its first start', () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const sink = new Writable({ write: (_c, _e, cb) => cb() });
      const progress = (attemptSeconds?: number) => {
        vi.setSystemTime(0);
        const p = new SearchProgress('s', 1, sink as unknown as NodeJS.WriteStream, false);
        p.begin({ total: 2, done: 0, running: 0, best: null });
        p.started(1, 'l=1', { total: 2, done: 0, running: 1, best: null });
        p.started(2, 'l=2', { total: 2, done: 0, running: 2, best: null });
        vi.setSystemTime(100_000);
        p.finished(1, 'l=1', { status: 'completed', valAcc: 0.5, steps: 100, seconds: 100 }, { total: 2, done: 1, running: 1, best: null });
        vi.setSystemTime(600_000); // 10 minutes after its start: trial 2's first worker died, it waited and started again
        p.trialProgress(2, { steps: 10, totalSteps: 100, ...(attemptSeconds !== undefined ? { attemptSeconds } : {}) });
        return p.secondsLeft()!;
      };
      expect(progress()).toBeCloseTo(5400, -1); // without the attempt's time: 600 s for 10%, 90 minutes to go
      expect(progress(10)).toBeCloseTo(90, -1); // 10 s for 10% of this attempt
    } finally {
      vi.useRealTimers();
    }
  });
});

describeWithRedis('queue messages (redis-server)', () => {
  it('blames the worker that failed an attempt, not the one that took the retry; no "failed: undefined"', async () => {
    const server = await RedisServer.start();
    servers.push(server);
    const config = searchSchema.parse({ kind: 'search', name: 'blame', trials: 1, space: { lMin: -3, lMax: -2 }, base: BASE });
    const fp = dataFingerprint(loadSplits(config.base.data, dataDir));
    const params = { 'base.train.lambda': 1e-3 };
    const task = { trial: 1, params, config: trialConfig(config, { trial: 1, params }, 1, 1) };
    const name = trialQueueName('blame-0001');
    const connection = { url: server.url, maxRetriesPerRequest: null };
    const r = new Redis(server.url);
    const queue = new Queue(name, { connection: r, prefix: QUEUE_PREFIX });
    // As a coordinator that was killed left it: the job of trial 1, which worker A failed once and worker B now runs.
    await queue.add('trial', { ...localIdentity(), search: 'blame-0001', task, fingerprint: fp, threads: 1, control: {} },
      { jobId: 'trial-1', attempts: 3, backoff: { type: 'fixed', delay: 200 }, removeOnComplete: false, removeOnFail: false });
    const a = new Worker(name, async () => { throw new Error('worker A: the data in /a differ from the coordinator\'s'); }, { connection, prefix: QUEUE_PREFIX, name: 'A' });
    await new Promise<void>((res) => a.once('failed', () => res()));
    await a.close();
    let release: () => void = () => {};
    const held = new Promise<void>((res) => { release = res; });
    const b = new Worker(name, async () => {
      await held;
      return { ...localIdentity(), worker: 'B', result: { trial: 1, status: 'completed', final: null, steps: 1, seconds: 1, backend: 'x', threads: 1 }, files: [] };
    }, { connection, prefix: QUEUE_PREFIX, name: 'B' });
    while ((await queue.getJobState('trial-1')) !== 'active') await new Promise((res) => setTimeout(res, 50));
    expect((await queue.getJob('trial-1'))!.processedBy).toBe('B');

    const notes: string[] = [];
    const ex = await QueueExecutor.open({ url: server.url, searchId: 'blame-0001', searchName: 'blame', slots: 1, threadsPerTrial: 1, fingerprint: () => fp, note: (l) => notes.push(l) });
    try {
      const running = ex.run({ ...task, outDir: join(root, 'blame-out'), dataDir }, new AbortController().signal);
      while (!notes.some((n) => /attempt/.test(n))) await new Promise((res) => setTimeout(res, 50));
      release();
      expect((await running).status).toBe('completed');
      const text = notes.join('\n');
      expect(text).toMatch(/trial 1: attempt 1 of 3 failed on A: the data in \/a differ from the coordinator's; queued for another try/);
      expect(text).not.toMatch(/failed on B|undefined/);
    } finally {
      await ex.close();
      await b.close();
      await queue.close();
      r.disconnect();
    }
  }, 60_000);
});

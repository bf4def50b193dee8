// A trial whose workers die again and again (issue 24, faults at scale): BullMQ fails a job whose lock expired more
// than its stall limit; the coordinator puts such a trial back in the queue afresh instead of recording a failure
// (a dying worker is not the trial's fault), and the trial completes once a worker lives long enough.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'bullmq';
import type { TrialExecutor } from '../src/search/executor.js';
import { QueueWorker } from '../src/search/queue-worker.js';
import { loadSplits } from '../src/data/splits.js';
import { dataFingerprint } from '../src/search/data-fingerprint.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { searchSchema } from '../src/config/search-schema.js';
import { QueueExecutor } from '../src/search/queue-executor.js';
import { localIdentity, QUEUE_PREFIX, trialQueueName } from '../src/search/queue-protocol.js';
import { trialConfig } from '../src/search/trial-config.js';
import { BASE } from './helpers/queue-fixtures.js';
import { existsSync, readdirSync } from 'node:fs';
import { startWorker } from './helpers/queue-fixtures.js';
import { describeWithRedis, RedisServer } from './helpers/redis.js';

let root: string;
const servers: RedisServer[] = [];
let dataDir: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'queue-stalls-'));
  dataDir = writeSyntheticCifar(join(root, 'data'), 200, 400);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(root, { recursive: true, force: true });
});

describeWithRedis('stalled-out trials (redis-server)', () => {
  it('a trial whose workers stop answering past the stall limit goes back to the queue afresh and then completes', async () => {
    const server = await RedisServer.start();
    servers.push(server);
    const config = searchSchema.parse({ kind: 'search', name: 'stalls', trials: 1, space: { lMin: -3, lMax: -2 }, base: BASE });
    const params = { 'base.train.lambda': 1e-3 };
    const name = trialQueueName('stalls-0001');
    const connection = { url: server.url, maxRetriesPerRequest: null };
    const notes: string[] = [];
    const ex = await QueueExecutor.open({
      url: server.url, searchId: 'stalls-0001', searchName: 'stalls', slots: 1, threadsPerTrial: 1, fingerprint: () => 'f'.repeat(64),
      stalledIntervalMs: 300, note: (l) => notes.push(l),
    });
    // Workers that take the trial and die at once (their locks are never renewed: as after kill -9).
    const dying = new Worker(name, () => new Promise(() => {}), { connection, prefix: QUEUE_PREFIX, name: 'dying', concurrency: 50, lockDuration: 300, skipLockRenewal: true, skipStalledCheck: true });
    let good: Worker | undefined;
    try {
      const running = ex.run({ trial: 1, params, config: trialConfig(config, { trial: 1, params }, 1, 1), outDir: join(root, 'out'), dataDir: root }, new AbortController().signal);
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && !notes.some((n) => /queued again afresh/.test(n))) await new Promise((r) => setTimeout(r, 50));
      await dying.close(true);
      good = new Worker(name, async () => ({
        ...localIdentity(), worker: 'good', result: { trial: 1, status: 'completed', final: null, steps: 1, seconds: 1, backend: 'x', threads: 1 }, files: [],
      }), { connection, prefix: QUEUE_PREFIX, name: 'good' });
      const r = await running;
      const text = notes.join('\n');
      expect(r.status, text).toBe('completed');
      expect(text).toMatch(/trial 1: its workers stopped answering 3 times \(killed\?\): queued again afresh \(1 of 5\)/);
      expect(text).toMatch(/trial 1 completed on good/);
    } finally {
      await dying.close(true).catch(() => {});
      await good?.close();
      await ex.close();
    }
  }, 90_000);

  it('a worker that is only slow (a trial 8 times its lock) is not declared dead: the trial runs once', async () => {
    const server = await RedisServer.start();
    servers.push(server);
    const config = searchSchema.parse({ kind: 'search', name: 'slow', trials: 1, space: { lMin: -3, lMax: -2 }, base: BASE });
    const fp = dataFingerprint(loadSplits(config.base.data, dataDir));
    const params = { 'base.train.lambda': 1e-3 };
    let runs = 0;
    const slow: TrialExecutor = {
      slots: 1, threadsPerTrial: 1,
      async run(t, _signal, hooks) {
        runs++;
        for (let s = 0; s <= 8; s++) {
          hooks?.onProgress?.({ steps: s, totalSteps: 8 });
          await new Promise((r) => setTimeout(r, 1000));
        }
        return { trial: t.trial, status: 'completed', final: null, steps: 8, seconds: 8, backend: 'slow', threads: 1 };
      },
      async close() {},
    };
    const worker = new QueueWorker({ url: server.url, dataDir, name: 'slowpoke', workRoot: join(root, 'work-slow'), pollMs: 200, lockMs: 1000, makeExecutor: () => slow, log: () => {} });
    await worker.start();
    const notes: string[] = [];
    const ex = await QueueExecutor.open({ url: server.url, searchId: 'slow-0001', searchName: 'slow', slots: 1, threadsPerTrial: 1, fingerprint: () => fp, stalledIntervalMs: 300, note: (l) => notes.push(l) });
    try {
      const r = await ex.run({ trial: 1, params, config: trialConfig(config, { trial: 1, params }, 1, 1), outDir: join(root, 'slow-out'), dataDir }, new AbortController().signal);
      expect(r.status, notes.join('\n')).toBe('completed');
      expect(runs).toBe(1);
      expect(notes.join('\n')).not.toMatch(/stopped answering|attempt \d of/);
    } finally {
      await ex.close();
      await worker.stop();
    }
  }, 90_000);

  it('a worker stopped while Redis is away exits 130 within seconds and leaves no work folder', async () => {
    const server = await RedisServer.start();
    servers.push(server);
    const work = join(root, 'work-away');
    const w = startWorker(server.url, dataDir, 'away', work);
    try {
      await w.waitFor(/waiting for trials/);
      await server.kill9();
      await w.waitFor(/is unreachable/, 30_000);
      const t0 = Date.now();
      w.child.kill('SIGTERM');
      expect(await w.exited, w.out).toBe(130);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(w.out).toMatch(/worker away: stopped after 0 trial\(s\) \(redis away/);
      expect(existsSync(work) ? readdirSync(work) : []).toEqual([]);
    } finally {
      await w.stop(1000);
    }
  }, 60_000);
});

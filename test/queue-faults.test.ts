// Faults of a search on BullMQ + a real redis-server (each test starts its own on a free loopback port): a worker
// killed with kill -9 mid-trial, Redis killed and restarted without its data, a worker that cannot use its data,
// a worker stopped with SIGTERM, and coordinator and worker of different versions.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { searchSchema } from '../src/config/search-schema.js';
import { loadSplits } from '../src/data/splits.js';
import { dataFingerprint } from '../src/search/data-fingerprint.js';
import { QueueExecutor } from '../src/search/queue-executor.js';
import { QUEUE_PREFIX, trialQueueName } from '../src/search/queue-protocol.js';
import { trialConfig } from '../src/search/search.js';
import type { TrialTask } from '../src/search/types.js';
import { BASE, CLI, queueKeys, rowsOf, startsPerTrial, startWorker, writeSearchConfig } from './helpers/queue-fixtures.js';
import { CliProcess, describeWithRedis, RedisServer } from './helpers/redis.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

let root: string;
let dataDir: string;
let otherData: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'queue-faults-test-'));
  dataDir = writeSyntheticCifar(join(root, 'data'), 200, 400);
  otherData = writeSyntheticCifar(join(root, 'other-data'), 200, 300); // same files, other records
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const servers: RedisServer[] = [];
const procs: CliProcess[] = [];
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop(2000)));
  await Promise.all(servers.map((s) => s.stop()));
});
async function redis(): Promise<RedisServer> {
  const s = await RedisServer.start();
  servers.push(s);
  return s;
}
function track<T extends CliProcess>(p: T): T {
  procs.push(p);
  return p;
}

/** Waits until a trial of the worker with this work folder is training (its metrics.csv holds the step-0 row). */
async function trainingIn(work: string, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const find = (d: string): string[] => readdirSync(d).flatMap((n) => {
    const p = join(d, n);
    return statSync(p).isDirectory() ? find(p) : n === 'metrics.csv' ? [p] : [];
  });
  while (Date.now() < deadline) {
    try {
      for (const f of find(work)) {
        if (readFileSync(f, 'utf8').split('\n').length > 2) return Number(/trial-(\d+)-/.exec(f)![1]);
      }
    } catch { /* folders come and go */ }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no trial training under ${work}`);
}

describeWithRedis('search --queue faults (redis-server)', () => {
  it('a worker killed with kill -9 mid-trial: the trial runs again elsewhere, all 6 trials complete, each recorded once', async () => {
    const server = await redis();
    const cfg = writeSearchConfig(root, 'kill', 6);
    const work = (n: string) => join(root, 'work-kill', n);
    const w1 = track(startWorker(server.url, dataDir, 'w1', work('w1'), ['--lock-seconds', '2']));
    const w2 = track(startWorker(server.url, dataDir, 'w2', work('w2'), ['--lock-seconds', '2']));
    await Promise.all([w1.waitFor(/waiting for trials/), w2.waitFor(/waiting for trials/)]);
    const s = new CliProcess(CLI, ['search', cfg, '--data', dataDir, '--out', join(root, 'kill-out'), '--queue', server.url]);
    const killed = await trainingIn(work('w1'));
    w1.child.kill('SIGKILL');
    await w1.exited;
    const w3 = track(startWorker(server.url, dataDir, 'w3', work('w3'), ['--lock-seconds', '2']));
    expect(await s.exited, s.out).toBe(0);

    const rows = await rowsOf(join(root, 'kill-out'));
    expect(rows.map((r) => r.trial).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(rows.every((r) => r.status === 'completed')).toBe(true);
    expect(s.out).toMatch(new RegExp(`trial ${killed}: w1 stopped answering \\(lock expired\\): queued again for another worker`));
    expect(s.out).toMatch(new RegExp(`trial ${killed} completed on w[23]`));
    // Started on w1, then once more on a live worker; every other trial once.
    const starts = startsPerTrial(w1, w2, w3);
    expect(starts.get(killed)).toBe(2);
    expect([...starts].filter(([t]) => t !== killed).every(([, n]) => n === 1)).toBe(true);
    expect(JSON.parse(readFileSync(join(root, 'kill-out', 'summary.json'), 'utf8')).counts).toEqual({ completed: 6, diverged: 0, failed: 0, pending: 0 });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await queueKeys(server.url)).toEqual([]);
  }, 240_000);

  it('Redis killed and restarted without its data: coordinator and workers say so, reconnect and finish the search', async () => {
    const server = await redis();
    const cfg = writeSearchConfig(root, 'outage', 4);
    const w1 = track(startWorker(server.url, dataDir, 'o1', join(root, 'work-outage')));
    const w2 = track(startWorker(server.url, dataDir, 'o2', join(root, 'work-outage')));
    await Promise.all([w1.waitFor(/waiting for trials/), w2.waitFor(/waiting for trials/)]);
    const s = new CliProcess(CLI, ['search', cfg, '--data', dataDir, '--out', join(root, 'outage-out'), '--queue', server.url]);
    await s.waitFor(/trial \d completed on o[12]/, 120_000);
    await server.kill9();
    await s.waitFor(/is unreachable/, 30_000);
    await new Promise((r) => setTimeout(r, 2000));
    await server.launch();
    expect(await s.exited, s.out).toBe(0);
    expect(s.out).toMatch(/coordinator: redis redis:\/\/127\.0\.0\.1:\d+\/? is unreachable \((ECONNREFUSED|ECONNRESET|EPIPE)\); waiting for it and retrying/);
    expect(s.out).toMatch(/is reachable again after [\d.]+s; going on/);
    expect(s.out).toMatch(/its job is gone from redis \(restarted without its data\?\): queued again/);
    for (const w of [w1, w2]) {
      expect(w.out).toMatch(/is unreachable/);
      expect(w.out).toMatch(/is reachable again/);
    }
    const rows = await rowsOf(join(root, 'outage-out'));
    expect(rows.map((r) => r.trial).sort()).toEqual([1, 2, 3, 4]);
    expect(rows.every((r) => r.status === 'completed'), `${s.out}\n${w1.out}\n${w2.out}`).toBe(true);
    // The workers still take new work afterwards.
    const again = new CliProcess(CLI, ['search', writeSearchConfig(root, 'after', 1, { ...BASE, schedule: { ...BASE.schedule, ns: 20 } }), '--data', dataDir, '--out', join(root, 'after-out'), '--queue', server.url]);
    expect(await again.exited, again.out).toBe(0);
  }, 240_000);

  it('a worker whose data differ refuses with the reason; the trial goes to another worker, or fails cleanly with that reason', async () => {
    const server = await redis();
    const bad = track(startWorker(server.url, otherData, 'bad', join(root, 'work-bad')));
    await bad.waitFor(/waiting for trials/);
    const small = { ...BASE, schedule: { ...BASE.schedule, ns: 30 } };
    const s = new CliProcess(CLI, ['search', writeSearchConfig(root, 'refuse', 2, small), '--data', dataDir, '--out', join(root, 'refuse-out'), '--queue', server.url]);
    await bad.waitFor(/refusing the trials of search refuse/, 60_000);
    const good = track(startWorker(server.url, dataDir, 'good', join(root, 'work-good')));
    expect(await s.exited, s.out).toBe(0);
    expect(bad.out).toMatch(/the data in \S+other-data differ from the coordinator's \(records fingerprint [0-9a-f]{12} here, [0-9a-f]{12} there\): give --data the same CIFAR-10 files/);
    expect(s.out).toMatch(/trial 1: attempt 1 of 3 failed on bad: the data in .* differ from the coordinator's.*queued for another try/);
    expect((await rowsOf(join(root, 'refuse-out'))).map((r) => r.status)).toEqual(['completed', 'completed']);
    expect(good.out).toMatch(/trial 1 of refuse completed/);
    expect(bad.out).not.toMatch(/trial \d of refuse started/);
    await good.stop();

    // With no worker that can run it, the trial fails after its attempts, with the worker's reason.
    const alone = new CliProcess(CLI, ['search', writeSearchConfig(root, 'alone', 1, small), '--data', dataDir, '--out', join(root, 'alone-out'), '--queue', server.url]);
    expect(await alone.exited, alone.out).toBe(1);
    const [row] = await rowsOf(join(root, 'alone-out'));
    expect(row.status).toBe('failed');
    expect(row.reason).toMatch(/^worker bad: the data in .* differ from the coordinator's .* after 3 attempts$/);
  }, 240_000);

  it('a worker stopped with SIGTERM mid-trial puts the trial back in the queue (no attempt used) and exits 130', async () => {
    const server = await redis();
    const w1 = track(startWorker(server.url, dataDir, 't1', join(root, 'work-term1')));
    await w1.waitFor(/waiting for trials/);
    const s = new CliProcess(CLI, ['search', writeSearchConfig(root, 'term', 2), '--data', dataDir, '--out', join(root, 'term-out'), '--queue', server.url]);
    const trial = await trainingIn(join(root, 'work-term1'));
    w1.child.kill('SIGTERM');
    expect(await w1.exited).toBe(130);
    expect(w1.out).toMatch(new RegExp(`trial ${trial} of term: stopped by this worker's shutdown; back in the queue for another worker`));
    const w2 = track(startWorker(server.url, dataDir, 't2', join(root, 'work-term2')));
    expect(await s.exited, s.out).toBe(0);
    expect((await rowsOf(join(root, 'term-out'))).map((r) => r.status)).toEqual(['completed', 'completed']);
    expect(w2.out).toMatch(new RegExp(`trial ${trial} of term completed`));
    expect(s.out).not.toMatch(/attempt \d of \d failed/);
  }, 180_000);

  it('coordinator and worker of different versions refuse each other with a clear message', async () => {
    const server = await redis();
    const config = searchSchema.parse({ kind: 'search', name: 'versions', trials: 1, space: { lMin: -3, lMax: -2 }, base: { ...BASE, schedule: { ...BASE.schedule, ns: 12 } } });
    const fp = dataFingerprint(loadSplits(config.base.data, dataDir));
    const task = (id: string): TrialTask => ({ trial: 1, l: -3, lambda: 1e-3, outDir: join(root, id), dataDir, config: trialConfig(config, { trial: 1, l: -3, lambda: 1e-3 }, 1) });

    // A coordinator of another version: the (current) worker refuses its trials.
    const w = track(startWorker(server.url, dataDir, 'vw', join(root, 'work-versions')));
    const old = await QueueExecutor.open({
      url: server.url, searchId: 'versions-0001', searchName: 'versions', slots: 1, threadsPerTrial: 1, fingerprint: () => fp, attempts: 1,
      identity: { protocol: 1, version: '9.9.9', schema: 'abcdefabcdef' },
    });
    try {
      const r = await old.run(task('v1'), new AbortController().signal);
      expect(r.status).toBe('failed');
      expect(r.reason).toMatch(/^worker vw: version mismatch: the coordinator runs cifar-mlp 9\.9\.9 \(queue protocol 1, config schema abcdefabcdef\), this worker cifar-mlp 0\.1\.0 .*run the same cifar-mlp version/);
      expect(w.out).toMatch(/refusing the trials of search versions.*version mismatch/);
    } finally {
      await old.close();
    }
    await w.stop();

    // A worker of another version that answers anyway: the coordinator refuses its result.
    const ex = await QueueExecutor.open({ url: server.url, searchId: 'versions-0002', searchName: 'versions', slots: 1, threadsPerTrial: 1, fingerprint: () => fp });
    const impostor = new Worker(trialQueueName('versions-0002'), async () => ({
      protocol: 1, version: '0.0.1', schema: 'ffffffffffff', worker: 'old-one',
      result: { trial: 1, status: 'completed', final: null, steps: 1, seconds: 1, backend: 'x', threads: 1 }, files: [],
    }), { connection: { url: server.url, maxRetriesPerRequest: null }, prefix: QUEUE_PREFIX, name: 'old-one' });
    try {
      const r = await ex.run(task('v2'), new AbortController().signal);
      expect(r.status).toBe('failed');
      expect(r.reason).toMatch(/^worker old-one: version mismatch: the worker runs cifar-mlp 0\.0\.1 .*this coordinator cifar-mlp 0\.1\.0/);
    } finally {
      await impostor.close();
      await ex.close();
    }
  }, 180_000);
});

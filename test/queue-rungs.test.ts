// Rung decisions over the queue live in their own Redis hashes, which no later progress overwrites (issue 21.4): a
// coordinator killed with kill -9 after its first rung decision and resumed decides the rungs it missed (no wait for
// the 600 s rung timeout), and a worker at a rung of a search whose coordinator is gone goes on after a short grace.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { searchSchema } from '../src/config/search-schema.js';
import { loadSplits } from '../src/data/splits.js';
import { dataFingerprint } from '../src/search/data-fingerprint.js';
import { registerSearch } from '../src/search/queue-connection.js';
import { localIdentity, QUEUE_PREFIX, rungReportsKey, trialQueueName } from '../src/search/queue-protocol.js';
import { QueueWorker } from '../src/search/queue-worker.js';
import { trialConfig } from '../src/search/trial-config.js';
import { BASE, CLI, queueKeys, rowsOf, startWorker } from './helpers/queue-fixtures.js';
import { CliProcess, describeWithRedis, RedisServer } from './helpers/redis.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

let root: string;
let dataDir: string;
const servers: RedisServer[] = [];
const procs: CliProcess[] = [];

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'queue-rungs-'));
  dataDir = writeSyntheticCifar(join(root, 'data'), 200, 400);
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop(2000)));
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(root, { recursive: true, force: true });
});
function track<T extends CliProcess>(p: T): T {
  procs.push(p);
  return p;
}

describeWithRedis('rung decisions through the queue (redis-server)', () => {
  it('a coordinator killed after its first rung decision and resumed decides the rungs it missed: no hang', async () => {
    const server = await RedisServer.start();
    servers.push(server);
    // 3 trials of 400 steps, rungs at 50, 100 and 200; one trial at a time.
    const path = join(root, 'asha.yaml');
    writeFileSync(path, JSON.stringify({
      kind: 'search', name: 'rungkill', seed: 3, trials: 3, workers: 1, keepModels: 1,
      space: { sampler: 'grid', params: { 'base.train.lambda': { dist: 'choice', values: [0.1, 0.01, 0.001] } } },
      pruning: { rule: 'asha', minSteps: 50, eta: 2, maxRungs: 3 },
      base: { ...BASE, schedule: { ...BASE.schedule, ns: 200 }, eval: { pointsPerCycle: 8 }, kernels: { backend: 'wasm-simd', threads: 1 } },
    }));
    const out = join(root, 'rungkill-out');
    const w = track(startWorker(server.url, dataDir, 'rw', join(root, 'work-rk')));
    await w.waitFor(/waiting for trials/);
    const first = track(new CliProcess(CLI, ['search', path, '--data', dataDir, '--out', out, '--queue', server.url]));
    await w.waitFor(/trial 1 of rungkill at rung step 50: val [\d.]+%; continue/, 120_000);
    first.child.kill('SIGKILL');
    await first.exited;
    // The worker reaches its next rung with no coordinator: its report waits in the reports hash.
    const searchId = JSON.parse(readFileSync(join(out, 'queue.json'), 'utf8')).id as string;
    expect(searchId).toMatch(/^rungkill-/);
    const r = new Redis(server.url);
    try {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && (await r.hlen(rungReportsKey(searchId))) === 0) await new Promise((res) => setTimeout(res, 100));
      expect(await r.hkeys(rungReportsKey(searchId))).toEqual(['1:100']);
    } finally {
      r.disconnect();
    }
    const t0 = Date.now();
    const second = track(new CliProcess(CLI, ['search', path, '--data', dataDir, '--out', out, '--queue', server.url, '--resume']));
    expect(await second.exited, second.out).toBe(0);
    expect(Date.now() - t0).toBeLessThan(90_000);
    expect(w.out).toMatch(/trial 1 of rungkill at rung step 100: val [\d.]+%; (continue|prune)/);
    expect(w.out).not.toMatch(/no rung decision/);
    const rows = await rowsOf(out);
    expect(rows.map((x) => x.trial).sort()).toEqual([1, 2, 3]);
    // rungs.csv: every rung a trial reached, decided once (trial 1's at 50 by the first coordinator, the rest by the second).
    const rungs = readFileSync(join(out, 'rungs.csv'), 'utf8').trim().split('\n').slice(1);
    const decided = rungs.map((l) => { const c = l.split(','); return `${c[0]}@${c[2]}`; }); // trial, step
    expect(new Set(decided).size, rungs.join('\n')).toBe(decided.length);
    expect(decided).toContain('1@50');
    expect(decided).toContain('1@100');
    await new Promise((res) => setTimeout(res, 1500));
    expect(await queueKeys(server.url)).toEqual([]);
  }, 300_000);

  it('a worker at a rung of a search with no coordinator goes on after the grace, not the rung timeout', async () => {
    const server = await RedisServer.start();
    servers.push(server);
    const config = searchSchema.parse({ kind: 'search', name: 'orphan', trials: 1, space: { lMin: -3, lMax: -2 }, base: { ...BASE, schedule: { ...BASE.schedule, ns: 12 } } });
    const fp = dataFingerprint(loadSplits(config.base.data, dataDir));
    const lines: string[] = [];
    const worker = new QueueWorker({ url: server.url, dataDir, name: 'ow', workRoot: join(root, 'work-orphan'), pollMs: 200, coordinatorGraceMs: 1000, rungTimeoutMs: 600_000, log: (l) => lines.push(l) });
    await worker.start();
    const r = new Redis(server.url);
    const queue = new Queue(trialQueueName('orphan-0001'), { connection: r, prefix: QUEUE_PREFIX });
    try {
      await registerSearch(r, { id: 'orphan-0001', name: 'orphan', queue: trialQueueName('orphan-0001'), ...localIdentity(), host: 'gone', createdAt: new Date().toISOString() });
      const params = { 'base.train.lambda': 1e-3 };
      await queue.add('trial', {
        ...localIdentity(), search: 'orphan-0001', fingerprint: fp, threads: 1, control: {},
        task: { trial: 1, params, rungs: [6], config: trialConfig(config, { trial: 1, params }, 1, 1) },
      }, { jobId: 'trial-1' });
      const t0 = Date.now();
      const deadline = t0 + 60_000;
      while (Date.now() < deadline && (await queue.getJobState('trial-1')) !== 'completed') await new Promise((res) => setTimeout(res, 200));
      expect(await queue.getJobState('trial-1'), lines.join('\n')).toBe('completed');
      expect(Date.now() - t0).toBeLessThan(30_000);
      expect(lines.join('\n')).toMatch(/trial 1 of orphan: no rung decision at step 6 \(no coordinator of the search for \ds\); it continues undecided/);
      expect(await r.hlen(rungReportsKey('orphan-0001'))).toBe(0);
    } finally {
      await queue.close();
      r.disconnect();
      await worker.stop();
    }
  }, 120_000);
});

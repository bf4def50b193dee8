// Searches on BullMQ + a real redis-server (each test starts its own on a free loopback port): the same results as
// the local pool (the chosen trial's model and test accuracy included; an ASHA search prunes alike), resume after the coordinator is killed, Ctrl-C, rungs and progress through the queue, the files of
// a trial, several searches on one Redis, password and TLS, jobs that must be refused; and faults: a worker killed
// with kill -9 mid-trial, Redis killed and restarted without its data, a worker that cannot use its data, a worker
// stopped with SIGTERM, coordinator and worker of different versions. One file: its tests run one after another,
// each with a few processes, so that they do not crowd the machine.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { searchSchema } from '../src/config/search-schema.js';
import { loadSplits } from '../src/data/splits.js';
import { dataFingerprint } from '../src/search/data-fingerprint.js';
import type { TrialExecutor } from '../src/search/executor.js';
import { QueueExecutor } from '../src/search/queue-executor.js';
import { registerSearch } from '../src/search/queue-connection.js';
import { localIdentity, QUEUE_PREFIX, trialQueueName } from '../src/search/queue-protocol.js';
import { QueueWorker } from '../src/search/queue-worker.js';
import { trialConfig } from '../src/search/trial-config.js';
import type { RungReport, TrialResult, TrialTask } from '../src/search/types.js';
import { BASE, CLI, metricsWithoutTime, queueKeys, rowsOf, startsPerTrial, startWorker, writeSearchConfig } from './helpers/queue-fixtures.js';
import { CliProcess, describeWithRedis, makeTlsFiles, OPENSSL, RedisServer } from './helpers/redis.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

/** The value of the one searched field of the tasks made here. */
const LAMBDA = { 'base.train.lambda': 1e-3 };

let root: string;
let dataDir: string;
let otherData: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'queue-test-'));
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
async function redis(opts: Parameters<typeof RedisServer.start>[0] = {}): Promise<RedisServer> {
  const s = await RedisServer.start(opts);
  servers.push(s);
  return s;
}
function track<T extends CliProcess>(p: T): T {
  procs.push(p);
  return p;
}

describeWithRedis('search --queue (redis-server)', () => {
  it('a 4-trial search on two workers gives the local pool\'s per-trial results and leaves nothing in redis', async () => {
    const server = await redis();
    const cfg = writeSearchConfig(root, 'same', 4);
    const work = join(root, 'work-same');
    const w1 = track(startWorker(server.url, dataDir, 'w1', work));
    const w2 = track(startWorker(server.url, dataDir, 'w2', work));
    await Promise.all([w1.waitFor(/waiting for trials/), w2.waitFor(/waiting for trials/)]);

    const local = new CliProcess(CLI, ['search', cfg, '--data', dataDir, '--out', join(root, 'same-local'), '--set', 'workers=2']);
    const queued = new CliProcess(CLI, ['search', cfg, '--data', dataDir, '--out', join(root, 'same-queue'), '--queue', server.url]);
    expect(await queued.exited, queued.out).toBe(0);
    expect(await local.exited, local.out).toBe(0);

    const [a, b] = [await rowsOf(join(root, 'same-local')), await rowsOf(join(root, 'same-queue'))];
    expect(b.map((r) => r.trial).sort()).toEqual([1, 2, 3, 4]);
    const key = (r: (typeof a)[number]) => [r.trial, JSON.stringify(r.params), r.status, r.train_acc, r.val_acc, r.train_cost, r.val_cost, r.steps, r.total_steps, r.backend, r.threads];
    expect(b.map(key).sort()).toEqual(a.map(key).sort());
    expect(new Set(b.map((r) => r.val_acc)).size).toBeGreaterThan(1); // the trials differ: a real comparison
    for (const id of ['01', '02', '03', '04']) {
      const [x, y] = [join(root, 'same-local', 'trials', id), join(root, 'same-queue', 'trials', id)];
      expect(metricsWithoutTime(join(y, 'metrics.csv'))).toBe(metricsWithoutTime(join(x, 'metrics.csv')));
      expect(readFileSync(join(y, 'config.yaml'), 'utf8')).toBe(readFileSync(join(x, 'config.yaml'), 'utf8'));
      const [sx, sy] = [JSON.parse(readFileSync(join(x, 'summary.json'), 'utf8')), JSON.parse(readFileSync(join(y, 'summary.json'), 'utf8'))];
      expect({ ...sy, seconds: 0, samplesPerSecond: 0, startedAt: '', finishedAt: '', lastMetrics: { ...sy.lastMetrics, elapsed_s: 0 } })
        .toEqual({ ...sx, seconds: 0, samplesPerSecond: 0, startedAt: '', finishedAt: '', lastMetrics: { ...sx.lastMetrics, elapsed_s: 0 } });
    }
    // The models: the best keepModels (3) trials' model.json came back from the workers, the same networks as the
    // local pool's; the chosen trial's test accuracy, measured here from its model.json, is the local pool's.
    const withModel = (dir: string) => ['01', '02', '03', '04'].filter((id) => existsSync(join(dir, 'trials', id, 'model.json')));
    expect(withModel(join(root, 'same-queue'))).toHaveLength(3);
    expect(withModel(join(root, 'same-queue'))).toEqual(withModel(join(root, 'same-local')));
    const [ls, qs] = [JSON.parse(readFileSync(join(root, 'same-local', 'summary.json'), 'utf8')), JSON.parse(readFileSync(join(root, 'same-queue', 'summary.json'), 'utf8'))];
    expect(qs.status).toBe('completed');
    expect(qs.chosen.test?.accuracy, JSON.stringify(qs.chosen)).toBeGreaterThan(0);
    expect(qs.chosen).toEqual(ls.chosen);
    const model = (dir: string) => {
      const { createdAt: _c, sha256: _s, ...body } = JSON.parse(readFileSync(join(dir, 'trials', qs.chosen.id, 'model.json'), 'utf8'));
      return body;
    };
    expect(model(join(root, 'same-queue'))).toEqual(model(join(root, 'same-local')));
    // `evaluate <search folder>` finds the chosen trial's model and measures the same test accuracy.
    const evaluate = new CliProcess(CLI, ['evaluate', join(root, 'same-queue'), '--data', dataDir]);
    expect(await evaluate.exited, evaluate.out).toBe(0);
    const evaluation = JSON.parse(readFileSync(join(root, 'same-queue', 'trials', qs.chosen.id, 'evaluation.json'), 'utf8'));
    expect(evaluation.splits.test.accuracy).toBeCloseTo(qs.chosen.test.accuracy, 2);
    // Who ran what: the coordinator said which worker ran each trial, each worker its own trials.
    expect(queued.out).toMatch(/trial \d running on w[12]/);
    expect(queued.out).toMatch(/\d done, \d running.*\d queued/);
    expect([...startsPerTrial(w1, w2).values()]).toEqual([1, 1, 1, 1]);
    // The search's jobs and registry entry are gone once it finished (workers idle, still connected).
    await new Promise((r) => setTimeout(r, 1500));
    expect(await queueKeys(server.url)).toEqual([]);
  }, 240_000);

  it('an ASHA search on the queue prunes as on the local pool: the same rungs, decisions and results (one trial at a time)', async () => {
    const server = await redis();
    // 4 trials of 100 steps, one rung at step 50 (an evaluation point); one trial at a time on both, so that the
    // asynchronous pruner sees the rungs in the same order and must decide alike.
    const path = join(root, 'asha.yaml');
    writeFileSync(path, JSON.stringify({
      kind: 'search', name: 'asha', seed: 3, trials: 4, workers: 1, keepModels: 1,
      space: { sampler: 'grid', params: { 'base.train.lambda': { dist: 'choice', values: [0.1, 0.01, 0.001, 0.0001] } } }, // the best first: the others are pruned
      pruning: { rule: 'asha', minSteps: 50, eta: 2, maxRungs: 1 }, base: { ...BASE, kernels: { backend: 'wasm-simd', threads: 1 } }, // the queue's threads
    }));
    const w = track(startWorker(server.url, dataDir, 'aw', join(root, 'work-asha')));
    await w.waitFor(/waiting for trials/);
    const local = new CliProcess(CLI, ['search', path, '--data', dataDir, '--out', join(root, 'asha-local')]);
    const queued = new CliProcess(CLI, ['search', path, '--data', dataDir, '--out', join(root, 'asha-queue'), '--queue', server.url]);
    expect(await queued.exited, queued.out).toBe(0);
    expect(await local.exited, local.out).toBe(0);

    const [a, b] = [await rowsOf(join(root, 'asha-local')), await rowsOf(join(root, 'asha-queue'))];
    const key = (r: (typeof a)[number]) => [r.trial, JSON.stringify(r.params), r.status, r.val_acc, r.steps, r.total_steps, r.reason];
    expect(b.map(key)).toEqual(a.map(key));
    expect(b.filter((r) => r.status === 'pruned').length, JSON.stringify(b)).toBeGreaterThan(0);
    for (const r of b.filter((x) => x.status === 'pruned')) expect(r.steps).toBe(50);
    const rungs = (dir: string) => readFileSync(join(dir, 'rungs.csv'), 'utf8');
    expect(rungs(join(root, 'asha-queue'))).toBe(rungs(join(root, 'asha-local')));
    expect(rungs(join(root, 'asha-queue')).trim().split('\n')).toHaveLength(5); // header and one decision per trial
    expect(w.out).toMatch(/trial \d of asha at rung step 50: val [\d.]+%; prune/);
    const [ls, qs] = [JSON.parse(readFileSync(join(root, 'asha-local', 'summary.json'), 'utf8')), JSON.parse(readFileSync(join(root, 'asha-queue', 'summary.json'), 'utf8'))];
    expect(qs.budget).toEqual(ls.budget);
    expect(qs.budget.stepsSpent).toBeLessThan(qs.budget.stepsWithoutPruning);
    expect(qs.chosen).toEqual(ls.chosen);
    expect(qs.chosen.test?.accuracy).toBeGreaterThan(0);
  }, 240_000);

  it('search --resume --queue after the coordinator was killed collects what finished meanwhile and enqueues only what is missing', async () => {
    const server = await redis();
    const cfg = writeSearchConfig(root, 'resume', 6);
    const out = join(root, 'resume-out');
    const w = track(startWorker(server.url, dataDir, 'w1', join(root, 'work-resume')));
    await w.waitFor(/waiting for trials/);
    const first = new CliProcess(CLI, ['search', cfg, '--data', dataDir, '--out', out, '--queue', server.url]);
    await first.waitFor(/trial 2 \(lambda=[\de.+-]+\) completed/, 120_000); // its trials.csv row is written
    first.child.kill('SIGKILL');
    await first.exited;
    // The worker goes on with the queued trials while no coordinator runs.
    await w.waitFor(/trial 4 of resume completed/, 120_000);
    const doneBefore = (await rowsOf(out)).length;
    expect(doneBefore).toBeLessThan(4); // trials 3 and 4 finished with no coordinator: not in trials.csv yet

    const second = new CliProcess(CLI, ['search', cfg, '--data', dataDir, '--out', out, '--queue', server.url, '--resume']);
    expect(await second.exited, second.out).toBe(0);
    expect(second.out).toMatch(/finished on w1 while no coordinator ran; collected/);
    const rows = await rowsOf(out);
    expect(rows.map((r) => r.trial).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(rows.every((r) => r.status === 'completed')).toBe(true);
    // Every trial ran exactly once on the worker: nothing that was queued or done was enqueued again.
    expect([...startsPerTrial(w).entries()].sort()).toEqual([[1, 1], [2, 1], [3, 1], [4, 1], [5, 1], [6, 1]]);
    for (let t = 1; t <= 6; t++) expect(existsSync(join(out, 'trials', `0${t}`, 'metrics.csv'))).toBe(true);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await queueKeys(server.url)).toEqual([]);
  }, 240_000);

  it('Ctrl-C stops the search: the running trial stops on its worker, redis is cleaned up, --resume --queue finishes it', async () => {
    const server = await redis();
    // Trials of 2000 steps (a few seconds): trial 2 still runs when the SIGINT arrives.
    const cfg = writeSearchConfig(root, 'ctrlc', 3, { ...BASE, schedule: { ...BASE.schedule, ns: 1000 } });
    const out = join(root, 'ctrlc-out');
    const work = join(root, 'work-ctrlc');
    const w = track(startWorker(server.url, dataDir, 'cw', work));
    await w.waitFor(/waiting for trials/);
    const first = new CliProcess(CLI, ['search', cfg, '--data', dataDir, '--out', out, '--queue', server.url]);
    // Once trial 1 is recorded (an interrupted search without any row leaves a trials.csv that --resume misreads:
    // a bug of the search's CsvLog, reported) and trial 2 runs.
    await first.waitFor(/trial 1 \(lambda=[\de.+-]+\) completed/, 120_000);
    await w.waitFor(/trial 2 of ctrlc started/);
    first.child.kill('SIGINT');
    expect(await first.exited, first.out).toBe(130);
    expect(w.out).toMatch(/trial 2 of ctrlc interrupted/);
    await w.waitFor(/no search has trials waiting/);
    expect(await queueKeys(server.url)).toEqual([]);
    expect((await rowsOf(out)).map((r) => r.trial)).toEqual([1]);

    const second = new CliProcess(CLI, ['search', cfg, '--data', dataDir, '--out', out, '--queue', server.url, '--resume']);
    expect(await second.exited, second.out).toBe(0);
    expect((await rowsOf(out)).map((r) => `${r.trial} ${r.status}`).sort()).toEqual(['1 completed', '2 completed', '3 completed']);
  }, 180_000);

  it('rung reports round-trip through the queue (pruned where told), progress and every file of the trial folder come back', async () => {
    const server = await redis();
    const config = searchSchema.parse({ kind: 'search', name: 'rungs', trials: 2, space: { lMin: -3, lMax: -2 }, base: { ...BASE, schedule: { ...BASE.schedule, ns: 12 } } });
    const splits = loadSplits(config.base.data, dataDir);
    const fp = dataFingerprint(splits);
    const task = (trial: number): TrialTask => ({
      trial, params: LAMBDA, outDir: join(root, 'rungs', String(trial)), dataDir: '/nowhere', rungs: [6, 12, 18],
      config: trialConfig(config, { trial, params: LAMBDA }, 1, 2),
    });
    const w = track(startWorker(server.url, dataDir, 'rw', join(root, 'work-rungs'), ['--concurrency', '2']));
    const ex = await QueueExecutor.open({ url: server.url, searchId: 'rungs-0001', searchName: 'rungs', slots: 2, threadsPerTrial: 1, fingerprint: () => fp });
    const reports: RungReport[] = [];
    try {
      const stop = new AbortController().signal;
      const onRung = async (r: RungReport) => { reports.push(r); return r.trial === 1 && r.step === 12 ? 'prune' as const : 'continue' as const; };
      const [pruned, kept] = await Promise.all([ex.run(task(1), stop, { onRung }), ex.run(task(2), stop, { onRung })]);
      expect(pruned.status).toBe('pruned');
      expect(pruned.steps).toBe(12);
      expect(pruned.pruned?.step).toBe(12);
      expect(kept.status).toBe('completed');
      expect(kept.steps).toBe(24);
      const of = (t: number) => reports.filter((r) => r.trial === t).map((r) => r.step);
      expect(of(1)).toEqual([6, 12]);
      expect(of(2)).toEqual([6, 12, 18]);
      expect(pruned.pruned?.valAccuracy).toBe(reports.find((r) => r.trial === 1 && r.step === 12)!.valAccuracy);
      expect(readFileSync(join(root, 'rungs', '1', 'summary.json'), 'utf8')).toMatch(/"status": "pruned"/);
      expect(w.out).toMatch(/trial 1 of rungs at rung step 12: val [\d.]+%; prune/);
    } finally {
      await ex.close();
    }
  }, 180_000);

  it('a worker waits a bounded time for a rung decision, then the trial goes on', async () => {
    const server = await redis();
    const config = searchSchema.parse({ kind: 'search', name: 'norung', trials: 1, space: { lMin: -3, lMax: -2 }, base: { ...BASE, schedule: { ...BASE.schedule, ns: 12 } } });
    const fp = dataFingerprint(loadSplits(config.base.data, dataDir));
    const w = track(startWorker(server.url, dataDir, 'tw', join(root, 'work-norung'), ['--rung-timeout', '1']));
    const ex = await QueueExecutor.open({ url: server.url, searchId: 'norung-0001', searchName: 'norung', slots: 1, threadsPerTrial: 1, fingerprint: () => fp });
    try {
      const task: TrialTask = { trial: 1, params: LAMBDA, outDir: join(root, 'norung'), dataDir, rungs: [6], config: trialConfig(config, { trial: 1, params: LAMBDA }, 1, 1) };
      const never = () => new Promise<'prune'>(() => {});
      const r = await ex.run(task, new AbortController().signal, { onRung: never });
      expect(r.status).toBe('completed');
      expect(w.out).toMatch(/no rung decision at step 6 within 1s; it continues/);
    } finally {
      await ex.close();
    }
  }, 120_000);

  it('forwards progress and transports whatever the trial leaves in its folder (model.json, sub-folders)', async () => {
    const server = await redis();
    const config = searchSchema.parse({ kind: 'search', name: 'files', trials: 1, space: { lMin: -3, lMax: -2 }, base: BASE });
    const fp = dataFingerprint(loadSplits(config.base.data, dataDir));
    // A stand-in for the local pool: reports progress and writes files as a trial keeping its model would.
    const fake: TrialExecutor = {
      slots: 1, threadsPerTrial: 1,
      async run(t, _signal, hooks) {
        for (let s = 0; s <= 10; s += 5) {
          hooks?.onProgress?.({ steps: s, totalSteps: 10 });
          await new Promise((r) => setTimeout(r, 1100));
        }
        mkdirSync(join(t.outDir, 'plots'), { recursive: true });
        writeFileSync(join(t.outDir, 'model.json'), JSON.stringify({ w: Array.from({ length: 5000 }, (_, i) => i / 7) }));
        writeFileSync(join(t.outDir, 'plots', 'x.svg'), '<svg/>');
        writeFileSync(join(t.outDir, '.partial.tmp'), 'left out');
        return { trial: t.trial, status: 'completed', final: { train: { loss: 1, cost: 1, accuracy: 0.5 }, val: { loss: NaN, cost: Infinity, accuracy: 0.25 }, test: { loss: 1, cost: 1, accuracy: 0.3 } }, steps: 10, seconds: 3, backend: 'fake', threads: 1 };
      },
      async close() {},
    };
    const worker = new QueueWorker({ url: server.url, dataDir, name: 'fw', workRoot: join(root, 'work-files'), pollMs: 200, makeExecutor: () => fake });
    await worker.start();
    const ex = await QueueExecutor.open({ url: server.url, searchId: 'files-0001', searchName: 'files', slots: 1, threadsPerTrial: 1, fingerprint: () => fp });
    const progress: [number, number][] = [];
    try {
      const outDir = join(root, 'files-out');
      const r: TrialResult = await ex.run({ trial: 1, params: LAMBDA, outDir, dataDir, saveModel: true, config: trialConfig(config, { trial: 1, params: LAMBDA }, 1, 1) },
        new AbortController().signal, { onProgress: (p) => progress.push([p.steps, p.totalSteps]) });
      expect(r.status).toBe('completed');
      expect(r.final!.val.accuracy).toBe(0.25);
      expect(r.final!.val.loss).toBeNaN();
      expect(r.final!.val.cost).toBe(Infinity);
      expect(progress.length).toBeGreaterThanOrEqual(2);
      expect(progress.at(-1)).toEqual([10, 10]);
      expect(JSON.parse(readFileSync(join(outDir, 'model.json'), 'utf8')).w[7]).toBe(1);
      expect(readFileSync(join(outDir, 'plots', 'x.svg'), 'utf8')).toBe('<svg/>');
      expect(existsSync(join(outDir, '.partial.tmp'))).toBe(false);
      // The worker's own folder of the trial is gone.
      expect(existsSync(join(worker.workDir, 'files-0001', 'trial-1-1'))).toBe(false);
    } finally {
      await ex.close();
      await worker.stop();
    }
    expect(existsSync(worker.workDir)).toBe(false);
  }, 120_000);

  it('refuses jobs that fail the schemas, and reads and writes nothing outside its data and work folders', async () => {
    const server = await redis();
    const worker = new QueueWorker({ url: server.url, dataDir, name: 'sw', workRoot: join(root, 'work-sec'), pollMs: 200, log: () => {} });
    await worker.start();
    const r = new Redis(server.url);
    const queue = new Queue(trialQueueName('evil-0001'), { connection: r, prefix: QUEUE_PREFIX });
    try {
      await registerSearch(r, { id: 'evil-0001', name: 'evil', queue: trialQueueName('evil-0001'), ...localIdentity(), host: 'x', createdAt: new Date().toISOString() });
      const config = trialConfig(searchSchema.parse({ kind: 'search', name: 'evil', trials: 1, space: { lMin: -3, lMax: -2 }, base: BASE }), { trial: 1, params: LAMBDA }, 1, 1);
      const good = { ...localIdentity(), search: 'evil-0001', fingerprint: '0'.repeat(64), threads: 1, control: {} };
      const escape = join(root, 'escaped');
      const jobs = {
        traversal: { ...good, task: { trial: 1, params: LAMBDA, config: { ...config, data: { ...config.data, train: ['../../../etc/passwd'] } } } },
        unknownField: { ...good, task: { trial: 2, params: LAMBDA, config: { ...config, shell: 'rm -rf /' } } },
        outDir: { ...good, task: { trial: 3, params: LAMBDA, config, outDir: escape } },
        badType: { ...good, task: { trial: 4, params: LAMBDA, config: { ...config, model: { hidden: 'many' } } } },
        badParam: { ...good, task: { trial: 5, params: { 'base.train.lambda': { $eval: 'x' } }, config } },
        notAnObject: 'hello',
      };
      for (const [name, data] of Object.entries(jobs)) await queue.add(name, data, { jobId: name, attempts: 3 });
      const deadline = Date.now() + 60_000;
      let failed: { id?: string; failedReason: string; attemptsMade: number }[] = [];
      while (Date.now() < deadline && failed.length < Object.keys(jobs).length) {
        failed = await queue.getFailed();
        await new Promise((res) => setTimeout(res, 300));
      }
      const reason = Object.fromEntries(failed.map((j) => [j.id, j.failedReason]));
      expect(reason.traversal).toMatch(/invalid trial job: task\.config\.data\.train\.0/);
      expect(reason.unknownField).toMatch(/invalid trial job: .*shell|Unrecognized key/);
      expect(reason.outDir).toMatch(/invalid trial job: task\.outDir: a task from the queue names no folders/);
      expect(reason.badParam).toMatch(/invalid trial job: task\.params\.base\.train\.lambda/);
      expect(reason.badType).toMatch(/invalid trial job: task\.config\.model\.hidden/);
      expect(reason.notAnObject).toMatch(/invalid trial job/);
      // Invalid for every worker: failed for good at the first attempt, not retried.
      for (const j of failed) expect(j.attemptsMade).toBe(1);
      expect(existsSync(escape)).toBe(false);
    } finally {
      await queue.close();
      r.disconnect();
      await worker.stop();
    }
  }, 120_000);

  it('several searches share one Redis; one worker serves whichever has work', async () => {
    const server = await redis();
    const w = track(startWorker(server.url, dataDir, 'shared', join(root, 'work-two')));
    await w.waitFor(/waiting for trials/);
    const small = { ...BASE, schedule: { ...BASE.schedule, ns: 30 } };
    const a = new CliProcess(CLI, ['search', writeSearchConfig(root, 'alpha', 2, small), '--data', dataDir, '--out', join(root, 'alpha'), '--queue', server.url]);
    const b = new CliProcess(CLI, ['search', writeSearchConfig(root, 'beta', 2, small), '--data', dataDir, '--out', join(root, 'beta'), '--queue', server.url]);
    expect(await a.exited, a.out).toBe(0);
    expect(await b.exited, b.out).toBe(0);
    expect((await rowsOf(join(root, 'alpha'))).map((r) => r.status)).toEqual(['completed', 'completed']);
    expect((await rowsOf(join(root, 'beta'))).map((r) => r.status)).toEqual(['completed', 'completed']);
    expect(w.out).toMatch(/serving search alpha/);
    expect(w.out).toMatch(/serving search beta/);
  }, 180_000);

  it('works with a password (never printed) and refuses a wrong one with a clear message (exit 2)', async () => {
    const password = 'pa55-w0rd-secret';
    const server = await redis({ password });
    const wrong = server.url.replace(password, 'nope');
    const bad = new CliProcess(CLI, ['worker', '--queue', wrong, '--data', dataDir]);
    expect(await bad.exited).toBe(2);
    expect(bad.out).toMatch(/authentication failed \(WRONGPASS/);
    expect(bad.out).not.toContain('nope');
    const w = track(startWorker(server.url, dataDir, 'pw', join(root, 'work-pw')));
    const s = new CliProcess(CLI, ['search', writeSearchConfig(root, 'pw', 2, { ...BASE, schedule: { ...BASE.schedule, ns: 30 } }), '--data', dataDir, '--out', join(root, 'pw'), '--queue', server.url]);
    expect(await s.exited, s.out).toBe(0);
    expect((await rowsOf(join(root, 'pw'))).length).toBe(2);
    for (const text of [s.out, w.out, readFileSync(join(root, 'pw', 'queue.json'), 'utf8')]) expect(text).not.toContain(password);
    expect(s.out).toContain('redis://:***@127.0.0.1');
  }, 120_000);

  it('works over TLS (rediss://, a private CA trusted through NODE_EXTRA_CA_CERTS) and explains a certificate it cannot verify', async (ctx) => {
    if (!OPENSSL) {
      if (process.env.CI === 'true') throw new Error('openssl is required under CI for the TLS test');
      console.warn('SKIP TLS test: openssl not found');
      return ctx.skip();
    }
    const tls = makeTlsFiles(join(root, 'tls'));
    let server: RedisServer;
    try {
      server = await redis({ tls, password: 'tls-pass' });
    } catch (e) {
      if (process.env.CI === 'true' || !/tls|Bad directive|not compiled/i.test(String(e))) throw e;
      console.warn('SKIP TLS test: this redis-server was built without TLS');
      return ctx.skip();
    }
    expect(server.url).toMatch(/^rediss:/);
    const untrusted = new CliProcess(CLI, ['worker', '--queue', server.url, '--data', dataDir]);
    expect(await untrusted.exited).toBe(2);
    expect(untrusted.out).toMatch(/TLS handshake failed \(SELF_SIGNED_CERT_IN_CHAIN\).*NODE_EXTRA_CA_CERTS/);
    const env = { NODE_EXTRA_CA_CERTS: tls.ca };
    const w = track(startWorker(server.url, dataDir, 'tlsw', join(root, 'work-tls'), [], env));
    const s = new CliProcess(CLI, ['search', writeSearchConfig(root, 'tls', 2, { ...BASE, schedule: { ...BASE.schedule, ns: 30 } }), '--data', dataDir, '--out', join(root, 'tls-out'), '--queue', server.url], env);
    expect(await s.exited, s.out).toBe(0);
    expect((await rowsOf(join(root, 'tls-out'))).map((r) => r.status)).toEqual(['completed', 'completed']);
    expect(w.out).toMatch(/trial 2 of tls completed|trial 1 of tls completed/);
  }, 120_000);
});

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
    expect(JSON.parse(readFileSync(join(root, 'kill-out', 'summary.json'), 'utf8')).counts).toEqual({ completed: 6, pruned: 0, diverged: 0, failed: 0, pending: 0 });
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
    const task = (id: string): TrialTask => ({ trial: 1, params: LAMBDA, outDir: join(root, id), dataDir, config: trialConfig(config, { trial: 1, params: LAMBDA }, 1, 1) });

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

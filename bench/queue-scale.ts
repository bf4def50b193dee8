/**
 * Queue scale benchmark (issue 24): one local redis-server, one coordinator (`cifar-mlp search --queue`) and N
 * `cifar-mlp worker` processes on this machine, running T real but tiny trials (10 steps of an m = 8 network on 500
 * records), so that the queue, not the math, is what is measured. With --chaos, a random worker is killed with
 * SIGKILL every --kill-every seconds on average (default 5: uniformly 2.5–7.5 s) and a new one started in its place,
 * throughout; with --kill-coordinator the coordinator is
 * also killed with SIGKILL once half the trials are recorded and resumed with `--resume`; with --restart-redis Redis is
 * killed with SIGKILL once a third are recorded and started again 2 s later on the same port, without its data.
 * --hidden M, --keep-models (keepModels: all) and --artifacts (a store folder given to the coordinator and every
 * worker) measure large models: `--workers 4 --trials 20 --hidden 1000 --keep-models --artifacts`.
 *
 *   npm run bench:queue-scale -- --workers 8 --trials 100 [--chaos] [--kill-every S] [--kill-coordinator] [--restart-redis]
 *     [--hidden M] [--keep-models] [--artifacts] [--data DIR] [--lock-seconds S] [--keep]
 *
 * One line of figures: trials completed, lost (no row in trials.csv), recorded twice (more than one row), trials per
 * second end to end (the coordinator's start until every row is written and the search is gone from Redis; the
 * search's report, each trial's plots, is not drawn: the coordinator is stopped there), its CPU time per trial (user + system, from
 * /proc), Redis's peak memory (INFO memory used_memory_peak), and requeue_s: from a worker's death to its trial
 * running on another worker (median/max over the kills that hit a running trial); then the coordinator's RSS after
 * 100 trials and after all of them. Linux only (/proc).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { ParamSpec } from '../src/config/search-schema.js';
import { readTrialsCsv } from '../src/formats/trials-csv.js';
import { parseFlags } from './flags.js';
import { startRedis } from './queue-redis.js';
import { median } from './stats.js';

interface Args { workers: number; trials: number; chaos: boolean; killEvery: number; killCoordinator: boolean; restartRedis: boolean; hidden: number; keepModels: boolean; artifacts: boolean; data: string | null; lockSeconds: number; keep: boolean }

const USAGE = 'usage: node dist/queue-scale.js --workers N --trials T [--chaos] [--kill-every S] [--kill-coordinator] [--restart-redis] [--hidden M] [--keep-models] [--artifacts] [--data DIR] [--lock-seconds S] [--keep]';

function parseArgs(argv: string[]): Args {
  const a: Args = { workers: 8, trials: 100, chaos: false, killEvery: 5, killCoordinator: false, restartRedis: false, hidden: 8, keepModels: false, artifacts: false, data: null, lockSeconds: 5, keep: false };
  const count = (flag: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`queue-scale: ${flag}: expected a whole number above 0 (got ${JSON.stringify(v)})`);
    return n;
  };
  parseFlags('queue-scale', USAGE, argv, {
    '--workers': (v) => { a.workers = count('--workers', v); },
    '--trials': (v) => { a.trials = count('--trials', v); },
    '--data': (v) => { a.data = v; },
    '--lock-seconds': (v) => { a.lockSeconds = count('--lock-seconds', v); },
    '--kill-every': (v) => { a.killEvery = count('--kill-every', v); },
    '--hidden': (v) => { a.hidden = count('--hidden', v); },
  }, { '--chaos': () => { a.chaos = true; }, '--kill-coordinator': () => { a.killCoordinator = true; }, '--restart-redis': () => { a.restartRedis = true; },
    '--keep-models': () => { a.keepModels = true; }, '--artifacts': () => { a.artifacts = true; }, '--keep': () => { a.keep = true; } });
  return a;
}

function dataDir(given: string | null): string {
  const candidates = [given, process.env.CIFAR10_DIR, '../shared/cifar-10-batches-bin', './data/cifar-10-batches-bin'].filter((d): d is string => !!d);
  const found = candidates.find((d) => existsSync(join(d, 'data_batch_1.bin')));
  if (!found) throw new Error(`queue-scale: no CIFAR-10 folder (looked at ${candidates.join(', ')}); give --data DIR`);
  return resolve(found);
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU milliseconds (user + system) and RSS (MiB) of a live process, from /proc; null once it is gone. */
function sample(pid: number): { cpuMs: number; rssMiB: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuMs = ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK; // utime, stime: fields 14 and 15
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { cpuMs, rssMiB: rss ? Number(rss[1]) / 1024 : NaN };
  } catch {
    return null;
  }
}

function rowsWritten(path: string): number {
  try {
    const text = readFileSync(path, 'utf8');
    return Math.max(0, text.split('\n').filter((l) => l.length > 0).length - 1);
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const cli = fileURLToPath(new URL('./cli.js', import.meta.url));
  if (!existsSync(cli)) throw new Error(`queue-scale: ${cli} not found (run \`node build.mjs\`)`);
  const data = dataDir(a.data);
  const root = mkdtempSync(join(tmpdir(), 'queue-scale-'));
  const out = join(root, 'search');
  const cfg = join(root, 'scale.yaml');
  writeFileSync(cfg, JSON.stringify({
    kind: 'search', name: 'scale', seed: 1, trials: a.trials, workers: 0, keepModels: a.keepModels ? 'all' : 0,
    space: { sampling: 'random', lMin: -5, lMax: -1 },
    base: {
      seed: 1, data: { train: ['data_batch_1'], trainLimit: 500, holdout: 200, test: ['test_batch'] }, model: { hidden: a.hidden },
      train: { batchSize: 50 }, schedule: { etaMin: 0.01, etaMax: 0.1, ns: 5, cycles: 1 }, eval: { pointsPerCycle: 1 }, kernels: { backend: 'wasm-simd', threads: 1 },
    },
  }));
  let redis = await startRedis();
  const env = { ...process.env, NO_COLOR: '1' };
  const work = join(root, 'work');
  const store = a.artifacts ? ['--artifacts', join(root, 'artifacts')] : [];
  if (a.artifacts) mkdirSync(join(root, 'artifacts'));
  mkdirSync(work, { recursive: true });

  const workers = new Map<string, ChildProcess>();
  let nextWorker = 1;
  const startWorker = () => {
    const name = `w${nextWorker++}`;
    const child = spawn(process.execPath, [cli, 'worker', '--queue', redis.url, '--data', data, '--name', name, '--work', work, '--lock-seconds', String(a.lockSeconds), ...store],
      { env, stdio: 'ignore' });
    workers.set(name, child);
    child.on('exit', () => workers.delete(name));
  };
  for (let i = 0; i < a.workers; i++) startWorker();

  // Who runs what, from the coordinator's lines; a killed worker's trials wait for their next "running on".
  const runningOn = new Map<number, string>();
  const awaitingRequeue = new Map<number, { worker: string; at: number }>();
  const requeueS: number[] = [];
  let tail = '';
  const onLine = (line: string) => {
    const running = /trial (\d+) running on (\S+)/.exec(line);
    if (running) {
      const [trial, worker] = [Number(running[1]), running[2]];
      runningOn.set(trial, worker);
      const waiting = awaitingRequeue.get(trial);
      if (waiting && waiting.worker !== worker) {
        requeueS.push((Date.now() - waiting.at) / 1000);
        awaitingRequeue.delete(trial);
      }
      return;
    }
    const ended = /trial (\d+) (completed|failed|pruned|diverged)/.exec(line);
    if (ended) {
      runningOn.delete(Number(ended[1]));
      awaitingRequeue.delete(Number(ended[1]));
    }
  };
  const coordinator = (resume: boolean) => {
    const child = spawn(process.execPath, [cli, 'search', cfg, '--data', data, '--out', out, '--queue', redis.url, ...store, ...(resume ? ['--resume'] : [])],
      { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    const onData = (d: Buffer) => {
      const text = partial + d.toString();
      const lines = text.split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const l of lines) onLine(l);
      tail = (tail + d.toString()).slice(-4000);
      appendFileSync(join(root, 'coordinator.log'), d);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    return { child, exited: new Promise<number | null>((r) => child.on('close', (code) => r(code))) };
  };

  const trialsCsv = join(out, 'trials.csv');
  let cpuMs = 0, rssAt100: number | null = null, rssEnd = NaN;
  const t0 = Date.now();
  let current = coordinator(false);
  let killedCoordinator = false, restartedRedis = false;
  let cpuBefore = 0; // CPU of coordinators that were killed
  const sampler = setInterval(() => {
    const s = current.child.pid ? sample(current.child.pid) : null;
    if (!s) return;
    cpuMs = cpuBefore + s.cpuMs;
    if (Number.isFinite(s.rssMiB)) rssEnd = s.rssMiB; // an exiting process has none
    const rows = rowsWritten(trialsCsv);
    if (rssAt100 === null && rows >= Math.min(100, a.trials)) rssAt100 = s.rssMiB;
    if (a.restartRedis && !restartedRedis && rows >= a.trials / 3) {
      restartedRedis = true;
      const old = redis;
      old.child.kill('SIGKILL');
      old.child.once('exit', () => void sleep(2000).then(() => startRedis(old.port)).then((r) => { redis = r; }));
    }
    if (a.killCoordinator && !killedCoordinator && rows >= a.trials / 2) {
      killedCoordinator = true;
      cpuBefore = cpuMs;
      current.child.kill('SIGKILL');
    }
  }, 100);

  let chaosOn = a.chaos;
  const chaos = (async () => {
    while (chaosOn) {
      await sleep(a.killEvery * 1000 * (0.5 + Math.random()));
      if (!chaosOn) break;
      const names = [...workers.keys()];
      const victim = names[Math.floor(Math.random() * names.length)];
      if (!victim) continue;
      const at = Date.now();
      for (const [trial, w] of runningOn) if (w === victim) awaitingRequeue.set(trial, { worker: victim, at });
      workers.get(victim)!.kill('SIGKILL');
      startWorker();
    }
  })();

  // The end: every row written and the search gone from Redis (its coordinator closed the queue). The search's own
  // report (each trial's plots and page) comes after that and is not the queue's work: the coordinator is stopped there.
  const r = new Redis(redis.url, { maxRetriesPerRequest: null });
  r.on('error', () => {}); // Redis away (--restart-redis): this client waits for it like the others
  let code: number | null = null, resumed = false, rendering = false;
  let keysLeft = NaN;
  try {
    for (;;) {
      const exited = await Promise.race([current.exited, sleep(500).then(() => undefined)]);
      if (exited !== undefined) {
        if (killedCoordinator && !resumed && exited === null) {
          resumed = true;
          current = coordinator(true);
          continue;
        }
        code = exited;
        break;
      }
      if (rowsWritten(trialsCsv) >= a.trials && (await r.hlen('cifar-mlp:searches')) === 0) {
        rendering = true;
        current.child.kill('SIGKILL');
        await current.exited;
        code = 0;
        break;
      }
    }
  } finally {
    clearInterval(sampler);
    chaosOn = false;
    await chaos;
  }
  const wallS = (Date.now() - t0) / 1000;
  let peakMiB = NaN;
  try {
    peakMiB = Number(/used_memory_peak:(\d+)/.exec(await r.info('memory'))?.[1]) / 2 ** 20;
    await sleep(2000); // workers notice the search is gone
    keysLeft = (await r.keys('cifar-mlp:*')).length;
  } finally {
    r.disconnect();
  }
  for (const w of workers.values()) w.kill('SIGTERM');
  await sleep(500);
  redis.child.kill('SIGTERM');

  if (code !== 0) console.error(`queue-scale: the search exited with ${code}:\n${tail}`);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { status: string };
  if (summary.status !== 'completed') console.error(`queue-scale: the search ended ${summary.status}:\n${tail}`);
  const { space } = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as { space: Record<string, ParamSpec> };
  const rows = existsSync(trialsCsv) ? (await readTrialsCsv(trialsCsv, space, false)).rows : [];
  const perTrial = new Map<number, number>();
  for (const row of rows) perTrial.set(row.trial, (perTrial.get(row.trial) ?? 0) + 1);
  const completed = new Set(rows.filter((x) => x.status === 'completed').map((x) => x.trial)).size;
  const lost = a.trials - perTrial.size;
  const twice = [...perTrial.values()].filter((n) => n > 1).length;
  const requeue = requeueS.length ? `${median(requeueS).toFixed(1)}/${Math.max(...requeueS).toFixed(1)}` : 'n/a';
  console.log(`workers=${a.workers} trials=${a.trials} chaos=${a.chaos ? `every ~${a.killEvery}s` : 'no'}${a.killCoordinator ? ' coordinator_killed=yes' : ''}${a.restartRedis ? ' redis_restarted=yes' : ''}${a.hidden !== 8 ? ` hidden=${a.hidden}` : ''}${a.keepModels ? ' models=all' : ''}${a.artifacts ? ' artifacts=yes' : ''} ` +
    `completed=${completed} lost=${lost} twice=${twice} trials_per_s=${(a.trials / wallS).toFixed(2)} ` +
    `coordinator_cpu_ms_per_trial=${(cpuMs / a.trials).toFixed(1)} redis_peak_mb=${peakMiB.toFixed(1)} requeue_s=${requeue}`);
  console.log(`coordinator_rss_mb_after_100=${rssAt100 === null ? 'n/a' : (rssAt100 as number).toFixed(1)} coordinator_rss_mb_after_all=${rssEnd.toFixed(1)} ` +
    `wall_s=${wallS.toFixed(1)} workers_started=${nextWorker - 1} redis_keys_left=${keysLeft}${rendering ? ' (the search\'s report was not drawn)' : ''}`);
  if (a.keep) console.log(`outputs kept in ${root} (the coordinator's output in coordinator.log)`);
  else rmSync(root, { recursive: true, force: true });
  process.exitCode = code === 0 && summary.status === 'completed' && lost === 0 && twice === 0 ? 0 : 1;
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});

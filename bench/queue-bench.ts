/**
 * Queue benchmark (issue 14): trials per minute of one search config on the local pool with 2 workers against the
 * same search with --queue and 2 single-threaded `cifar-mlp worker` processes on this machine, interleaved run by
 * run so that a machine's slow minutes hit both alike.
 *
 *   npm run bench:queue -- --data ../shared/cifar-10-batches-bin
 *   node dist/queue-bench.js [--config config/search-coarse.yaml] [--data DIR] [--runs 2] [--trials N] [--queue URL] [--keep] [--json]
 *
 * Both settings run every trial with 1 kernel thread (base.kernels.threads=1). `queue` is cold: its two workers
 * start together with the coordinator, so their start-up and data reading count, and they stop after the run.
 * Without --queue a redis-server is started on a free loopback port (Debian package redis-server) and stopped.
 * Wall time is the whole `cifar-mlp search` command (reading the data, the trials, the ranking, plots, report).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags } from './flags.js';
import { startRedis } from './queue-redis.js';
import { median } from './stats.js';

interface Args { config: string; data: string | null; runs: number; trials: number | null; queue: string | null; keep: boolean; json: boolean }

function parseArgs(argv: string[]): Args {
  const a: Args = { config: 'config/search-coarse.yaml', data: null, runs: 2, trials: null, queue: null, keep: false, json: false };
  parseFlags('queue-bench', 'usage: node dist/queue-bench.js [--config FILE] [--data DIR] [--runs N] [--trials N] [--queue URL] [--keep] [--json]', argv, {
    '--config': (v) => { a.config = v; },
    '--data': (v) => { a.data = v; },
    '--runs': (v) => { a.runs = Math.max(1, Number(v) || 1); },
    '--trials': (v) => { a.trials = Math.max(1, Number(v) || 1); },
    '--queue': (v) => { a.queue = v; },
  }, { '--keep': () => { a.keep = true; }, '--json': () => { a.json = true; } });
  return a;
}

function run(cli: string, args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-6000); });
  return { child, done: new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr }))) };
}

/** valAcc: each trial's validation accuracy by its number and searched values ("3 {"base.train.lambda":0.0012}"). */
interface Measurement { wallS: number; trials: number; perMinute: number; valAcc: Record<string, number | null> }

async function search(cli: string, args: string[], outDir: string): Promise<Measurement> {
  const t0 = process.hrtime.bigint();
  const { code, stderr } = await run(cli, [...args, '--out', outDir, '--force']).done;
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  if (code !== 0) throw new Error(`queue-bench: \`cifar-mlp ${args.join(' ')}\` exited with ${code}:\n${stderr}`);
  const summary = JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8')) as {
    results: { trial: number; params: Record<string, number | string | boolean>; row: { val_acc: number | null } | null }[];
  };
  const valAcc = Object.fromEntries(summary.results.map((r) => [`${r.trial} ${JSON.stringify(r.params)}`, r.row?.val_acc ?? null]));
  const trials = summary.results.filter((r) => r.row).length;
  return { wallS, trials, perMinute: (trials / wallS) * 60, valAcc };
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const cli = fileURLToPath(new URL('./cli.js', import.meta.url));
  if (!existsSync(cli)) throw new Error(`queue-bench: ${cli} not found (run \`node build.mjs\`)`);
  const dataArgs = a.data ? ['--data', a.data] : [];
  const root = mkdtempSync(join(tmpdir(), 'queue-bench-'));
  const log = (s: string) => { if (!a.json) console.log(s); };
  const redis = a.queue ? null : await startRedis();
  const url = a.queue ?? redis!.url;
  const base = ['search', a.config, ...dataArgs, '--set', 'base.kernels.threads=1', ...(a.trials ? ['--set', `trials=${a.trials}`] : [])];
  const results = { pool: [] as Measurement[], queue: [] as Measurement[] };
  const load = [loadavg()[0]];
  log(`queue benchmark: ${a.config}, ${a.runs} run(s) per setting, interleaved; ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), ` +
    `Node ${process.versions.node}; load average ${load[0].toFixed(2)} at the start`);
  log('  pool:  search --set workers=2 (local Piscina pool, 2 workers × 1 kernel thread)');
  log('  queue: search --queue URL with 2 `cifar-mlp worker` processes (concurrency 1, 1 kernel thread), started with the coordinator');
  try {
    for (let r = 1; r <= a.runs; r++) {
      const p = await search(cli, [...base, '--set', 'workers=2'], join(root, `pool-${r}`));
      results.pool.push(p);
      log(`  run ${r} pool   ${p.wallS.toFixed(1).padStart(6)} s  ${p.trials} trials  ${p.perMinute.toFixed(2).padStart(6)} trials/min`);
      const workers = [1, 2].map((i) => run(cli, ['worker', '--queue', url, ...dataArgs, '--name', `bench-w${i}`, '--work', join(root, 'work')]));
      try {
        const q = await search(cli, [...base, '--queue', url], join(root, `queue-${r}`));
        results.queue.push(q);
        log(`  run ${r} queue  ${q.wallS.toFixed(1).padStart(6)} s  ${q.trials} trials  ${q.perMinute.toFixed(2).padStart(6)} trials/min`);
      } finally {
        for (const w of workers) w.child.kill('SIGTERM');
        await Promise.all(workers.map((w) => w.done));
      }
      load.push(loadavg()[0]);
    }
    const pool = median(results.pool.map((m) => m.perMinute)), queue = median(results.queue.map((m) => m.perMinute));
    const sameAcc = results.queue.every((q) => results.pool.every((p) => JSON.stringify(q.valAcc) === JSON.stringify(p.valAcc)));
    const ratio = queue / pool;
    if (a.json) {
      console.log(JSON.stringify({ config: a.config, cores: availableParallelism(), load, results, medianTrialsPerMinute: { pool, queue }, queueVsPool: ratio, sameValAccuracies: sameAcc }, null, 2));
      return;
    }
    log('');
    log(`median trials per minute: pool ${pool.toFixed(2)}, queue ${queue.toFixed(2)}`);
    log(`queue / pool throughput: ${ratio.toFixed(3)}× (goal ≥ 0.9×)`);
    log(`per-trial validation accuracies identical in every run of both settings: ${sameAcc ? 'yes' : 'NO'}`);
    log(`load average (1 min) over the runs: ${load.map((l) => l.toFixed(2)).join(', ')}`);
  } finally {
    redis?.child.kill('SIGTERM');
    if (a.keep) log(`outputs kept in ${root}`);
    else rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});

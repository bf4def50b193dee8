/**
 * Search benchmark (issue 4): wall time and peak memory of one search config run with different pool settings,
 * interleaved run by run so that a machine's slow minutes hit every setting alike, plus a single training run of
 * the trial config for the memory comparison; and the scaling: trials per minute at 1, 2, 4, … workers up to the
 * cores (and at the cores), each trial's kernel threads auto (floor(cores / workers): workers × threads ≤ cores).
 *
 *   npm run bench:search -- --data ../shared/cifar-10-batches-bin
 *   node dist/search-bench.js [--config config/search-coarse.yaml] [--data DIR] [--runs 3] [--workers N] [--keep] [--json]
 *
 * Settings (N = --workers, default the available cores):
 *   pool      workers=N, kernel threads auto (cores / N each)
 *   one       workers=1, kernel threads auto (all cores for the one trial at a time)
 *   seq-1t    workers=1, base.kernels.threads=1: the pool's own trials (one kernel thread each), one after another
 *   single    `run` of trial 1's config (kernel threads auto): what one training run of the search costs
 *   wK        workers=K, kernel threads auto, for each K of the scaling not measured above
 * Peak memory is the whole process's (main thread and every worker thread): getrusage's maxRSS, written by a
 * preloaded module when the child exits.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags } from './flags.js';
import { median } from './stats.js';

interface Args { config: string; data: string | null; runs: number; workers: number; keep: boolean; json: boolean }

function parseArgs(argv: string[]): Args {
  const a: Args = { config: 'config/search-coarse.yaml', data: null, runs: 3, workers: availableParallelism(), keep: false, json: false };
  parseFlags('search-bench', 'usage: node dist/search-bench.js [--config FILE] [--data DIR] [--runs N] [--workers N] [--keep] [--json]', argv, {
    '--config': (v) => { a.config = v; },
    '--data': (v) => { a.data = v; },
    '--runs': (v) => { a.runs = Math.max(1, Number(v) || 1); },
    '--workers': (v) => { a.workers = Math.max(2, Number(v) || 2); },
  }, { '--keep': () => { a.keep = true; }, '--json': () => { a.json = true; } });
  return a;
}

/** Written into every child: its peak RSS (KB) into $SEARCH_BENCH_RSS when it exits. */
const RSS_PRELOAD = 'data:text/javascript,' + encodeURIComponent(
  "import { writeFileSync } from 'node:fs';" +
  "process.on('exit', () => writeFileSync(process.env.SEARCH_BENCH_RSS, String(process.resourceUsage().maxRSS)));",
);

interface Measurement { wallS: number; peakRssKB: number; summary: Record<string, unknown> }

async function runCli(cli: string, args: string[], outDir: string): Promise<Measurement> {
  const rssFile = `${outDir}.rss`;
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, ['--import', RSS_PRELOAD, cli, ...args, '--out', outDir, '--force'], {
    env: { ...process.env, SEARCH_BENCH_RSS: rssFile, NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`search-bench: \`cifar-mlp ${args.join(' ')}\` exited with ${code}:\n${stderr}`);
  const peakRssKB = Number(readFileSync(rssFile, 'utf8'));
  const summary = JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8')) as Record<string, unknown>;
  return { wallS, peakRssKB, summary };
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const cli = fileURLToPath(new URL('./cli.js', import.meta.url));
  if (!existsSync(cli)) throw new Error(`search-bench: ${cli} not found (run \`node build.mjs\`)`);
  const dataArgs = a.data ? ['--data', a.data] : [];
  const root = mkdtempSync(join(tmpdir(), 'search-bench-'));
  const log = (s: string) => { if (!a.json) console.log(s); };
  const settings = [
    { name: 'pool', what: `workers=${a.workers}, kernel threads auto`, sets: [`workers=${a.workers}`], workers: a.workers },
    { name: 'one', what: 'workers=1, kernel threads auto', sets: ['workers=1'], workers: 1 },
    { name: 'seq-1t', what: 'workers=1, 1 kernel thread per trial', sets: ['workers=1', 'base.kernels.threads=1'], workers: 0 },
  ];
  const scaling = scalingWorkers(availableParallelism());
  const scalingSetting = (k: number) => settings.find((s) => s.workers === k);
  for (const k of scaling) {
    if (!scalingSetting(k)) settings.push({ name: `w${k}`, what: `workers=${k}, kernel threads auto`, sets: [`workers=${k}`], workers: k });
  }
  const results = new Map<string, Measurement[]>(settings.map((s) => [s.name, []]));
  log(`search benchmark: ${a.config}, ${a.runs} run(s) per setting, interleaved; ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), Node ${process.versions.node}`);
  try {
    for (let r = 1; r <= a.runs; r++) {
      for (const s of settings) {
        const args = ['search', a.config, ...dataArgs, ...s.sets.flatMap((x) => ['--set', x])];
        const m = await runCli(cli, args, join(root, `${s.name}-${r}`));
        results.get(s.name)!.push(m);
        const sm = m.summary as { threadsPerTrial?: number; workers?: number; best?: Array<{ val_acc: number | null }>; status?: string };
        log(`  run ${r} ${s.name.padEnd(6)} ${m.wallS.toFixed(1).padStart(6)} s  ${(m.peakRssKB / 1024).toFixed(0).padStart(5)} MiB  ` +
          `(${sm.workers} worker(s) × ${sm.threadsPerTrial} kernel thread(s); ${sm.status}, best val ${sm.best?.[0]?.val_acc != null ? `${(100 * sm.best[0].val_acc).toFixed(2)}%` : 'none'})`);
      }
    }
    const trialConfig = join(root, 'pool-1', 'trials', '01', 'config.yaml');
    const single = await runCli(cli, ['run', trialConfig, ...dataArgs, '--set', 'kernels.threads=0'], join(root, 'single'));
    log(`  single run of trial 1's config (kernel threads auto): ${single.wallS.toFixed(1)} s, ${(single.peakRssKB / 1024).toFixed(0)} MiB`);

    const wall = (n: string) => median(results.get(n)!.map((m) => m.wallS));
    const rss = (n: string) => median(results.get(n)!.map((m) => m.peakRssKB));
    const scalingRows = scaling.map((k) => {
      const ms = results.get(scalingSetting(k)!.name)!;
      const first = ms[0].summary as { workers: number; threadsPerTrial: number };
      const perMinute = ms.map((m) => {
        const sm = m.summary as { seconds: number; counts: Record<string, number> };
        const done = sm.counts.completed + sm.counts.pruned + sm.counts.diverged + sm.counts.failed;
        return done / (sm.seconds / 60);
      });
      return { requestedWorkers: k, workers: first.workers, threadsPerTrial: first.threadsPerTrial, trialsPerMinute: median(perMinute), runs: ms.length };
    });
    const rows = settings.filter((s) => !s.name.startsWith('w')).map((s) => {
      const ms = results.get(s.name)!;
      const first = ms[0].summary as { workers: number; threadsPerTrial: number };
      return {
        setting: s.name, what: s.what, runs: ms.length, workers: first.workers, threadsPerTrial: first.threadsPerTrial,
        wallMedianS: wall(s.name), wallMinS: Math.min(...ms.map((m) => m.wallS)), wallMaxS: Math.max(...ms.map((m) => m.wallS)),
        peakRssMedianMiB: rss(s.name) / 1024,
      };
    });
    const ratios = {
      poolVsOne: wall('pool') / wall('one'),
      poolVsSequentialOneThread: wall('pool') / wall('seq-1t'),
      poolMemoryVsSingleRun: rss('pool') / single.peakRssKB,
    };
    if (a.json) {
      console.log(JSON.stringify({ config: a.config, cores: availableParallelism(), rows, single: { wallS: single.wallS, peakRssMiB: single.peakRssKB / 1024 }, ratios, scaling: scalingRows }, null, 2));
      return;
    }
    log('');
    log('setting  pool settings                          runs  wall median     min     max  peak RSS median');
    for (const r of rows) {
      log(`${r.setting.padEnd(8)} ${r.what.padEnd(38)} ${String(r.runs).padStart(4)} ${r.wallMedianS.toFixed(1).padStart(9)} s ${r.wallMinS.toFixed(1).padStart(7)} ${r.wallMaxS.toFixed(1).padStart(7)} ${r.peakRssMedianMiB.toFixed(0).padStart(10)} MiB`);
    }
    log(`single   one training run of the trial config             ${single.wallS.toFixed(1).padStart(9)} s                 ${(single.peakRssKB / 1024).toFixed(0).padStart(10)} MiB`);
    log('');
    log(`pool / one:    ${ratios.poolVsOne.toFixed(2)}× the wall time of one worker whose trials use all cores for their kernels`);
    log(`pool / seq-1t: ${ratios.poolVsSequentialOneThread.toFixed(2)}× the wall time of the same trials one after another`);
    log(`pool memory:   ${ratios.poolMemoryVsSingleRun.toFixed(2)}× the peak RSS of a single training run`);
    log('');
    log('scaling (kernel threads auto: workers × threads ≤ cores; trials per minute of the search\'s own wall time, median of the runs)');
    log('workers  threads/trial  trials/min  vs 1 worker');
    for (const r of scalingRows) {
      log(`${String(r.workers).padStart(7)}  ${String(r.threadsPerTrial).padStart(13)}  ${r.trialsPerMinute.toFixed(1).padStart(10)}  ${(r.trialsPerMinute / scalingRows[0].trialsPerMinute).toFixed(2).padStart(10)}×`);
    }
  } finally {
    if (a.keep) log(`outputs kept in ${root}`);
    else rmSync(root, { recursive: true, force: true });
  }
}

/** 1, 2, 4, … up to the cores, and the cores themselves. */
function scalingWorkers(cores: number): number[] {
  const ks: number[] = [];
  for (let k = 1; k < cores; k *= 2) ks.push(k);
  ks.push(cores);
  return ks;
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});

/**
 * Memory against run length: the resident set size of `cifar-mlp run` after its first N seconds, for a run of
 * ns = 10,000 (20,000 steps) and one of ns = 10,000,000 (20 million steps), side by side. The training stream holds
 * one step at a time, so the two should be within a few percent of each other.
 *
 *   npm run bench:rss -- --data DIR [--config config/cycle1.yaml] [--seconds 10] [--runs 1]
 *
 * Each run is a child process (dist/cli.js) stopped with SIGINT after the RSS is read from /proc (Linux) or `ps`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './stats.js';

interface Args { data?: string; config: string; seconds: number; runs: number }

function parseArgs(argv: string[]): Args {
  const a: Args = { config: 'config/cycle1.yaml', seconds: 10, runs: 1 };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    if (x === '--data') a.data = argv[++i];
    else if (x === '--config') a.config = argv[++i];
    else if (x === '--seconds') a.seconds = Number(argv[++i]);
    else if (x === '--runs') a.runs = Math.max(1, Number(argv[++i]));
    else if (x === '--help' || x === '-h') {
      console.log('usage: rss-bench [--data DIR] [--config FILE] [--seconds S] [--runs N]');
      process.exit(0);
    } else throw new Error(`rss-bench: unknown option ${x}`);
  }
  return a;
}

function rssMiB(pid: number): number {
  const status = `/proc/${pid}/status`;
  if (existsSync(status)) {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(status, 'utf8'));
    if (m) return Number(m[1]) / 1024;
  }
  return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim()) / 1024;
}

/** Starts a run, reads its RSS after `seconds`, stops it (SIGINT), returns the RSS in MiB and the steps it reached. */
async function measure(cli: string, args: Args, ns: number, out: string): Promise<{ rss: number; steps: number; exit: number | null }> {
  const child = spawn(process.execPath, [cli, 'run', args.config, '--out', out, '--set', `schedule.ns=${ns}`, ...(args.data ? ['--data', args.data] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  // the clock starts once the run has started training (data read, backend loaded)
  const t0 = Date.now();
  while (!/ step \d+\//.test(stderr) && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, args.seconds * 1000));
  const rss = rssMiB(child.pid!);
  child.kill('SIGINT');
  const exit = await exited;
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  return { rss, steps: summary.steps, exit };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cli = resolve(fileURLToPath(new URL('./cli.js', import.meta.url)));
  const root = mkdtempSync(join(tmpdir(), 'cifar-mlp-rss-'));
  const results: Record<string, number[]> = { short: [], long: [] };
  try {
    for (let r = 0; r < args.runs; r++) {
      for (const [label, ns] of [['short', 10_000], ['long', 10_000_000]] as const) {
        const m = await measure(cli, args, ns, join(root, `${label}-${r}`));
        results[label].push(m.rss);
        console.log(`${label.padEnd(5)} ns=${String(ns).padStart(8)} (${(2 * ns).toLocaleString('en')} steps): RSS after ${args.seconds}s ${m.rss.toFixed(1)} MiB at step ${m.steps}, exit ${m.exit}`);
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const short = median(results.short), long = median(results.long);
  console.log(`RSS long / short = ${(long / short).toFixed(3)} (target ≤ 1.2)`);
}

main().catch((e) => {
  console.error(`rss-bench: ${(e as Error).message}`);
  process.exit(1);
});

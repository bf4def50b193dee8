/**
 * The README's results table, from real runs: `npm run results -- --data DIR [--write] [--only a,b] [--bonus]`.
 *
 * Runs the README's experiments with the built CLI on the default backend (or --backend), each into its own folder
 * under --work (default runs/results), and prints the table; --write replaces the table in README.md (between its
 * results-table markers). The experiment and report columns are kept from README.md; "result here", "wall time" and
 * "measured" (backend, date) are rewritten for the rows that ran, and the line above the table names the machine.
 * Resumable: a folder whose run completed is taken as it is (delete it to measure again), an interrupted one is
 * resumed, any other is run again with --force. The bonus row (about 20 minutes) runs only with --bonus.
 *
 * test/results-table.test.ts runs the fast rows (gradcheck, sanity, cycle1, cycle3) and fails when README.md no
 * longer shows what they print.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const TABLE_START = '<!-- results-table: `npm run results -- --data DIR --write` measures this table again (scripts/results-table.ts) -->';
export const TABLE_END = '<!-- /results-table -->';

/** A summary.json as read back (the script trusts the files its own runs wrote). */
type Json = Record<string, any>;

export interface Experiment {
  key: string;
  /** How its row of the README table starts (the experiment column). */
  row: string;
  /** The CLI arguments after `node dist/cli.js` (the data, output folder and backend are added). */
  args: (work: string) => string[];
  /** The "result here" cell, from the run folder's summary.json. */
  result: (summary: Json) => string;
  /** Seconds in a few seconds: the test runs these. */
  fast?: boolean;
  slow?: boolean;
}

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
const lambdaText = (l: number) => `10^${Math.log10(l).toFixed(2)}`;
const testAccuracy = (s: Json) => `test accuracy ${pct(s.final.test.accuracy)}`;
const searchResult = (next: boolean) => (s: Json) => {
  const c = s.chosen;
  const rest = next ? `; next ${s.ranking.slice(1, 3).map((r: Json) => pct(r.val_acc)).join(', ')}` : '';
  return `best val ${pct(c.valAccuracy)} at λ = ${lambdaText(c.params['base.train.lambda'])} (test ${c.test ? pct(c.test.accuracy) : '—'})${rest}`;
};

export function gradcheckResult(s: Json): string {
  const f64 = s.results.filter((r: Json) => r.check === 'numerical-f64');
  const abs = f64.map((r: Json) => r.maxAbsDiff as number);
  const e = (v: number) => v.toExponential(1);
  return `max abs difference ${e(Math.min(...abs))} .. ${e(Math.max(...abs))}, max relative error ≤ ${e(s.worst['numerical-f64'].value)} (float64); ` +
    `float32 backend vs float64 ≤ ${e(s.worst['float32-vs-f64'].value)}`;
}

export const EXPERIMENTS: Experiment[] = [
  { key: 'gradcheck', row: 'gradient check', fast: true, args: () => ['run', 'config/gradcheck.yaml'], result: gradcheckResult },
  {
    key: 'sanity', row: 'sanity', fast: true, args: () => ['run', 'config/sanity.yaml'],
    result: (s) => `training loss ${s.final.train.loss.toFixed(4)}, training accuracy ${s.final.train.accuracy === 1 ? '100%' : pct(s.final.train.accuracy)}`,
  },
  { key: 'cycle1', row: 'cycle1', fast: true, args: () => ['run', 'config/cycle1.yaml'], result: testAccuracy },
  { key: 'cycle3', row: 'cycle3', fast: true, args: () => ['run', 'config/cycle3.yaml'], result: testAccuracy },
  { key: 'search-coarse', row: 'coarse search', args: () => ['search', 'config/search-coarse.yaml'], result: searchResult(true) },
  { key: 'search-fine', row: 'fine search (', args: () => ['search', 'config/search-fine.yaml'], result: searchResult(false) },
  {
    key: 'search-fine-from-coarse', row: 'fine search, range from the coarse search',
    args: (work) => ['search', 'config/search-fine.yaml', '--set', `space.from.dir=${join(work, 'search-coarse')}`], result: searchResult(false),
  },
  { key: 'final', row: 'final', args: () => ['run', 'config/final.yaml'], result: testAccuracy },
  {
    key: 'bonus', row: 'bonus', slow: true, args: () => ['run', 'config/bonus.yaml'],
    result: (s) => `${testAccuracy(s)} (val ${pct(s.final.val.accuracy)}); each snapshot alone ${s.ensemble.members.map((m: Json) => pct(m.final.test.accuracy)).join(', ')}`,
  },
];

export interface Measured { key: string; result: string; seconds: number; backend: string; date: string; stderr: string }

const readSummary = (dir: string): Json | null => {
  try {
    return JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
  } catch {
    return null;
  }
};
const finished = (s: Json | null) => s !== null && (s.status === 'completed' || s.status === 'passed');

/** The backend a run folder ran on (a search: its trials'; a gradient check: its float32 one). */
const backendOf = (s: Json) => String(s.backend ?? s.float32Backend ?? 'unknown');

/**
 * Runs one experiment into `<work>/<key>` (or takes a finished one there), with `extraArgs` (e.g. --set
 * kernels.backend=…). Throws with the run's last lines when it fails.
 */
export function measure(e: Experiment, o: { cli: string; data: string; work: string; extraArgs?: string[]; log?: (l: string) => void; env?: NodeJS.ProcessEnv }): Measured {
  const out = join(o.work, e.key);
  const before = readSummary(out);
  let stderr = '';
  if (!finished(before)) {
    const mode = before?.status === 'interrupted' ? ['--resume'] : existsSync(out) ? ['--force'] : [];
    const args = [o.cli, ...e.args(o.work), '--data', o.data, '--out', out, ...mode, ...(o.extraArgs ?? [])];
    o.log?.(`results: ${e.key}: node ${args.join(' ')}`);
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 256 * 2 ** 20, env: o.env ?? process.env });
    stderr = r.stderr ?? '';
    if (r.status !== 0) throw new Error(`results: ${e.key} failed (exit ${r.status ?? r.signal}):\n${stderr.trimEnd().split('\n').slice(-5).join('\n')}`);
  } else o.log?.(`results: ${e.key}: taken from ${out} (finished; delete it to measure again)`);
  const s = readSummary(out);
  if (!finished(s)) throw new Error(`results: ${e.key}: ${out}/summary.json says ${s?.status ?? 'nothing'}`);
  return { key: e.key, result: e.result(s!), seconds: s!.seconds, backend: backendOf(s!), date: String(s!.finishedAt ?? '').slice(0, 10), stderr };
}

const wallTime = (seconds: number) => (seconds < 60 ? `${seconds.toFixed(1)} s` : `${(seconds / 60).toFixed(1)} min`);

/** The rows of the README table between the markers: cells per row. */
export function tableRows(readme: string): string[][] {
  const start = readme.indexOf(TABLE_START), end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`README.md: no results table between ${TABLE_START} and ${TABLE_END}`);
  return readme.slice(start, end).split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| experiment ') && !l.startsWith('|---'))
    .map((l) => l.slice(2, -2).split(' | '));
}

/** The README cell "result here" of an experiment's row. */
export function readmeResult(readme: string, e: Experiment): string | undefined {
  return tableRows(readme).find((cells) => cells[0].startsWith(e.row))?.[1];
}

/** The backend the README's row says it was measured on. */
export function readmeBackend(readme: string, e: Experiment): string | undefined {
  return tableRows(readme).find((cells) => cells[0].startsWith(e.row))?.[4]?.split(',')[0];
}

/** README.md with the measured rows' cells replaced and the machine line rewritten. */
export function updatedReadme(readme: string, measured: Measured[], machine: string): string {
  const start = readme.indexOf(TABLE_START), end = readme.indexOf(TABLE_END);
  const body = readme.slice(start + TABLE_START.length, end).split('\n').map((line) => {
    if (line.startsWith('Results measured on ')) return `Results measured on ${machine}, beside the figures of the assignment's reference report:`;
    if (!line.startsWith('| ') || line.startsWith('| experiment ') || line.startsWith('|---')) return line;
    const cells = line.slice(2, -2).split(' | ');
    const e = EXPERIMENTS.find((x) => cells[0].startsWith(x.row));
    const m = e && measured.find((x) => x.key === e.key);
    if (!m) return line;
    return `| ${[cells[0], m.result, cells[2], wallTime(m.seconds), `${m.backend}, ${m.date}`].join(' | ')} |`;
  });
  return readme.slice(0, start + TABLE_START.length) + body.join('\n') + readme.slice(end);
}

export const machineText = () => `${cpus()[0]?.model.trim() || 'an unknown CPU'} (${availableParallelism()} cores)`;

function main(): void {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' }, work: { type: 'string', default: 'runs/results' }, write: { type: 'boolean', default: false },
      only: { type: 'string' }, bonus: { type: 'boolean', default: false }, backend: { type: 'string' },
    },
  });
  const data = values.data ?? process.env.CIFAR10_DIR ?? 'data/cifar-10-batches-bin';
  if (!existsSync(join(data, 'data_batch_1.bin'))) {
    process.stderr.write(`results: no CIFAR-10 folder at ${data}: give --data DIR (the binary version)\n`);
    process.exit(2);
  }
  const only = values.only?.split(',');
  const unknown = only?.filter((k) => !EXPERIMENTS.some((e) => e.key === k)) ?? [];
  if (unknown.length) {
    process.stderr.write(`results: --only: unknown ${unknown.join(', ')} (known: ${EXPERIMENTS.map((e) => e.key).join(', ')})\n`);
    process.exit(2);
  }
  const chosen = EXPERIMENTS.filter((e) => (only ? only.includes(e.key) : !e.slow || values.bonus));
  const opts = {
    cli: resolve('dist/cli.js'), data: resolve(data), work: resolve(values.work!), log: (l: string) => process.stderr.write(`${l}\n`),
    extraArgs: values.backend ? ['--backend', values.backend] : [],
  };
  const measured: Measured[] = [];
  for (const e of chosen) {
    const m = measure(e, opts);
    measured.push(m);
    process.stderr.write(`results: ${e.key}: ${m.result} (${wallTime(m.seconds)} on ${m.backend})\n`);
  }
  const readme = readFileSync('README.md', 'utf8');
  const next = updatedReadme(readme, measured, machineText());
  const table = next.slice(next.indexOf(TABLE_START) + TABLE_START.length, next.indexOf(TABLE_END)).trim();
  process.stdout.write(`${table}\n`);
  if (values.write) {
    writeFileSync('README.md', next);
    process.stderr.write(`results: README.md's table rewritten (${measured.length} row(s) measured)\n`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();

/**
 * Faults at the edges, through the built CLI (`node dist/cli.js`) on tiny synthetic data (issue 10): hostile config
 * files and YAML tags, deeply nested model.json, output folders that cannot be created (/proc, a read-only file
 * system), full disks (/dev/full, a file size limit), kill -9 then --resume (nothing complete is lost), one process
 * per output folder, plot on unusable metrics, download limits from the environment.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, watch, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS_COLUMNS } from '../src/formats/metrics-csv.js';
import { trialColumns } from '../src/formats/trials-csv.js';
import { LOCK_FILE } from '../src/util/folder-lock.js';
import { cli as runCli, expectCleanError, listing, type CliOptions, type Result } from './helpers/cli.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const root = mkdtempSync(join(tmpdir(), 'cifar-cli-faults-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const dataDir = writeSyntheticCifar(join(root, 'data'), 60, 90);
const cli = (args: string[], opts: CliOptions = {}) => runCli(args, { cwd: root, timeoutMs: 280_000, ...opts });
// Runs take tens of seconds on a loaded 2-core machine: every group has a generous time limit.

const BASE = {
  name: 'tiny', seed: 3,
  data: { train: ['data_batch_1'], validation: ['data_batch_2'], test: ['test_batch'] },
  model: { hidden: 4 },
  train: { lambda: 0.01, batchSize: 10 },
  schedule: { etaMin: 1e-4, etaMax: 0.05, ns: 6, cycles: 1 },
  eval: { pointsPerCycle: 2 },
  kernels: { backend: 'reference' },
};
/** 1000 steps, an evaluation point and a checkpoint every 100. */
const LONG = { ...BASE, name: 'long', schedule: { ...BASE.schedule, ns: 250, cycles: 2 }, eval: { every: 100, trainSubset: 30 }, checkpoint: { every: 100 } };
const TRIAL_COLUMNS = trialColumns(['base.train.lambda']); // a lambda-only search's trials.csv
const SEARCH = {
  kind: 'search', name: 'srch', seed: 5, trials: 3, workers: 1, space: { lMin: -4, lMax: -2 },
  base: { ...BASE, name: undefined, kind: undefined, schedule: { ...BASE.schedule, ns: 30 } },
};

function cfg(dir: string, config: object | string, name = 'c.yaml'): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, typeof config === 'string' ? config : stringify(JSON.parse(JSON.stringify(config))));
  return path;
}
const caseDir = (name: string) => mkdtempSync(join(root, `${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 40)}-`));
const metricsRows = (dir: string) => readFileSync(join(dir, 'metrics.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, -1).join(','));
const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
const tempFiles = (dir: string) => listing(dir).filter((l) => /\.(tmp|part)\b|\.stale\./.test(l));

/** Every line of a CSV file complete: ends with a newline, the header's number of cells on every line. */
function expectWholeRows(path: string, columns: readonly string[]): string[] {
  const text = readFileSync(path, 'utf8');
  expect(text.endsWith('\n'), JSON.stringify(text.slice(-80))).toBe(true);
  const lines = text.trimEnd().split('\n');
  expect(lines[0]).toBe(columns.join(','));
  for (const l of lines) expect(l.split(',').length, l).toBe(columns.length);
  return lines.slice(1);
}

/** Sends SIGKILL once `ready(dir)` holds after a change in `dir` (inotify: right after the rename of a result file). */
function killWhen(dir: string, ready: () => boolean): CliOptions['onStderr'] {
  let watching = false;
  return (_all, _kill, child) => {
    if (watching || !existsSync(dir)) return;
    watching = true;
    const check = () => {
      try {
        if (child.exitCode === null && ready()) {
          child.kill('SIGKILL');
          w.close();
        }
      } catch { /* a file being replaced: the next event */ }
    };
    const w = watch(dir, check);
    child.on('close', () => w.close());
    check();
  };
}

const modelStep = (dir: string) => {
  const p = join(dir, 'model.json');
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')).step as number) : -1;
};

/** A LONG run in `out` killed with SIGKILL right after its checkpoint at step ≥ `step` was written. */
async function killedRun(dir: string, out: string, step: number): Promise<Result> {
  const r = await cli(['run', cfg(dir, LONG), '--data', dataDir, '--out', out], { onStderr: killWhen(out, () => modelStep(out) >= step) });
  expect(r.signal, r.stderr).toBe('SIGKILL');
  return r;
}

let full = ''; // the uninterrupted LONG run
let killed = ''; // the LONG run killed with SIGKILL after its checkpoint at step 100 or later
let search = ''; // a finished search (for the trials.csv header case)
beforeAll(async () => {
  full = join(root, 'full');
  killed = join(root, 'killed');
  search = join(root, 'search');
  const [r, s] = await Promise.all([
    cli(['run', cfg(root, LONG, 'long.yaml'), '--data', dataDir, '--out', full]),
    cli(['search', cfg(root, SEARCH, 'search.yaml'), '--data', dataDir, '--out', search, '--set', 'trials=1']),
    killedRun(root, killed, 100),
  ]);
  expect(r.code, r.stderr).toBe(0);
  expect(s.code, s.stderr).toBe(0);
}, 600_000);

// ---------------------------------------------------------------------------------------------------------
// Bad input: one line, exit 2, nothing written

interface Case {
  name: string;
  args: (dir: string) => string[] | Promise<string[]>;
  message: RegExp;
  code?: number;
  env?: Record<string, string>;
  cleanup?: () => void | Promise<void>;
}

const run = (dir: string, config: object | string, ...extra: string[]) => ['run', cfg(dir, config), '--data', dataDir, '--out', join(dir, 'out'), ...extra];
const deepModel = (dir: string) => {
  const depth = 200_000;
  writeFileSync(join(dir, 'model.json'), `{"format":"cifar-mlp-model","version":1,"step":0,"deep":${'['.repeat(depth)}${']'.repeat(depth)},"sha256":"${'0'.repeat(64)}"}`);
  return join(dir, 'model.json');
};
let socketServer: ReturnType<typeof createNetServer> | null = null;
let slowServer: Server;
let bigUrl = '';
beforeAll(async () => {
  slowServer = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/gzip' }); // no content-length: the cap applies as bytes arrive
    let sent = 0;
    const t = setInterval(() => {
      res.write(Buffer.alloc(1000, 1));
      if ((sent += 1000) >= 20_000) { clearInterval(t); res.end(); }
    }, 5);
    res.on('close', () => clearInterval(t));
  });
  await new Promise<void>((r) => slowServer.listen(0, '127.0.0.1', r));
  bigUrl = `http://127.0.0.1:${(slowServer.address() as AddressInfo).port}/cifar-10-binary.tar.gz`;
});
afterAll(() => new Promise((r) => slowServer.close(r)));

const CASES: Case[] = [
  // configs: regular files only, with a size cap
  { name: 'config: /dev/zero (stat size 0)', args: (d) => ['run', '/dev/zero', '--data', dataDir, '--out', join(d, 'out')], message: /\/dev\/zero: is a character device, expected a YAML config file/ },
  { name: 'config: a named pipe (no hang)', args: (d) => { execFileSync('mkfifo', [join(d, 'p.yaml')]); return ['run', join(d, 'p.yaml'), '--data', dataDir, '--out', join(d, 'out')]; }, message: /p\.yaml: is a named pipe, expected a YAML config file/ },
  { name: 'config: a folder', args: (d) => { mkdirSync(join(d, 'dir.yaml')); return ['run', join(d, 'dir.yaml'), '--data', dataDir, '--out', join(d, 'out')]; }, message: /dir\.yaml: is a directory, expected a YAML config file/ },
  {
    name: 'config: a socket',
    args: async (d) => {
      socketServer = createNetServer();
      await new Promise<void>((r) => socketServer!.listen(join(d, 's.yaml'), r));
      return ['run', join(d, 's.yaml'), '--data', dataDir, '--out', join(d, 'out')];
    },
    cleanup: () => new Promise((r) => socketServer!.close(() => r())),
    message: /s\.yaml: is a socket, expected a YAML config file/,
  },
  { name: 'config: larger than 1 MiB', args: (d) => run(d, `${stringify(BASE)}${'# padding padding padding\n'.repeat(45_000)}`), message: /c\.yaml: larger than 1048576 bytes, too large for a YAML config file/ },
  // YAML: the core schema only
  { name: 'yaml: !!omap section (was: trained with the defaults)', args: (d) => run(d, `${stringify({ ...BASE, train: undefined })}train: !!omap [{lambda: -5}]\n`), message: /c\.yaml: line \d+: tag !!omap is not allowed/ },
  { name: 'yaml: !!set section', args: (d) => run(d, `${stringify({ ...BASE, model: undefined })}model: !!set {hidden}\n`), message: /c\.yaml: line \d+: tag !!set is not allowed/ },
  { name: 'yaml: !!js/function value', args: (d) => run(d, `${stringify({ ...BASE, name: undefined })}name: !!js/function "function () { return 1 }"\n`), message: /c\.yaml: line \d+: tag !!js\/function is not allowed/ },
  { name: 'yaml: !!binary value', args: (d) => run(d, `${stringify({ ...BASE, name: undefined })}name: !!binary aGVsbG8=\n`), message: /c\.yaml: line \d+: tag !!binary is not allowed/ },
  { name: 'yaml: a custom tag', args: (d) => run(d, `${stringify({ ...BASE, seed: undefined })}seed: !seed 3\n`), message: /c\.yaml: line \d+: tag !seed is not allowed/ },
  { name: 'yaml: a tag in --set', args: (d) => run(d, BASE, '--set', 'train=!!omap [{lambda: -5}]'), message: /--set "train=!!omap \[\{lambda: -5\}\]": value: line 1: tag !!omap is not allowed/ },
  // model files
  { name: 'model: nested 200,000 deep with a valid header (was: Maximum call stack size exceeded, exit 1)', args: (d) => ['evaluate', deepModel(d), '--data', dataDir], message: /model\.json: not a cifar-mlp model file \(JSON nested deeper than 64 levels\)/ },
  // output folders that cannot be created: /proc (Node 20's recursive mkdir loops there at 100% CPU)
  { name: 'out: under /proc (run)', args: (d) => run(d, BASE).map((a) => (a === join(d, 'out') ? '/proc/x/y' : a)), message: /--out \/proc\/x\/y: cannot create the folder \/proc\/x \(ENOENT: no such file or directory\)/ },
  { name: 'out: under /proc (evaluate)', args: () => ['evaluate', full, '--out', '/proc/x/y'], message: /--out \/proc\/x\/y: cannot create the folder \/proc\/x \(ENOENT/ },
  // other commands
  { name: 'config-doc --write into a missing folder', args: (d) => ['config-doc', '--write', join(d, 'missing', 'README.md')], message: /--write .*missing\/README\.md: file not found/ },
  {
    name: 'search --resume with a bad trials.csv header (was: exit 1)',
    args: (d) => {
      cpSync(search, join(d, 'out'), { recursive: true });
      writeFileSync(join(d, 'out', 'trials.csv'), 'trial,l,lambda,nonsense\n1,2,3,4\n');
      return ['search', cfg(d, SEARCH), '--data', dataDir, '--out', join(d, 'out'), '--set', 'trials=1', '--resume'];
    },
    message: /out\/trials\.csv: not a trials file of this tool: unexpected header "trial,l,lambda,nonsense"/,
  },
  {
    name: 'plot: a metrics.csv without usable rows (was: exit 0, Vega warnings, empty plots)',
    args: (d) => { mkdirSync(join(d, 'run')); writeFileSync(join(d, 'run', 'metrics.csv'), `${METRICS_COLUMNS.join(',')}\ngarbage\n1,2,3\nx,y,z,1,2,3,4,5,6,7\n`); return ['plot', join(d, 'run')]; },
    message: /^cifar-mlp: no usable rows in .*run\/metrics\.csv \(3 malformed lines skipped\); nothing plotted$/m,
  },
  // download limits from the environment
  // a download that fails is a failure (exit 1), not bad input (was: exit 2)
  { name: 'download: over CIFAR10_DOWNLOAD_MAX_MB', env: { CIFAR10_DOWNLOAD_MAX_MB: '0.01' }, args: (d) => ['run', cfg(d, { ...BASE, data: { ...BASE.data, url: bigUrl } }), '--out', join(d, 'out')], message: /refused: it sent more than 10\.2 KiB/, code: 1 },
  // an --out that cannot be used is refused before the download starts (was: after 162 MiB)
  { name: 'out: a file, before any download', args: (d) => { writeFileSync(join(d, 'taken'), 'x'); return ['run', cfg(d, { ...BASE, data: { ...BASE.data, url: bigUrl } }), '--out', join(d, 'taken')]; }, message: /^cifar-mlp: --out .*taken: exists and is not a directory$/m },
  { name: 'out: under a file, before any download', args: (d) => ['run', cfg(d, { ...BASE, data: { ...BASE.data, url: bigUrl } }), '--out', join(d, 'c.yaml', 'sub')], message: /^cifar-mlp: --out .*c\.yaml\/sub: cannot create the folder: .*c\.yaml is not a directory$/m },
  { name: 'download: a bad CIFAR10_DOWNLOAD_DEADLINE_S', env: { CIFAR10_DOWNLOAD_DEADLINE_S: 'soon' }, args: (d) => ['run', cfg(d, { ...BASE, data: { ...BASE.data, url: bigUrl } }), '--out', join(d, 'out')], message: /environment variable CIFAR10_DOWNLOAD_DEADLINE_S: expected a positive number \(got "soon"\)/ },
];

describe.concurrent('bad input: one line naming the file, exit 2, nothing written', { timeout: 300_000 }, () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const dir = caseDir(c.name);
      const args = await c.args(dir);
      const before = listing(dir);
      try {
        const r = await cli(args, { cwd: dir, env: c.env, timeoutMs: 120_000 });
        expect(r.signal, 'killed: it hung').toBeNull();
        expectCleanError(r, c.code ?? 2, c.message, 1, /^download/.test(c.name));
        expect(listing(dir)).toEqual(before); // no out dir, no data dir, no temporary file, no lock; inputs untouched
      } finally {
        await c.cleanup?.();
      }
    });
  }
});

describe('a read-only working folder', { timeout: 300_000 }, () => {
  it('is reported as EROFS (was: ENOENT), for the default output folder and the default download folder', async (ctx) => {
    const src = caseDir('ro-src'), cwd = caseDir('ro-mnt');
    cfg(src, BASE);
    const bind = spawnSync('mount', ['--bind', src, cwd], { encoding: 'utf8' });
    const ro = bind.status === 0 ? spawnSync('mount', ['-o', 'remount,bind,ro', cwd], { encoding: 'utf8' }) : bind;
    if (ro.status !== 0) {
      if (bind.status === 0) spawnSync('umount', [cwd]);
      const why = `needs a read-only bind mount (mount: ${(ro.stderr || ro.error?.message || '').trim().split('\n')[0]})`;
      if (process.env.CI === 'true') throw new Error(why);
      console.warn(`skipped: read-only working folder test ${why}`);
      ctx.skip();
    }
    try {
      const r = await cli(['run', 'c.yaml', '--data', dataDir], { cwd });
      expectCleanError(r, 2, /--out runs\/tiny: cannot create the folder .*runs \(EROFS: read-only file system\)/);
      const d = await cli(['run', 'c.yaml', '--set', `data.url=${bigUrl}`], { cwd });
      expectCleanError(d, 2, /CIFAR-10 download: .*\/data: cannot create the folder \(EROFS: read-only file system\)/, 1, true);
    } finally {
      execFileSync('umount', [cwd]);
    }
  });
});

describe('plot', { timeout: 300_000 }, () => {
  it('draws rows whose columns are all missing without Vega warnings', async () => {
    const dir = caseDir('plot-na');
    const rows = [0, 10, 20].map((s) => [s, s / 10, 'NA', 'NA', 'NA', 'NA', 2.3 - s / 100, 2.4 - s / 100, 0.1 + s / 100, s].join(','));
    writeFileSync(join(dir, 'metrics.csv'), `${METRICS_COLUMNS.join(',')}\n${rows.join('\n')}\n`);
    const r = await cli(['plot', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim()).toBe(`cifar-mlp: plots and report.html written to ${dir}`);
    expect(readFileSync(join(dir, 'lr.svg'), 'utf8')).toContain('no values recorded');
    expect(readFileSync(join(dir, 'accuracy.svg'), 'utf8')).toContain('validation accuracy');
  });
});

// ---------------------------------------------------------------------------------------------------------
// Full disks: fail at once, exit 1, name the file, no half-written file

describe('write errors', { timeout: 300_000 }, () => {
  it('metrics.csv on a full device: the run fails at once with exit 1 naming the file; summary.json says so', async () => {
    const dir = caseDir('full-metrics'), out = join(dir, 'out');
    mkdirSync(out);
    symlinkSync('/dev/full', join(out, 'metrics.csv'));
    const r = await cli(run(dir, LONG, '--force'));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/out\/metrics\.csv: cannot write \(ENOSPC: no space left on device\)/);
    const s = summaryOf(out);
    expect(s.status).toBe('failed');
    expect(s.error).toMatch(/metrics\.csv: cannot write \(ENOSPC/);
    expect(s.steps).toBeLessThan(100); // not trained to the end (1000 steps)
    expect(tempFiles(dir)).toEqual([]);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
  });

  it('a file size limit (a short write, then EFBIG): exit 1 naming a file; metrics.csv holds whole rows only', async () => {
    const dir = caseDir('fsize');
    // 400 KiB: room for model.json (~170 KB, written at step 0), not for the rows of 10,000 evaluation points
    const r = await cli(run(dir, { ...LONG, schedule: { ...LONG.schedule, ns: 2500 }, eval: { every: 1, trainSubset: 30 }, checkpoint: { every: 1000 } }), { shellPrefix: 'ulimit -f 400 && exec' });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/cifar-mlp: .*(metrics\.csv|summary\.json|config\.yaml|report\.html|\.svg|\.png|model\.json): cannot write \(EFBIG: file too large\)/);
    const rows = expectWholeRows(join(dir, 'out', 'metrics.csv'), METRICS_COLUMNS);
    expect(rows.map((l) => Number(l.split(',')[0]))).toEqual(rows.map((_, i) => i)); // steps 0, 1, 2… none torn
    expect(tempFiles(dir)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// kill -9, then --resume: every complete row is kept

describe('kill -9 and --resume', { timeout: 300_000 }, () => {
  it('keeps the checkpoint step\'s metrics row (checkpoint.every = eval.every = 100) and ends equal to the uninterrupted run', async () => {
    const dir = caseDir('kill9'), out = join(dir, 'out');
    await killedRun(dir, out, 200);
    const at = modelStep(out);
    expectWholeRows(join(out, 'metrics.csv'), METRICS_COLUMNS);
    const resumed = await cli(['run', cfg(dir, LONG), '--data', dataDir, '--out', out, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`resuming at step ${at} of 1000`));
    expect(resumed.stderr).toMatch(/taking over the lock of process \d+ .*which is no longer running/); // kill -9 left its lock
    expect(metricsRows(out)).toEqual(metricsRows(full));
    expect(summaryOf(out).final).toEqual(summaryOf(full).final);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
  });

  it('two --resume at once on one folder: one runs, the other exits 2 naming its pid; no duplicate or torn rows', async () => {
    const dir = caseDir('two-resumes'), out = join(dir, 'out');
    cpSync(killed, out, { recursive: true });
    const args = ['run', cfg(dir, LONG), '--data', dataDir, '--out', out, '--resume'];
    // Whichever takes the folder first is paused there (SIGSTOP) until the other has finished: a deterministic overlap.
    let first: { pid: number; resume: () => void } | null = null;
    const hold: CliOptions['onStderr'] = (all, _kill, child) => {
      if (!first && /resuming at step/.test(all)) {
        child.kill('SIGSTOP');
        first = { pid: child.pid!, resume: () => child.kill('SIGCONT') };
      }
    };
    const a = cli(args, { onStderr: hold });
    const b = cli(args, { onStderr: hold });
    const loser = await Promise.race([a, b]);
    (first as { resume: () => void } | null)?.resume();
    const [ra, rb] = await Promise.all([a, b]);
    const winner = loser === ra ? rb : ra;
    expect(first).not.toBeNull();
    expectCleanError(loser, 2, new RegExp(`out: in use by process ${winner.pid} on ${hostname()} \\(since .*\\)`));
    expect(winner.code, winner.stderr).toBe(0);
    expectWholeRows(join(out, 'metrics.csv'), METRICS_COLUMNS);
    expect(metricsRows(out)).toEqual(metricsRows(full)); // every evaluation step exactly once
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
  });

  it('a search killed right after a trial finished keeps that trial on --resume (its row ends with a newline)', async () => {
    const dir = caseDir('search-kill9'), out = join(dir, 'out');
    const config = cfg(dir, SEARCH);
    const rowsOf = () => readFileSync(join(out, 'trials.csv'), 'utf8').split('\n').slice(1).filter((l) => l.split(',').length === TRIAL_COLUMNS.length);
    const killed = await cli(['search', config, '--data', dataDir, '--out', out], {
      onStderr: killWhen(out, () => existsSync(join(out, 'trials.csv')) && rowsOf().length >= 1),
    });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const done = rowsOf().length; // rows complete in content at the kill: each must count as done
    expect(done).toBeGreaterThanOrEqual(1);
    expectWholeRows(join(out, 'trials.csv'), TRIAL_COLUMNS);
    const resumed = await cli(['search', config, '--data', dataDir, '--out', out, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`resuming .*out: ${done} of 3 trials done, ${3 - done} to run`));
    const rows = expectWholeRows(join(out, 'trials.csv'), TRIAL_COLUMNS);
    expect(rows.map((l) => l.split(',')[0]).sort()).toEqual(['1', '2', '3']); // each trial once: none ran again
  });
});

// ---------------------------------------------------------------------------------------------------------
// One process per output folder

describe('one process per output folder', { timeout: 300_000 }, () => {
  /** A folder whose lock a live process (sleep) holds, as a run would. */
  function heldFolder(dir: string, populate: (out: string) => void): { out: string; pid: number; stop: () => void } {
    const out = join(dir, 'out');
    populate(out);
    const holder = spawn('sleep', ['120']);
    writeFileSync(join(out, LOCK_FILE), JSON.stringify({ pid: holder.pid, hostname: hostname(), startedAt: new Date().toISOString(), command: 'run held' }));
    return { out, pid: holder.pid!, stop: () => holder.kill('SIGKILL') };
  }
  const copyOf = (src: string) => (out: string) => cpSync(src, out, { recursive: true });
  const commands: [string, (dir: string, out: string) => string[], (out: string) => void][] = [
    ['run --resume', (d, out) => ['run', cfg(d, LONG), '--data', dataDir, '--out', out, '--resume'], copyOf(join(root, 'killed'))],
    ['run --force', (d, out) => ['run', cfg(d, BASE), '--data', dataDir, '--out', out, '--force'], copyOf(join(root, 'full'))],
    ['run (empty folder)', (d, out) => ['run', cfg(d, BASE), '--data', dataDir, '--out', out], (out) => mkdirSync(out)],
    ['run (gradcheck)', (d, out) => ['run', cfg(d, { kind: 'gradcheck', name: 'gc', data: BASE.data, check: { samples: 2, entries: 3 }, model: { inputDims: 5, hidden: 3 }, float32: { enabled: false } }), '--data', dataDir, '--out', out], (out) => mkdirSync(out)],
    ['search --resume', (d, out) => ['search', cfg(d, SEARCH), '--data', dataDir, '--out', out, '--set', 'trials=1', '--resume'], copyOf(join(root, 'search'))],
    // plot takes no lock (issue 22: drawing only reads; its pictures are written atomically): see 'plot draws a folder a run holds'
    ['evaluate', (_d, out) => ['evaluate', out], copyOf(join(root, 'full'))],
  ];
  for (const [name, args, populate] of commands) {
    it(`${name}: refused with exit 2 naming the holder's pid, nothing written`, async () => {
      const dir = caseDir(`held-${name}`);
      const held = heldFolder(dir, populate);
      try {
        const a = args(dir, held.out);
        const before = listing(dir);
        const r = await cli(a);
        expectCleanError(r, 2, new RegExp(`out: in use by process ${held.pid} on ${hostname()} \\(since .*: run held\\); wait for it to finish`));
        expect(listing(dir)).toEqual(before);
      } finally {
        held.stop();
      }
    });
  }

  it('plot draws a folder a run holds, without its lock (issue 22): says so, writes its pictures atomically, leaves the lock alone', async () => {
    const dir = caseDir('plot-during-run'), out = join(dir, 'out');
    let plot: Promise<Result> | null = null;
    let runPid = 0, lockDuringRun = '';
    const r = await cli(['run', cfg(dir, LONG), '--data', dataDir, '--out', out], {
      onStderr: (all, kill, child) => {
        if (!plot && /long step 0\//.test(all)) {
          kill('SIGSTOP'); // holds the folder, certainly still running while plot draws
          runPid = child.pid!;
          lockDuringRun = readFileSync(join(out, LOCK_FILE), 'utf8');
          plot = cli(['plot', out]).then((p) => { kill('SIGCONT'); kill('SIGKILL'); return p; });
        }
      },
    });
    expect(plot).not.toBeNull();
    const p = await plot!;
    expect(p.code, p.stderr).toBe(0);
    expect(p.stderr).toMatch(new RegExp(`out: in use by process ${runPid} .*: drawn from its files as they are now`));
    expect(r.signal).toBe('SIGKILL');
    expect(readdirSync(out).filter((f) => /\.(svg|png)$|report\.html/.test(f)).sort()).toEqual(['accuracy.png', 'accuracy.svg', 'loss.png', 'loss.svg', 'lr.png', 'lr.svg', 'report.html']);
    expect(readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(readFileSync(join(out, LOCK_FILE), 'utf8')).toBe(lockDuringRun); // the run's lock, untouched
    // kill -9 left a stale lock: plot says nothing about it (no live holder) and leaves it to the next writer
    const again = await cli(['plot', out]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/in use by/);
    expect(existsSync(join(out, LOCK_FILE))).toBe(true);
  });

  it('a stale lock of a dead pid in an otherwise empty folder is taken over with a warning', async () => {
    const dir = caseDir('stale'), out = join(dir, 'out');
    mkdirSync(out);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    writeFileSync(join(out, LOCK_FILE), JSON.stringify({ pid: Number(dead), hostname: hostname(), startedAt: '2020-01-01T00:00:00.000Z', command: 'run old' }));
    const r = await cli(['run', cfg(dir, BASE), '--data', dataDir, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`cifar-mlp: warning: .*out: taking over the lock of process ${dead} on ${hostname()} \\(since 2020-01-01T00:00:00\\.000Z: run old\\), which is no longer running`));
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
    expect(summaryOf(out).status).toBe('completed');
  });
});

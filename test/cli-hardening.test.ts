/**
 * Bad input, faults and interruptions, through the built CLI (`node dist/cli.js`) on tiny synthetic data.
 *
 * Every bad-input case asserts the exit code, the message (one `cifar-mlp: ` line per problem, naming the
 * field / file and the bad value, never a stack trace) and that nothing was written: the case's folder holds
 * exactly what the case put there before the command ran (no out dir created, no temporary or half-written file,
 * existing run files untouched). Then: divergence (exit 3), SIGINT mid-run (exit 130, metrics.csv intact) and
 * --resume giving exactly the metrics of an uninterrupted run, evaluate and predict.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRecords, PIXELS, RECORD_BYTES } from '../src/data/cifar.js';
import { checksumOf } from '../src/formats/model-file.js';
import { METRICS_COLUMNS } from '../src/formats/metrics-csv.js';
import { listing } from './helpers/cli.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const CLI = process.env.CIFAR_MLP_CLI ?? resolve('dist/cli.js');
const root = mkdtempSync(join(tmpdir(), 'cifar-cli-hardening-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const dataDir = writeSyntheticCifar(join(root, 'data'), 20, 90); // 20 records per batch file

interface Result { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

function cli(args: string[], opts: { cwd?: string; env?: Record<string, string | undefined>; onStderr?: (all: string, kill: (s: NodeJS.Signals) => void) => void } = {}): Promise<Result> {
  const env: Record<string, string | undefined> = { ...process.env, CIFAR10_DIR: undefined, CIFAR_MLP_DEBUG: undefined, FORCE_COLOR: '0', ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => {
      stderr += d;
      opts.onStderr?.(stderr, (s) => child.kill(s));
    });
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolveRun({ code, signal, stdout, stderr }); });
  });
}

// ---------------------------------------------------------------------------------------------------------
// Configs and files for the cases

const BASE = {
  name: 'tiny', seed: 3,
  data: { train: ['data_batch_1'], validation: ['data_batch_2'], test: ['test_batch'] },
  model: { hidden: 4 },
  train: { lambda: 0.01, batchSize: 10 },
  schedule: { etaMin: 1e-4, etaMax: 0.05, ns: 4, cycles: 1 },
  eval: { pointsPerCycle: 2 },
  kernels: { backend: 'reference' },
};

function merge(a: any, b: any): any {
  if (b === undefined) return a;
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const out = { ...a };
    for (const [k, v] of Object.entries(b)) {
      if (v === undefined) delete out[k];
      else out[k] = merge(a[k], v);
    }
    return out;
  }
  return b;
}

/** Writes `<dir>/c.yaml`: the base config with changes (a value of undefined removes a field), or raw text. */
function cfg(dir: string, change: object | string = {}, name = 'c.yaml'): string {
  const path = join(dir, name);
  writeFileSync(path, typeof change === 'string' ? change : stringify(merge(BASE, change)));
  return path;
}

/** A copy of the data folder inside the case folder, with one file replaced (or made a folder). */
function dataWith(dir: string, file: string, content: Buffer | 'folder' | 'missing'): string {
  const d = join(dir, 'data');
  cpSync(dataDir, d, { recursive: true });
  rmSync(join(d, file), { force: true });
  if (content === 'folder') mkdirSync(join(d, file));
  else if (content !== 'missing') writeFileSync(join(d, file), content);
  return d;
}

const batch = () => readFileSync(join(dataDir, 'data_batch_1.bin'));

function png(path: string, width: number, height: number, colorType = 6): void {
  const p = new PNG({ width, height, colorType: colorType as 6 });
  for (let i = 0; i < p.data.length; i++) p.data[i] = (i * 37) % 256;
  writeFileSync(path, PNG.sync.write(p, { colorType: colorType as 6 }));
}

function expectCleanError(r: Result, code: number, message: RegExp, lines = 1, lastLine = false): void {
  const err = r.stderr.trimEnd().split('\n').slice(lastLine ? -1 : 0);
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).toMatch(message);
  expect(err, r.stderr).toHaveLength(lines);
  for (const l of err) expect(l, r.stderr).toMatch(/^cifar-mlp: \S/);
  expect(r.stderr).not.toMatch(/^\s+at |TypeError|RangeError|ReferenceError|SyntaxError: /m);
}

let good = ''; // a finished run folder with model.json (checkpoint every 2 steps), made by beforeAll
beforeAll(async () => {
  good = join(root, 'good');
  const r = await cli(['run', cfg(root, { checkpoint: { every: 2 }, eval: { every: 8 } }, 'good.yaml'), '--data', dataDir, '--out', good]);
  expect(r.code, r.stderr).toBe(0);
}, 120_000);

// ---------------------------------------------------------------------------------------------------------
// The bad-input table

interface Case {
  name: string;
  args: (dir: string) => string[];
  code?: number; // default 2
  message: RegExp;
  lines?: number; // stderr lines (default 1)
  cwd?: boolean; // run in the case folder (download cases: ./data is the default target)
  lastLine?: boolean; // only the last stderr line is the error (the download logs its progress before)
  env?: (dir: string) => Record<string, string>;
}

const run = (dir: string, change: object | string = {}, ...extra: string[]) => ['run', cfg(dir, change), '--data', dataDir, '--out', join(dir, 'out'), ...extra];
const resign = (edit: (doc: any) => void) => {
  const { sha256: _s, ...doc } = JSON.parse(readFileSync(join(good, 'model.json'), 'utf8'));
  edit(doc);
  return JSON.stringify({ ...doc, sha256: checksumOf(doc) });
};
const model = (dir: string, text: string) => { writeFileSync(join(dir, 'model.json'), text); return join(dir, 'model.json'); };

let server: Server;
let serverUrl = '';
let closedUrl = '';
beforeAll(async () => {
  server = createServer((_req, res) => { res.writeHead(200, { 'content-length': '1000' }); res.end(Buffer.alloc(1000, 7)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cifar-10-binary.tar.gz`;
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/cifar-10-binary.tar.gz`;
  await new Promise((r) => closed.close(r)); // nothing listens there any more
});
afterAll(() => new Promise((r) => server?.close(r)));

const CASES: Case[] = [
  // --- config: one line per problem naming the file, the field path and the bad value; exit 2; nothing written
  { name: 'config: wrong type from --set', args: (d) => run(d, {}, '--set', 'train.batchSize=abc'), message: /c\.yaml: train\.batchSize: .*expected number.*\(got "abc"\) \[from --set\]/ },
  { name: 'config: wrong type in the file', args: (d) => run(d, { seed: 'one' }), message: /c\.yaml: seed: .*expected (int|number).*\(got "one"\)/ },
  { name: 'config: unknown key in the file', args: (d) => run(d, { model: { hiden: 3 } }), message: /c\.yaml: model\.hiden: unknown field \(got 3\)/ },
  { name: 'config: unknown key from --set', args: (d) => run(d, {}, '--set', 'schedule.etaMax2=1'), message: /c\.yaml: schedule\.etaMax2: unknown field \(got 1\) \[from --set\]/ },
  { name: 'config: etaMin > etaMax', args: (d) => run(d, { schedule: { etaMin: 0.5, etaMax: 0.1 } }), message: /schedule\.etaMin: etaMin must be ≤ etaMax \(got 0\.5\)/ },
  { name: 'config: ns = 0', args: (d) => run(d, { schedule: { ns: 0 } }), message: /schedule\.ns: .*\(got 0\)/ },
  { name: 'config: ns < 0 from --set', args: (d) => run(d, {}, '--set', 'schedule.ns=-3'), message: /schedule\.ns: .*\(got -3\)/ },
  { name: 'config: negative lambda', args: (d) => run(d, { train: { lambda: -0.1 } }), message: /train\.lambda: .*\(got -0\.1\)/ },
  { name: 'config: zero epochs', args: (d) => run(d, { schedule: { cycles: undefined, epochs: 0 } }), message: /schedule\.epochs: .*\(got 0\)/ },
  { name: 'config: cycles and epochs', args: (d) => run(d, { schedule: { epochs: 2 } }), message: /schedule\.epochs: give cycles or epochs, not both/ },
  { name: 'config: batch larger than the training split (known from the data)', args: (d) => run(d, { train: { batchSize: 50 } }), message: /c\.yaml: train\.batchSize: 50 is larger than the training split \(20 records\)/ },
  { name: 'config: holdout larger than the data', args: (d) => run(d, { data: { validation: undefined, holdout: 20 } }), message: /c\.yaml: data\.holdout: 20 held-out records leave no training data \(the training files hold 20\)/ },
  { name: 'config: trainLimit larger than the data', args: (d) => run(d, { data: { trainLimit: 50 } }), message: /c\.yaml: data\.trainLimit: 50 is more than the 20 training records/ },
  { name: 'config: empty validation split', args: (d) => run(d, { data: { validation: [] } }), message: /c\.yaml: data\.validation: \[\] gives an empty validation split/ },
  { name: 'config: hidden units out of range', args: (d) => run(d, { model: { hidden: 5000 } }), message: /model\.hidden: .*\(got 5000\)/ },
  { name: 'config: unknown kind', args: (d) => run(d, { kind: 'bogus' }), message: /c\.yaml: kind: must be one of .*\(got "bogus"\)/ },
  { name: 'config: three problems, three lines', args: (d) => run(d, { schedule: { etaMin: 1, etaMax: 0.1 }, train: { lambda: -1 }, extra: 1 }), message: /extra: unknown field[\s\S]*train\.lambda[\s\S]*schedule\.etaMin|train\.lambda[\s\S]*schedule\.etaMin[\s\S]*extra: unknown field|extra[\s\S]*lambda[\s\S]*etaMin/, lines: 3 },
  { name: 'config: invalid YAML', args: (d) => run(d, 'name: [unclosed\nseed: 1\n'), message: /c\.yaml: invalid YAML/ },
  { name: 'config: YAML billion laughs', args: (d) => run(d, ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(', ')}]`)].join('\n')), message: /c\.yaml: invalid YAML: Excessive alias count/ },
  { name: 'config: a list at the top level', args: (d) => run(d, '- 1\n- 2\n'), message: /c\.yaml: expected a mapping of config fields/ },
  { name: 'config: file missing', args: (d) => ['run', join(d, 'none.yaml'), '--data', dataDir, '--out', join(d, 'out')], message: /none\.yaml: cannot read config file \(ENOENT\)/ },
  { name: 'config: --set without =', args: (d) => run(d, {}, '--set', 'novalue'), message: /--set "novalue": expected key\.path=value/ },
  { name: 'config: --set with a bad path', args: (d) => run(d, {}, '--set', 'a..b=1'), message: /--set "a\.\.b=1": bad key path/ },
  { name: 'config: --set with invalid YAML', args: (d) => run(d, {}, '--set', 'name=[1, 2'), message: /--set "name=\[1, 2": value is not valid YAML/ },
  { name: 'config: unknown --backend', args: (d) => run(d, {}, '--backend', 'quantum'), message: /cifar-mlp: error: option '--backend <name>' argument 'quantum' is invalid/ },

  // --- data: one line naming the file (or folder) and the problem; exit 2; nothing written
  { name: 'data: --data folder missing', args: (d) => run(d).map((a) => (a === dataDir ? join(d, 'nowhere') : a)), message: /CIFAR-10 folder given by --data does not exist or is not a directory: .*nowhere/ },
  { name: 'data: $CIFAR10_DIR folder missing', args: (d) => ['run', cfg(d), '--out', join(d, 'out')], env: (d) => ({ CIFAR10_DIR: join(d, 'gone') }), message: /environment variable CIFAR10_DIR does not exist or is not a directory: .*gone/ },
  { name: 'data: batch file missing', args: (d) => run(d, { data: { train: ['data_batch_9'] } }), message: /data_batch_9\.bin: file not found/ },
  { name: 'data: empty file', args: (d) => run(d).map((a) => (a === dataDir ? dataWith(d, 'data_batch_1.bin', Buffer.alloc(0)) : a)), message: /data_batch_1\.bin: file is empty/ },
  { name: 'data: truncated file', args: (d) => run(d).map((a) => (a === dataDir ? dataWith(d, 'data_batch_1.bin', batch().subarray(0, 20 * RECORD_BYTES - 1)) : a)), message: /data_batch_1\.bin: size 61459 is not a multiple of 3073 bytes/ },
  { name: 'data: label above 9', args: (d) => run(d).map((a) => (a === dataDir ? dataWith(d, 'data_batch_2.bin', (() => { const b = batch(); b[3 * RECORD_BYTES] = 12; return b; })()) : a)), message: /data_batch_2\.bin: record 3 has label 12, expected 0\.\.9/ },
  { name: 'data: random bytes', args: (d) => run(d).map((a) => (a === dataDir ? dataWith(d, 'data_batch_1.bin', Buffer.from(Array.from({ length: 5 * RECORD_BYTES }, (_, i) => (i * 7919 + 13) % 256))) : a)), message: /data_batch_1\.bin: record \d+ has label \d+, expected 0\.\.9/ },
  { name: 'data: a folder where a file should be', args: (d) => run(d).map((a) => (a === dataDir ? dataWith(d, 'test_batch.bin', 'folder') : a)), message: /test_batch\.bin: is a directory, expected a CIFAR-10 batch file/ },

  // --- download (no data anywhere: ./data is the target): one line, exit 1 (not bad input), no ./data left behind
  { name: 'download: nothing listens (offline)', cwd: true, lastLine: true, code: 1, args: (d) => ['run', cfg(d, { data: { url: closedUrl } }), '--out', join(d, 'out')], message: /Download of CIFAR-10 failed: this machine seems to be offline .*ECONNREFUSED/ },
  { name: 'download: checksum mismatch', cwd: true, lastLine: true, code: 1, args: (d) => ['run', cfg(d, { data: { url: serverUrl } }), '--out', join(d, 'out')], message: /md5|checksum/i },

  // --- output folder and resume: existing files untouched
  { name: 'out: non-empty folder without --force', args: (d) => { mkdirSync(join(d, 'out')); writeFileSync(join(d, 'out', 'notes.txt'), 'keep'); return run(d); }, message: /--out .*out: folder is not empty; pass --force/ },
  { name: 'out: a file', args: (d) => { writeFileSync(join(d, 'out'), 'x'); return run(d); }, message: /--out .*out: exists and is not a directory/ },
  { name: 'resume: without --out', args: (d) => ['run', cfg(d), '--data', dataDir, '--resume'], message: /--resume needs --out DIR/ },
  { name: 'resume: no checkpoint in the folder', args: (d) => { mkdirSync(join(d, 'out')); writeFileSync(join(d, 'out', 'metrics.csv'), 'x\n'); return run(d, {}, '--resume'); }, message: /out: no model\.json checkpoint to resume from/ },
  { name: 'resume: config differs from the checkpoint', args: (d) => { cpSync(good, join(d, 'out'), { recursive: true }); return run(d, { checkpoint: { every: 2 }, eval: { every: 8 } }, '--resume', '--set', 'train.lambda=0.5'); }, message: /model\.json: cannot resume: the config differs from the checkpoint's at train\.lambda \(checkpoint 0\.01, now 0\.5\)/ },
  { name: 'resume: corrupt checkpoint', args: (d) => { cpSync(good, join(d, 'out'), { recursive: true }); writeFileSync(join(d, 'out', 'model.json'), readFileSync(join(good, 'model.json'), 'utf8').replace('"step":8', '"step":6')); return run(d, {}, '--resume'); }, message: /model\.json: checksum mismatch/ },
  { name: 'resume: the run already finished', args: (d) => { cpSync(good, join(d, 'out'), { recursive: true }); return run(d, { checkpoint: { every: 2 }, eval: { every: 8 } }, '--resume'); }, message: /nothing to resume: the run already did all 8 steps/ },

  // --- model files (evaluate / predict)
  { name: 'model: file missing', args: (d) => ['evaluate', join(d, 'model.json'), '--data', dataDir], message: /model\.json: model file not found/ },
  { name: 'model: not JSON', args: (d) => ['evaluate', model(d, 'this is not json'), '--data', dataDir], message: /model\.json: not valid JSON/ },
  { name: 'model: truncated', args: (d) => ['evaluate', model(d, readFileSync(join(good, 'model.json'), 'utf8').slice(0, 5000)), '--data', dataDir], message: /model\.json: not valid JSON, the model file is truncated or corrupt/ },
  { name: 'model: checksum mismatch', args: (d) => ['predict', model(d, readFileSync(join(good, 'model.json'), 'utf8').replace('"totalSteps":8', '"totalSteps":9')), join(dataDir, 'test_batch.bin')], message: /model\.json: checksum mismatch/ },
  { name: 'model: wrong shapes', args: (d) => ['evaluate', model(d, resign((m) => { m.params.W2.cols = 5; })), '--data', dataDir], message: /model\.json: weights W2 are 10×5, expected 10×4/ },
  { name: 'model: not a model file', args: (d) => ['evaluate', model(d, '{"hello": "world"}'), '--data', dataDir], message: /model\.json: not a cifar-mlp model file/ },
  { name: 'model: empty file', args: (d) => ['predict', model(d, ''), join(dataDir, 'test_batch.bin')], message: /model\.json: the model file is empty/ },
  { name: 'predict: PNG declaring 20000×20000 pixels (refused from its header)', args: (d) => { png(join(d, 'big.png'), 1, 1); const b = readFileSync(join(d, 'big.png')); b.writeUInt32BE(20000, 16); b.writeUInt32BE(20000, 20); writeFileSync(join(d, 'big.png'), b); return ['predict', good, join(d, 'big.png')]; }, message: /big\.png: PNG image of 20000×20000 pixels is larger than the 50 megapixels accepted/ },
  { name: 'predict: an SVG image', args: (d) => { writeFileSync(join(d, 'x.svg'), '<svg xmlns="http://www.w3.org/2000/svg" width="99999" height="99999"/>'); return ['predict', good, join(d, 'x.svg')]; }, message: /x\.svg: not an image \(PNG, JPEG, WebP or GIF\) nor a CIFAR-10 \.bin file/ },
  { name: 'predict: not an image', args: (d) => { writeFileSync(join(d, 'fake.png'), 'not an image at all'); return ['predict', good, join(d, 'fake.png')]; }, message: /fake\.png: not an image \(PNG, JPEG, WebP or GIF\)/ },
  { name: 'predict: a truncated GIF header', args: (d) => { writeFileSync(join(d, 'fake.gif'), 'GIF89a...'); return ['predict', good, join(d, 'fake.gif')]; }, message: /fake\.gif: not a readable GIF image/ },
  { name: 'predict: records with a bad label', args: (d) => { const b = batch().subarray(0, 2 * RECORD_BYTES); b[RECORD_BYTES] = 200; writeFileSync(join(d, 'r.bin'), b); return ['predict', good, join(d, 'r.bin')]; }, message: /r\.bin: record 1 has label 200/ },
];

describe.concurrent('bad input through the CLI: clear one-line errors, exit code, nothing written', () => {
  it('has at least 30 distinct cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });
  for (const c of CASES) {
    it(c.name, async () => {
      const dir = join(root, `case-${CASES.indexOf(c)}`);
      mkdirSync(dir);
      const args = c.args(dir); // may create files (the case's input) in dir
      const before = listing(dir);
      const r = await cli(args, { cwd: c.cwd ? dir : root, env: c.env?.(dir) });
      expectCleanError(r, c.code ?? 2, c.message, c.lines ?? 1, c.lastLine);
      expect(listing(dir)).toEqual(before); // no out dir, no data dir, no temporary file; inputs untouched
      expect(existsSync(join(root, 'runs'))).toBe(false);
    });
  }
});

// ---------------------------------------------------------------------------------------------------------
// Runs: divergence, SIGINT, resume, --force; evaluate and predict

const metricsWithoutTime = (dir: string) => readFileSync(join(dir, 'metrics.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, -1).join(','));
const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
const tempFiles = (dir: string) => listing(dir).filter((l) => /\.(tmp|part)\b/.test(l));

describe('runs', () => {
  it('a diverging run ends with status diverged, the step, exit 3; --force replaced the stale run files only', async () => {
    const dir = join(root, 'diverge'), out = join(dir, 'out');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'model.json'), 'stale model of an earlier run');
    writeFileSync(join(out, 'notes.txt'), 'mine');
    const r = await cli(run(dir, { schedule: { etaMin: 1e4, etaMax: 1e6 } }, '--force'));
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/cifar-mlp: diverged after \d+ steps .*training diverged at step \d+: batch loss is (NaN|Infinity)/);
    const s = summaryOf(out);
    expect(s.status).toBe('diverged');
    expect(s.divergedAtStep).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')).step).toBe(0); // the new run's step-0 checkpoint, not the stale model
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('mine');
    expect(readFileSync(join(out, 'metrics.csv'), 'utf8').split('\n')[0]).toBe(METRICS_COLUMNS.join(','));
    expect(tempFiles(dir)).toEqual([]);
  });

  it('SIGINT mid-run: exit 130, status interrupted, metrics.csv intact; --resume gives exactly the uninterrupted run', async () => {
    const dir = join(root, 'sigint');
    mkdirSync(dir);
    const data = writeSyntheticCifar(join(dir, 'data'), 60, 90);
    const long = { name: 'long', model: { hidden: 6 }, schedule: { ns: 60, cycles: 3 }, eval: { pointsPerCycle: 2, trainSubset: 30 }, checkpoint: { every: 25 } };
    const args = (out: string, ...extra: string[]) => ['run', cfg(dir, long), '--data', data, '--out', join(dir, out), ...extra];
    let sent = false;
    const [full, part] = await Promise.all([
      cli(args('full')),
      cli(args('part'), { onStderr: (all, kill) => { if (!sent && /long step 60\//.test(all)) { sent = true; kill('SIGINT'); } } }),
    ]);
    expect(full.code, full.stderr).toBe(0);
    expect(part.code, part.stderr).toBe(130);
    expect(part.stderr).toMatch(/cifar-mlp: SIGINT received: stopping after the current step/);
    expect(part.stderr).toMatch(/cifar-mlp: interrupted after (\d+) steps .*; continue with: cifar-mlp run --out \S*part --resume;/);
    expect(part.stderr).not.toMatch(/^\s+at /m);
    const s = summaryOf(join(dir, 'part'));
    expect(s.status).toBe('interrupted');
    expect(s.steps).toBeGreaterThanOrEqual(60);
    expect(s.steps).toBeLessThan(360);
    const csv = readFileSync(join(dir, 'part', 'metrics.csv'), 'utf8');
    expect(csv.endsWith('\n')).toBe(true);
    for (const line of csv.trim().split('\n')) expect(line.split(',')).toHaveLength(METRICS_COLUMNS.length);
    expect(JSON.parse(readFileSync(join(dir, 'part', 'model.json'), 'utf8')).step).toBe(s.steps);

    const resumed = await cli(args('part', '--resume'));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`resuming at step ${s.steps} of 360`));
    expect(metricsWithoutTime(join(dir, 'part'))).toEqual(metricsWithoutTime(join(dir, 'full')));
    expect(summaryOf(join(dir, 'part')).final).toEqual(summaryOf(join(dir, 'full')).final);
    expect(readFileSync(join(dir, 'part', 'model.json'), 'utf8').length).toBeGreaterThan(1000);
    expect(tempFiles(dir)).toEqual([]);
  });
});

describe('evaluate and predict', () => {
  it('evaluate: accuracy per split and class, confusion matrices; the same accuracies as the run', async () => {
    const out = join(root, 'eval-out');
    const r = await cli(['evaluate', join(good, 'model.json'), '--out', out]); // data: the folder the model was trained on
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^train\s+20\s+\d+\.\d\d%$/m);
    expect(r.stdout).toMatch(/^airplane\s+/m);
    const ev = JSON.parse(readFileSync(join(out, 'evaluation.json'), 'utf8'));
    const final = summaryOf(good).final;
    for (const split of ['train', 'val', 'test']) expect(ev.splits[split].accuracy).toBeCloseTo(final[split].accuracy, 12);
    const csv = readFileSync(join(out, 'confusion-test.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('true\\predicted,airplane,automobile,bird,cat,deer,dog,frog,horse,ship,truck');
    expect(csv).toHaveLength(11);
    expect(csv.slice(1).flatMap((l) => l.split(',').slice(1).map(Number)).reduce((a, b) => a + b, 0)).toBe(20);
    expect(tempFiles(out)).toEqual([]);
  });

  it('predict: class and probabilities of a PNG and of every record of a .bin', async () => {
    const dir = join(root, 'predict');
    mkdirSync(dir);
    png(join(dir, 'img.png'), 32, 32, 2);
    const labels = [3, 7];
    writeFileSync(join(dir, 'two.bin'), encodeRecords(labels, new Uint8Array(2 * PIXELS).fill(128)));
    const r = await cli(['predict', good, join(dir, 'img.png'), join(dir, 'two.bin')]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/img\.png: \w+ 0\.\d{4} \| airplane 0\.\d{4} automobile/);
    expect(lines[1]).toMatch(/two\.bin#0: \w+ \d\.\d{4} \(true label cat\)/);
    expect(lines[2]).toMatch(/two\.bin#1: \w+ \d\.\d{4} \(true label horse\)/);
    const json = await cli(['predict', good, join(dir, 'two.bin'), '--json']);
    const first = JSON.parse(json.stdout.split('\n')[0]);
    expect(Object.values(first.probabilities as Record<string, number>).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(first.trueLabel).toBe('cat'); // the record's own label; `label` is the predicted class (issue 26.9)
    expect(first.label).toBe(Object.entries(first.probabilities as Record<string, number>).sort((a, b) => b[1] - a[1])[0][0]);
  });
});

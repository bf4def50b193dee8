/**
 * `--resume` reads the folder's config: `run --resume --out DIR` and `search --resume --out DIR` with no config
 * argument continue with DIR/config.yaml (and a run with the data its checkpoint was trained on); a --set or an
 * explicit config that differs from the folder's is refused with exit 2 naming the field, and writes nothing.
 * Through the built CLI on tiny synthetic data.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { listing } from './helpers/cli.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const CLI = resolve('dist/cli.js');
const root = mkdtempSync(join(tmpdir(), 'cifar-cli-resume-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Result { code: number | null; stderr: string }

function cli(args: string[], onStderr?: (all: string, kill: (s: NodeJS.Signals) => void) => void): Promise<Result> {
  const env: Record<string, string | undefined> = { ...process.env, CIFAR10_DIR: undefined, CIFAR_MLP_DEBUG: undefined, FORCE_COLOR: '0' };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return new Promise((done, reject) => {
    // cwd: the test folder, where ./data/cifar-10-batches-bin does not exist (a run that lost its data would try to download)
    const child = spawn(process.execPath, [CLI, ...args], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stderr.on('data', (d) => { stderr += d; onStderr?.(stderr, (s) => child.kill(s)); });
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); done({ code, stderr }); });
  });
}

const write = (name: string, config: object) => { const p = join(root, name); writeFileSync(p, stringify(config)); return p; };
const metricsWithoutTime = (dir: string) => readFileSync(join(dir, 'metrics.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, -1).join(','));
const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));

function expectRefused(r: Result, message: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(/^cifar-mlp: \S/);
  expect(r.stderr).toMatch(message);
}

describe('run --resume --out DIR', () => {
  it('continues with the folder\'s config.yaml and the checkpoint\'s data; refuses a differing --set or config', async () => {
    const data = writeSyntheticCifar(join(root, 'data-run'), 60, 90);
    const config = {
      name: 'long', seed: 3, data: { train: ['data_batch_1'], validation: ['data_batch_2'], test: ['test_batch'] },
      model: { hidden: 6 }, train: { lambda: 0.01, batchSize: 10 }, schedule: { etaMin: 1e-4, etaMax: 0.05, ns: 40, cycles: 2 },
      eval: { pointsPerCycle: 2, trainSubset: 30 }, checkpoint: { every: 15 }, kernels: { backend: 'reference' },
    };
    const file = write('long.yaml', config);
    const full = join(root, 'full'), part = join(root, 'part');
    let sent = false;
    const [a, b] = await Promise.all([
      cli(['run', file, '--data', data, '--out', full]),
      cli(['run', file, '--data', data, '--out', part], (all, kill) => { if (!sent && /long step 40\//.test(all)) { sent = true; kill('SIGINT'); } }),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(130);
    const steps = summaryOf(part).steps as number;
    expect(steps).toBeLessThan(160);

    const before = listing(part);
    expectRefused(await cli(['run', '--resume', '--out', part, '--set', 'train.lambda=0.5']), /cannot resume: the config differs from the checkpoint's at train\.lambda \(checkpoint 0\.01, now 0\.5\)/);
    expectRefused(await cli(['run', write('other.yaml', { ...config, schedule: { ...config.schedule, ns: 50 } }), '--resume', '--out', part, '--data', data]), /differs from the checkpoint's at schedule\.ns \(checkpoint 40, now 50\)/);
    expectRefused(await cli(['run', '--resume', '--out', part, '--set', 'train.lamda=0.5']), /train\.lamda: unknown field .*did you mean train\.lambda\?/);
    expect(listing(part)).toEqual(before);

    const resumed = await cli(['run', '--resume', '--out', part]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`data ${data.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} .*resuming at step ${steps} of 160`));
    expect(metricsWithoutTime(part)).toEqual(metricsWithoutTime(full));
    expect(summaryOf(part).final).toEqual(summaryOf(full).final);
  }, 180_000);

  it('says in one line what is missing: the folder, its config.yaml', async () => {
    expectRefused(await cli(['run', '--resume', '--out', join(root, 'nowhere')]), /--out .*nowhere: no such folder to resume/);
    const empty = join(root, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'notes.txt'), 'x');
    expectRefused(await cli(['run', '--resume', '--out', empty]), /--resume: .*empty\/config\.yaml does not exist; give the config file as the argument/);
    expect(readdirSync(empty)).toEqual(['notes.txt']);
  }, 60_000);
});

describe('search --resume --out DIR', () => {
  it('continues with the folder\'s config.yaml; refuses a differing --set or config naming the field', async () => {
    const data = writeSyntheticCifar(join(root, 'data-search'), 200, 60);
    const config = {
      kind: 'search', name: 'resumable', seed: 5, trials: 3, workers: 1, space: { lMin: -5, lMax: -2 },
      base: {
        seed: 1, data: { train: ['data_batch_1', 'data_batch_2'], holdout: 100, test: ['test_batch'] }, model: { hidden: 16 },
        train: { batchSize: 50 }, schedule: { etaMin: 1e-5, etaMax: 0.1, ns: 12, cycles: 1 }, eval: { pointsPerCycle: 2 },
      },
    };
    const file = write('search.yaml', config);
    const out = join(root, 'search-out');
    const first = await cli(['search', file, '--data', data, '--out', out]);
    expect(first.code, first.stderr).toBe(0);
    // Forget the last two trials' results, as if the search had been stopped after its first trial.
    const csv = readFileSync(join(out, 'trials.csv'), 'utf8').trimEnd().split('\n');
    writeFileSync(join(out, 'trials.csv'), `${csv.slice(0, 2).join('\n')}\n`);

    const before = listing(out);
    expectRefused(await cli(['search', '--resume', '--out', out, '--data', data, '--set', 'trials=5']), /--resume: the config differs from the one the search in .* started with \(trials\)/);
    expectRefused(await cli(['search', '--resume', '--out', out, '--data', data, '--set', 'base.train.batchSize=20']), /started with \(base\.train\.batchSize\)/);
    expectRefused(await cli(['search', write('search2.yaml', { ...config, seed: 6 }), '--resume', '--out', out, '--data', data]), /started with \(seed\)/);
    expect(listing(out)).toEqual(before);

    const resumed = await cli(['search', '--resume', '--out', out, '--data', data]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming .*: 1 of 3 trials done, 2 to run/);
    expect(summaryOf(out)).toMatchObject({ status: 'completed', counts: { completed: 3, pending: 0 } });
  }, 180_000);
});

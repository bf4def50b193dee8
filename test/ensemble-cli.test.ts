/**
 * Ensembles and the learning-rate range test through the built CLI (`node dist/cli.js`) on synthetic data:
 * a snapshot ensemble evaluated and used for prediction, an ensemble run of independently seeded members
 * (interrupted and resumed member by member, bit-identical), and `lr-find`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { memberConfig } from '../src/experiment/ensemble-run.js';
import { trainSchema } from '../src/config/train-schema.js';
import { loadSplits } from '../src/data/splits.js';
import { ReferenceBackend } from '../src/kernels/reference.js';
import { loadCheckpoint, modelFromCheckpoint } from '../src/formats/model-file.js';
import { Predictor } from '../src/model/predictor.js';
import { smoother, suggestRange, sweepEta } from '../src/pipeline/lr-find.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const CLI = process.env.CIFAR_MLP_CLI ?? resolve('dist/cli.js');
/** These tests spawn up to three CLI runs each (every run renders its plots): more than the default minute on a busy machine. */
const SLOW = 240_000;
const root = mkdtempSync(join(tmpdir(), 'cifar-ensemble-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const dataDir = writeSyntheticCifar(join(root, 'data'), 60, 90);

interface Result { code: number | null; stdout: string; stderr: string }

function cli(args: string[], onStderr?: (all: string, kill: (s: NodeJS.Signals) => void) => void): Promise<Result> {
  const env: Record<string, string | undefined> = { ...process.env, CIFAR10_DIR: undefined, FORCE_COLOR: '0' };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), SLOW - 20_000);
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; onStderr?.(stderr, (s) => child.kill(s)); });
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); done({ code, stdout, stderr }); });
  });
}

const BASE = {
  name: 'ens', seed: 5,
  model: { hidden: 8 },
  train: { lambda: 0.005, batchSize: 10, momentum: 0.5 },
  augment: { flip: true, translate: 1 },
  schedule: { etaMin: 1e-4, etaMax: 0.05, ns: 15, cycles: 3 }, // 90 steps, 30 per epoch
  eval: { pointsPerCycle: 2 },
  kernels: { backend: 'wasm-simd', threads: 1 },
};
function config(name: string, extra: Record<string, unknown>): string {
  const path = join(root, `${name}.yaml`);
  writeFileSync(path, stringify({ ...BASE, ...extra, name }));
  return path;
}
const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
const metricsWithoutTime = (dir: string) => readFileSync(join(dir, 'metrics.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, -1).join(','));

describe('snapshot ensemble through the CLI', () => {
  const out = join(root, 'snap');
  it('run: summary reports the snapshots and the ensemble; evaluate and predict use the ensemble', async () => {
    const r = await cli(['run', config('snap', { ensemble: { snapshots: 2 } }), '--data', dataDir, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/ensemble of 2 snapshots \(softmax average\): accuracy train [\d.]+%, val [\d.]+%, test [\d.]+%; single snapshots test [\d.]+%, [\d.]+%/);
    const s = summaryOf(out);
    expect(s.ensemble.members.map((m: { name: string }) => m.name)).toEqual(['snapshot@60', 'snapshot@90']);
    expect(s.final.test.accuracy).toBeGreaterThan(0.3);

    const ev = await cli(['evaluate', out, '--out', join(root, 'snap-eval')]);
    expect(ev.code, ev.stderr).toBe(0);
    expect(ev.stdout).toMatch(/ensemble of 2 networks \(softmax average\)/);
    const evaluation = JSON.parse(readFileSync(join(root, 'snap-eval', 'evaluation.json'), 'utf8'));
    expect(evaluation.networks.map((n: { name: string }) => n.name)).toEqual(['snapshot@60', 'snapshot@90']);
    for (const split of ['train', 'val', 'test']) expect(evaluation.splits[split].accuracy).toBeCloseTo(s.final[split].accuracy, 12);

    const p = await cli(['predict', out, join(dataDir, 'test_batch.bin'), '--json']);
    expect(p.code, p.stderr).toBe(0);
    const lines = p.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(60);
    // The ensemble's probabilities: the mean of the two snapshots'.
    const cp = loadCheckpoint(out);
    const backend = new ReferenceBackend();
    const test = loadSplits(trainSchema.parse(BASE).data, dataDir).test;
    const [a, b] = await Promise.all(cp.members.map(async (m) => new Predictor(await modelFromCheckpoint({ ...cp, members: [m] }, backend), cp.normalization, 60).probabilities(test, 0, 60)));
    const classes = Object.keys(lines[0].probabilities);
    for (const i of [0, 17, 59]) {
      classes.forEach((c, j) => expect(lines[i].probabilities[c]).toBeCloseTo((a[i * 10 + j] + b[i * 10 + j]) / 2, 5));
    }
  }, SLOW);
});

describe('ensemble run of independently seeded members', () => {
  const members = { ensemble: { members: 2, snapshots: 1 } };
  it('trains each member in its folder with its own seed, measures the ensemble, and saves an ensemble model.json', async () => {
    const out = join(root, 'members-full');
    const r = await cli(['run', config('members', members), '--data', dataDir, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/completed: 2 of 2 members .*ensemble of 2 networks: accuracy .*; single networks test [\d.]+%, [\d.]+%/);
    const s = summaryOf(out);
    expect(s.status).toBe('completed');
    expect(s.memberRuns.map((m: { dir: string; status: string }) => [m.dir, m.status])).toEqual([['member-1', 'completed'], ['member-2', 'completed']]);
    expect(s.memberRuns[0].seed).toBe(5);
    expect(s.memberRuns[1].seed).not.toBe(5);
    expect(s.ensemble.members.map((m: { name: string }) => m.name)).toEqual(['member-1/snapshot@90', 'member-2/snapshot@90']);
    expect(s.steps).toBe(180);
    for (const m of ['member-1', 'member-2']) {
      expect(summaryOf(join(out, m)).status).toBe('completed');
      expect(existsSync(join(out, m, 'metrics.csv'))).toBe(true);
      expect(existsSync(join(out, m, 'report.html'))).toBe(true);
    }
    expect(summaryOf(join(out, 'member-1')).final.test).toEqual(s.ensemble.members[0].final.test);
    expect(metricsWithoutTime(join(out, 'member-1'))).not.toEqual(metricsWithoutTime(join(out, 'member-2')));
    const cp = loadCheckpoint(out);
    expect(cp.params).toBeNull();
    expect(cp.members.map((m) => m.name)).toEqual(['member-1/snapshot@90', 'member-2/snapshot@90']);
    const ev = await cli(['evaluate', out, '--out', join(root, 'members-eval')]);
    expect(ev.code, ev.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(root, 'members-eval', 'evaluation.json'), 'utf8')).splits.test.accuracy).toBeCloseTo(s.final.test.accuracy, 12);
    expect(memberConfig(trainSchema.parse({ ...BASE, ...members }), 1).seed).toBe(s.memberRuns[1].seed);
  }, SLOW);

  it('SIGINT during member 2 then --resume gives exactly the uninterrupted run', async () => {
    const long = { ...members, schedule: { ...BASE.schedule, ns: 100 } }; // 600 steps per member: time to interrupt member 2
    const cfg = config('members-long', long);
    const full = join(root, 'members-long-full'), out = join(root, 'members-long-part');
    let sent = false;
    const [a, part] = await Promise.all([
      cli(['run', cfg, '--data', dataDir, '--out', full]),
      cli(['run', cfg, '--data', dataDir, '--out', out], (all, kill) => {
        if (!sent && /members-long member-2\/2 step 100\//.test(all)) { sent = true; kill('SIGINT'); }
      }),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(part.code, part.stderr).toBe(130);
    const s = summaryOf(out);
    expect(s.status).toBe('interrupted');
    expect(s.final).toBeNull();
    expect(s.memberRuns.map((m: { status: string }) => m.status)).toEqual(['completed', 'interrupted']);
    const resumed = await cli(['run', cfg, '--data', dataDir, '--out', out, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/member-1 already completed; taken as it is/);
    for (const m of ['member-1', 'member-2']) expect(metricsWithoutTime(join(out, m))).toEqual(metricsWithoutTime(join(full, m)));
    expect(summaryOf(out).final).toEqual(summaryOf(full).final);
    expect(summaryOf(out).ensemble).toEqual(summaryOf(full).ensemble);
    const again = await cli(['run', cfg, '--data', dataDir, '--out', out, '--resume']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/nothing to resume: the ensemble run already completed/);
  }, SLOW);
});

describe('cifar-mlp ensemble', () => {
  it('joins separately trained runs into one ensemble file that evaluate uses; refuses an incompatible one', async () => {
    const a = join(root, 'join-a'), b = join(root, 'join-b'), out = join(root, 'joined.json');
    const cfg = config('join', { schedule: { ...BASE.schedule, cycles: 1 } });
    const [ra, rb] = await Promise.all([
      cli(['run', cfg, '--data', dataDir, '--out', a]),
      cli(['run', cfg, '--data', dataDir, '--out', b, '--set', 'seed=6', '--set', 'ensemble.snapshots=1']),
    ]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    const r = await cli(['ensemble', a, join(b, 'model.json'), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/ensemble of 2 networks from 2 model files written to .*joined\.json/);
    const cp = loadCheckpoint(out);
    expect(cp.params).toBeNull();
    expect(cp.members.map((m) => m.name)).toEqual(['join-a/model.json:final', 'join-b/model.json:snapshot@30']);
    expect(cp.config.name).toBe('join-ensemble');
    const ev = await cli(['evaluate', out, '--out', join(root, 'join-eval')]);
    expect(ev.code, ev.stderr).toBe(0);
    expect(ev.stdout).toMatch(/ensemble of 2 networks \(softmax average\)/);
    // The joined ensemble's test accuracy from the two networks' probabilities, averaged here.
    const test = loadSplits(trainSchema.parse(BASE).data, dataDir).test;
    const backend = new ReferenceBackend();
    const probs = await Promise.all(cp.members.map(async (m) => new Predictor(await modelFromCheckpoint({ ...cp, members: [m] }, backend), cp.normalization, 60).probabilities(test, 0, 60)));
    let correct = 0;
    for (let i = 0; i < 60; i++) {
      const p = Array.from({ length: 10 }, (_, j) => probs[0][i * 10 + j] + probs[1][i * 10 + j]);
      if (p.indexOf(Math.max(...p)) === test.labels[i]) correct++;
    }
    expect(JSON.parse(readFileSync(join(root, 'join-eval', 'evaluation.json'), 'utf8')).splits.test.accuracy).toBeCloseTo(correct / 60, 12);

    const wide = await cli(['run', cfg, '--data', dataDir, '--out', join(root, 'join-wide'), '--set', 'model.hidden=9']);
    expect(wide.code, wide.stderr).toBe(0);
    const bad = await cli(['ensemble', a, join(root, 'join-wide'), '--out', join(root, 'bad.json')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/join-wide\/model\.json: cannot join an ensemble with .*join-a\/model\.json: hidden units 9, not 8/);
    expect(existsSync(join(root, 'bad.json'))).toBe(false);
    const one = await cli(['ensemble', a, '--out', join(root, 'one.json')]);
    expect(one.code).toBe(2);
    expect(one.stderr).toMatch(/at least two model files/);
  }, SLOW);
});

describe('lr-find', () => {
  it('grows eta exponentially, smooths with bias correction, and suggests the range where the loss falls', () => {
    const eta = sweepEta(1e-5, 1, 11);
    expect(eta(0)).toBeCloseTo(1e-5, 15);
    expect(eta(10)).toBeCloseTo(1, 12);
    expect(eta(5)).toBeCloseTo(1e-5 * 10 ** 2.5, 12);
    const s = smoother(0.9);
    expect(s(2)).toBeCloseTo(2, 12); // bias-corrected: the first value itself
    expect(s(4)).toBeCloseTo((0.09 * 2 + 0.1 * 4) / 0.19, 12);
    // loss 2.3 flat, then falling to 1.0 at eta 1e-1, then blowing up
    const points = Array.from({ length: 61 }, (_, t) => {
      const e = 1e-6 * 10 ** (t / 10), l = Math.log10(e);
      const loss = l < -4 ? 2.3 : l <= -1 ? 2.3 - (1.3 * (l + 4)) / 3 : 1 + 5 * (l + 1);
      return { step: t, eta: e, loss, smoothed: loss };
    });
    const sug = suggestRange(points, 0.05, 3)!;
    expect(sug.lowest.eta).toBeCloseTo(1e-1, 10);
    expect(sug.etaMax).toBeCloseTo(1e-1 / 3, 10);
    expect(sug.etaMin).toBeGreaterThan(1e-4);
    expect(sug.etaMin).toBeLessThan(3e-4);
    expect(suggestRange(points.map((p) => ({ ...p, smoothed: 2 + p.step })), 0.05, 3)).toBeNull(); // never fell
  });

  it('runs the sweep through the training stream, stops when the loss blows up, writes csv, json and plot, prints the range', async () => {
    const out = join(root, 'lrfind');
    const r = await cli(['lr-find', config('lrf', { train: { lambda: 0.001, batchSize: 10 }, augment: {} }), '--data', dataDir, '--out', out,
      '--set', 'lrFind.steps=200', '--set', 'lrFind.etaMin=1e-5', '--set', 'lrFind.etaMax=100']);
    expect(r.code, r.stderr).toBe(0);
    const m = r.stdout.match(/suggested schedule: etaMin ([\d.e+-]+), etaMax ([\d.e+-]+)/)!;
    expect(m).not.toBeNull();
    expect(r.stdout).toMatch(/--set schedule\.etaMin=\S+ --set schedule\.etaMax=\S+/);
    const json = JSON.parse(readFileSync(join(out, 'lr-find.json'), 'utf8'));
    expect(json.status).toBe('completed');
    expect(json.stopped).toMatch(/blew up|diverged/); // eta up to 100 destroys the network before the last step
    expect(json.steps).toBeLessThan(200);
    expect(Number(m[1])).toBeCloseTo(json.suggestion.etaMin, 2);
    expect(json.suggestion.etaMin).toBeGreaterThanOrEqual(1e-5);
    expect(json.suggestion.etaMax).toBeGreaterThan(json.suggestion.etaMin);
    expect(json.suggestion.etaMax).toBeLessThan(100);
    const rows = readFileSync(join(out, 'lr-find.csv'), 'utf8').trim().split('\n');
    expect(rows[0]).toBe('step,eta,loss,smoothed');
    expect(rows).toHaveLength(json.steps + 1);
    const etas = rows.slice(1).map((l) => Number(l.split(',')[1]));
    expect(etas[0]).toBeCloseTo(1e-5, 10);
    for (let i = 1; i < etas.length; i++) expect(etas[i] / etas[i - 1]).toBeCloseTo((1e7) ** (1 / 199), 4);
    expect(readFileSync(join(out, 'lr-find.svg'), 'utf8')).toMatch(/<svg[\s\S]*learning rate/);
    expect(existsSync(join(out, 'lr-find.png'))).toBe(true);
    expect(summaryOf(out).config.schedule.cycles * 2 * 15).toBeCloseTo(200, 9);
  }, SLOW);

  it('refuses a search config', async () => {
    const path = join(root, 'search.yaml');
    writeFileSync(path, stringify({ kind: 'search', space: { lMin: -3, lMax: -2 } }));
    const r = await cli(['lr-find', path, '--data', dataDir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/lr-find expects a training config/);
  }, SLOW);
});

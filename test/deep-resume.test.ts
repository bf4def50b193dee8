/**
 * k-layer networks through the built CLI: a batch-norm network trained with AdamW (and one with Nesterov momentum),
 * killed midway and resumed, ends with exactly the numbers of an uninterrupted run (model.json version 3 holds the
 * running averages and the optimiser's state); evaluate and predict read its model file.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { writeSyntheticCifar } from './helpers/synthetic.js';

vi.setConfig({ testTimeout: 180_000 });

const CLI = resolve('dist/cli.js');
const root = mkdtempSync(join(tmpdir(), 'cifar-deep-resume-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const dataDir = writeSyntheticCifar(join(root, 'data'), 100, 90);

function cli(args: string[], killAfterStep?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((done, fail) => {
    const env: Record<string, string> = { ...(process.env as Record<string, string>), FORCE_COLOR: '0' };
    delete env.CIFAR10_DIR;
    const child = spawn(process.execPath, [CLI, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (d) => {
      stderr += d;
      const steps = [...stderr.matchAll(/ step (\d+)\//g)].map((m) => Number(m[1]));
      if (killAfterStep !== undefined && Math.max(0, ...steps) >= killAfterStep) child.kill('SIGKILL');
    });
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stderr }));
  });
}

const rowsOf = (dir: string) => readFileSync(join(dir, 'metrics.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, -1).join(','));
const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));

const BASE = {
  seed: 5,
  data: { train: ['data_batch_1', 'data_batch_2'], validation: ['data_batch_3'], test: ['test_batch'] },
  schedule: { etaMin: 1e-4, etaMax: 0.01, ns: 100, cycles: 1 },
  eval: { every: 20 }, checkpoint: { every: 10 }, kernels: { backend: 'reference' },
};
const CONFIGS = {
  adamw: { ...BASE, name: 'deep-adamw', model: { layers: [8, 6], batchNorm: true, bnMomentum: 0.8, init: 'he' },
    train: { lambda: 0.005, batchSize: 10, optimizer: 'adamw', dropout: 0.1, labelSmoothing: 0.1 } },
  nesterov: { ...BASE, name: 'deep-nesterov', model: { layers: [7, 6, 5], batchNorm: true, init: { std: 0.1 } },
    train: { lambda: 0.005, batchSize: 10, momentum: 0.9, nesterov: true }, schedule: { ...BASE.schedule, etaMax: 0.05 } },
};

describe('k-layer networks with batch norm: kill -9 midway, --resume, the uninterrupted run\'s numbers', () => {
  it.each(Object.keys(CONFIGS) as (keyof typeof CONFIGS)[])('%s', async (name) => {
    const path = join(root, `${name}.yaml`);
    writeFileSync(path, stringify(CONFIGS[name]));
    const full = join(root, `${name}-full`), cut = join(root, `${name}-cut`);
    const r = await cli(['run', path, '--data', dataDir, '--out', full]);
    expect(r.code, r.stderr).toBe(0);
    const model = JSON.parse(readFileSync(join(full, 'model.json'), 'utf8'));
    expect(model.version).toBe(3);
    const k = CONFIGS[name].model.layers.length + 1;
    expect(Object.keys(model.params)).toEqual(expect.arrayContaining(['W1', 'gamma1', 'beta1', 'mean1', 'var1', `W${k}`, `b${k}`]));
    expect(Object.keys(model.params)).not.toContain('b1'); // batch norm's β is the shift
    expect(Object.keys(model)).toEqual(expect.arrayContaining(name === 'adamw' ? ['velocity', 'secondMoment'] : ['velocity']));

    const killed = await cli(['run', path, '--data', dataDir, '--out', cut], 100);
    expect(killed.signal).toBe('SIGKILL');
    expect(JSON.parse(readFileSync(join(cut, 'model.json'), 'utf8')).step).toBeLessThan(200);
    const again = await cli(['run', path, '--data', dataDir, '--out', cut, '--resume']);
    expect(again.code, again.stderr).toBe(0);
    expect(rowsOf(cut)).toEqual(rowsOf(full));
    expect(summaryOf(cut).final).toEqual(summaryOf(full).final);

    const ev = await cli(['evaluate', full, '--data', dataDir]);
    expect(ev.code, ev.stderr).toBe(0);
    const evaluation = JSON.parse(readFileSync(join(full, 'evaluation.json'), 'utf8'));
    expect(JSON.stringify(evaluation)).toContain(String(summaryOf(full).final.test.accuracy));
  });
});

// A search's result carried into the next run (`run CONFIG --from SEARCH_DIR`, `train(config, { from })`), `--set
// field=null` unsetting an optional field, and the notice of a cyclical run that ends away from a cycle end.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { train } from '../src/index.js';
import { applySet, loadConfig } from '../src/config/load.js';
import { chosenFields } from '../src/formats/search-summary.js';
import { cycleEndNote, planRun } from '../src/pipeline/plan.js';
import type { TrainConfig } from '../src/config/schema.js';
import { UsageError } from '../src/util/errors.js';
import { resumeCommand } from '../src/cli/commands/search.js';
import { cli } from './helpers/cli.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const root = mkdtempSync(join(tmpdir(), 'cifar-from-search-'));
const dataDir = writeSyntheticCifar(join(root, 'data'), 200, 90);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const searchYaml = join(root, 'search.yaml');
const trainYaml = join(root, 'train.yaml');
const searchOut = join(root, 'search out');
/** 300 training records (100 held out): 6 steps per epoch of 50; 2 trials of one cycle of 2 × 6 steps. */
writeFileSync(searchYaml, `kind: search
name: tiny-search
seed: 3
trials: 2
workers: 1
space:
  params:
    base.train.lambda: { dist: log-uniform, min: 1.0e-5, max: 1.0e-1 }
base:
  data: { train: [data_batch_1, data_batch_2], holdout: 100, test: [test_batch] }
  model: { hidden: 8 }
  train: { batchSize: 50 }
  schedule: { ns: 6, cycles: 1 }
  eval: { pointsPerCycle: 2 }
  kernels: { backend: wasm-simd }
`);
/** 2 epochs of 6 steps = 12 steps: with ns = 4 that is 1.5 cycles, away from a cycle end. */
writeFileSync(trainYaml, `name: tiny-final
data: { train: [data_batch_1, data_batch_2], holdout: 100, test: [test_batch] }
model: { hidden: 8 }
train: { lambda: 0.5, batchSize: 50 }
schedule: { ns: 4, epochs: 2 }
eval: { pointsPerCycle: 2 }
kernels: { backend: wasm-simd }
`);

let searchStderr = '';
beforeAll(async () => {
  const r = await cli(['search', searchYaml, '--data', dataDir, '--out', searchOut]);
  expect(r.code, r.stderr).toBe(0);
  searchStderr = r.stderr;
}, 120_000);

describe('--set field=null', () => {
  it('unsets an optional field (so that another may replace it) and restores a default', () => {
    const raw: Record<string, unknown> = { schedule: { epochs: 20, ns: 300 } };
    applySet(raw, 'schedule.epochs=null');
    applySet(raw, 'schedule.ns=null');
    expect(raw).toEqual({ schedule: {} });
    const c = loadConfig('config/final.yaml', ['schedule.epochs=null', 'schedule.cycles=10']) as TrainConfig;
    expect(c.schedule.epochs).toBeUndefined();
    expect(c.schedule.cycles).toBe(10);
    expect(() => loadConfig('config/final.yaml', ['schedule.cycles=10'])).toThrow(/give cycles or epochs, not both/);
  });
});

describe('a run ending away from a cycle end', () => {
  it('names where it ends and the settings that would end on one; none for a run of whole cycles', () => {
    const final = loadConfig('config/final.yaml') as TrainConfig;
    const note = cycleEndNote(final, planRun(final, 49_000));
    expect(note).toMatch(/ends at step 9800, 9\.80 cycles of 2 × 500 steps/);
    expect(note).toMatch(/eta 0\.040 there/);
    expect(note).toMatch(/schedule\.cycles: 10 in place of schedule\.epochs: 20 \(10000 steps\) or schedule\.ns: 490/);
    const cycles = loadConfig('config/final.yaml', ['schedule.epochs=null', 'schedule.cycles=10']) as TrainConfig;
    expect(cycleEndNote(cycles, planRun(cycles, 49_000))).toBeNull();
    const cycle3 = loadConfig('config/cycle3.yaml') as TrainConfig;
    expect(cycleEndNote(cycle3, planRun(cycle3, 10_000))).toBeNull();
  });
});

describe('--from SEARCH_DIR', () => {
  it('a finished search prints the command that takes its chosen values', () => {
    expect(searchStderr).toContain(`cifar-mlp run config/final.yaml --from '${searchOut}'`);
  });

  it('takes the chosen trial\'s searched fields, prints them, records them in config.yaml; says the run ends off a cycle end', async () => {
    const summary = JSON.parse(readFileSync(join(searchOut, 'summary.json'), 'utf8'));
    const lambda = summary.chosen.params['base.train.lambda'];
    expect(chosenFields(searchOut).sets).toEqual([`train.lambda=${JSON.stringify(lambda)}`]);
    const out = join(root, 'final');
    const r = await cli(['run', trainYaml, '--from', searchOut, '--data', dataDir, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`--from ${searchOut}: trial ${summary.chosen.id} (val `);
    expect(r.stderr).toContain(`train.lambda=${JSON.stringify(lambda)}`);
    expect(r.stderr).toMatch(/note: the run ends at step 12, 1\.50 cycles of 2 × 4 steps.*schedule\.ns: 3 \(2 cycles in the same 12 steps\)/);
    const configText = readFileSync(join(out, 'config.yaml'), 'utf8');
    expect(configText.split('\n')[0]).toBe(`# train.lambda=${JSON.stringify(lambda)}: from the search in ${searchOut} (trial ${summary.chosen.id}, its chosen one)`);
    const config = parseYaml(configText);
    expect(config.train.lambda).toBe(lambda);
    expect(config.train.lambda).not.toBe(0.5);
    const run = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(run.cycleEndNote).toMatch(/schedule\.cycles: 2 in place of schedule\.epochs: 2 \(16 steps\)/);
    // --set after --from wins; the run then ends on a cycle end and says nothing of it.
    const out2 = join(root, 'final-set');
    const r2 = await cli(['run', trainYaml, '--from', searchOut, '--set', 'train.lambda=0.25', '--set', 'schedule.epochs=null', '--set', 'schedule.cycles=1',
      '--data', dataDir, '--out', out2]);
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stderr).not.toMatch(/note:/);
    const config2 = parseYaml(readFileSync(join(out2, 'config.yaml'), 'utf8'));
    expect(config2.train.lambda).toBe(0.25);
    expect(config2.schedule.epochs).toBeUndefined();
    expect(JSON.parse(readFileSync(join(out2, 'summary.json'), 'utf8')).cycleEndNote).toBeUndefined();
  }, 60_000);

  it('refuses a folder that is not a finished search, and a search config, with one line (exit 2)', async () => {
    expect(() => chosenFields(join(root, 'final'))).toThrow(UsageError);
    const r = await cli(['run', trainYaml, '--from', join(root, 'final'), '--data', dataDir, '--out', join(root, 'never')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--from .*final: not a search folder/);
    const r2 = await cli(['run', searchYaml, '--from', searchOut, '--data', dataDir, '--out', join(root, 'never')]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/takes a training config/);
  });

  it('train(config, { from }) in the library does the same', async () => {
    const lines: string[] = [];
    const s = await train(trainYaml, { from: searchOut, data: dataDir, out: join(root, 'library'), log: (l) => lines.push(l) });
    const lambda = JSON.parse(readFileSync(join(searchOut, 'summary.json'), 'utf8')).chosen.params['base.train.lambda'];
    expect(s.config.train.lambda).toBe(lambda);
    expect(lines.join('\n')).toContain(`train.lambda=${JSON.stringify(lambda)}`);
    expect(parseYaml(readFileSync(join(root, 'library', 'config.yaml'), 'utf8')).train.lambda).toBe(lambda);
  }, 60_000);
});

describe('resume hints', () => {
  it('are whole commands: the search\'s with --queue where it ran on one, its password left out', () => {
    expect(resumeCommand('runs/search coarse', undefined)).toBe(`cifar-mlp search --out 'runs/search coarse' --resume`);
    const withQueue = resumeCommand('runs/s', 'redis://user:secret@host:6379/2');
    expect(withQueue).toMatch(/^cifar-mlp search --out runs\/s --resume --queue 'redis:\/\/user:\*\*\*@host:6379\/2'$/);
    expect(withQueue).not.toContain('secret');
  });

  it('an interrupted search prints the command that continues it', async () => {
    const out = join(root, 'interrupted search');
    let sent = false;
    const r = await cli(['search', searchYaml, '--data', dataDir, '--out', out, '--set', 'trials=6', '--set', 'base.schedule.ns=300'], {
      onStderr: (all, kill) => { if (!sent && /trial 1 started/.test(all)) { sent = true; kill('SIGINT'); } },
    });
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain(`cifar-mlp: continue the search with: cifar-mlp search --out '${out}' --resume\n`);
  }, 60_000);
});

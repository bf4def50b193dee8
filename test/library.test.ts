// The library API (src/index.ts, the package's entry): configs from files and objects with the CLI's errors, train()
// with progress and an abort signal (interrupted midway, resumed), search() with its events, evaluate() and predict()
// against the run's own figures and the CLI. From the sources; test/package.test.ts runs it from the packed tarball.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ConfigError, evaluate, loadConfig, loadModel, predict, search, train, UsageError, validateConfig,
  type SearchEvent, type TrainConfig, type TrainProgress,
} from '../src/index.js';
import { loadConfig as loadConfigFile } from '../src/config/load.js';
import { cyclicalEta } from '../src/model/schedule.js';
import { cli, listing } from './helpers/cli.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const root = mkdtempSync(join(tmpdir(), 'cifar-library-'));
const dataDir = writeSyntheticCifar(join(root, 'data'), 200, 90);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** 200 training records, batches of 50: 4 steps per epoch; one cycle of 2·ns = 40 steps. */
const tiny = (over: Record<string, unknown> = {}) => loadConfig({
  kind: 'train', name: 'tiny', seed: 5,
  model: { hidden: 12 },
  train: { lambda: 0.001, batchSize: 50 },
  schedule: { etaMin: 1e-4, etaMax: 0.05, ns: 20, cycles: 1 },
  eval: { pointsPerCycle: 4 },
  kernels: { backend: 'wasm-simd' },
  ...over,
}, { kind: 'train' });

describe('loadConfig / validateConfig', () => {
  it('reads a file as the CLI does, with --set overrides, and checks the kind', () => {
    expect(loadConfig('config/cycle1.yaml', { set: ['train.lambda=0.002'] })).toEqual(loadConfigFile('config/cycle1.yaml', ['train.lambda=0.002']));
    const c: TrainConfig = loadConfig('config/cycle1.yaml', { kind: 'train' });
    expect(c.train.lambda).toBe(0.01);
    expect(() => loadConfig('config/cycle1.yaml', { kind: 'search' })).toThrow(UsageError);
    expect(() => loadConfig('config/cycle1.yaml', { kind: 'search' })).toThrow(/config\/cycle1\.yaml: kind: expected a search config \(got "train"\)/);
  });

  it('validates a plain object: defaults filled in, the caller\'s object unchanged, overrides applied', () => {
    const raw = { kind: 'train', schedule: { ns: 100 } };
    const c = loadConfig(raw, { set: ['train.lambda=0.5'], kind: 'train' });
    expect(c.schedule.ns).toBe(100);
    expect(c.train.lambda).toBe(0.5);
    expect(c.model.hidden).toBe(50);
    expect(raw).toEqual({ kind: 'train', schedule: { ns: 100 } });
  });

  it('reports every problem as the CLI does: ConfigError, one line per problem naming the field, with a did-you-mean', () => {
    let err: unknown;
    try {
      validateConfig({ kind: 'train', train: { lamda: 0.1, batchSize: -1 } }, { source: 'my-config' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toBeInstanceOf(UsageError);
    const problems = (err as ConfigError).problems;
    expect(problems).toHaveLength(2);
    expect(problems.join('\n')).toMatch(/^my-config: train\.lamda: unknown field .*did you mean train\.lambda\?$/m);
    expect(problems.join('\n')).toMatch(/^my-config: train\.batchSize: .*\(got -1\)$/m);
    expect(() => validateConfig([1, 2])).toThrow(/config: expected a mapping of config fields/);
  });

  it('takes its own output back unchanged (a validated config validates to itself), for every shipped config', () => {
    const files = readdirSync('config').filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(8);
    for (const f of files) {
      const c = loadConfig(join('config', f));
      expect(validateConfig(JSON.parse(JSON.stringify(c))), f).toEqual(c);
    }
  });
});

describe('train()', () => {
  it('trains into its folder, tells every step in order with the schedule\'s learning rate, and resolves with the summary', async () => {
    const config = tiny();
    const out = join(root, 'run');
    const seen: TrainProgress[] = [];
    const logged: string[] = [];
    const summary = await train(config, { out, data: dataDir, onProgress: (p) => seen.push(p), log: (l) => logged.push(l) });
    expect(summary.status).toBe('completed');
    expect(summary.steps).toBe(40);
    // Step 0 (the untrained network, evaluated), then every update step.
    expect(seen.map((p) => p.step)).toEqual(Array.from({ length: 41 }, (_, i) => i));
    expect(seen[0].batchLoss).toBeNaN();
    for (const p of seen.slice(1)) {
      expect(p.totalSteps).toBe(40);
      expect(p.label).toBe('tiny');
      expect(p.lr).toBeCloseTo(cyclicalEta(config.schedule, p.step - 1), 12);
      expect(p.batchLoss).toBeGreaterThan(0);
    }
    // Evaluation points (every 10 steps): their metrics are the rows of metrics.csv.
    const evaluated = seen.filter((p) => p.metrics);
    expect(evaluated.map((p) => p.step)).toEqual([0, 10, 20, 30, 40]);
    const csv = readFileSync(join(out, 'metrics.csv'), 'utf8').trim().split('\n');
    const last = csv[csv.length - 1].split(',');
    expect(Number(last[0])).toBe(40);
    expect(Number(last[8])).toBeCloseTo(evaluated[4].metrics!.val.accuracy, 6);
    // The summary is summary.json's, and the folder is a complete run.
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(summary)));
    for (const f of ['model.json', 'config.yaml', 'report.html', 'lr.png', 'loss.svg']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(summary.final!.test!.accuracy).toBeGreaterThan(0.5); // the synthetic classes are learnable
    expect(logged.some((l) => l.includes(`data ${dataDir}`) && l.includes('backend wasm-simd'))).toBe(true);
  });

  it('stops midway when the signal aborts: status interrupted, the model saved at that step; resume finishes the run', async () => {
    const config = tiny({ name: 'stopped' });
    const out = join(root, 'stopped');
    const controller = new AbortController();
    const steps: number[] = [];
    const summary = await train(config, {
      out, data: dataDir, signal: controller.signal,
      onProgress: (p) => {
        steps.push(p.step);
        if (p.step === 15) controller.abort();
      },
    });
    expect(summary.status).toBe('interrupted');
    expect(summary.steps).toBeGreaterThanOrEqual(15);
    expect(summary.steps).toBeLessThan(40);
    expect(steps[steps.length - 1]).toBe(summary.steps);
    expect(summary.checkpointStep).toBe(summary.steps);
    expect(JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')).step).toBe(summary.steps);

    const resumed: number[] = [];
    const done = await train(config, { out, data: dataDir, resume: true, onProgress: (p) => resumed.push(p.step) });
    expect(done.status).toBe('completed');
    expect(done.steps).toBe(40);
    expect(resumed[0]).toBe(summary.steps + 1);
    expect(resumed[resumed.length - 1]).toBe(40);
  });

  it('rejects with an AbortError and writes nothing when aborted before it starts', async () => {
    const out = join(root, 'never');
    const controller = new AbortController();
    controller.abort();
    await expect(train(tiny(), { out, data: dataDir, signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(existsSync(out)).toBe(false);
  });

  it('rejects bad input with the CLI\'s one-line UsageError and writes nothing', async () => {
    const out = join(root, 'bad');
    await expect(train(tiny(), { out, data: join(root, 'no-such-data') })).rejects.toBeInstanceOf(UsageError);
    await expect(train({ kind: 'search' }, { out, data: dataDir })).rejects.toThrow(/kind: expected a train config/);
    await expect(train(tiny({ data: { trainLimit: 10 } }), { out, data: dataDir })).rejects.toThrow(UsageError);
    expect(existsSync(out)).toBe(false);
    // A non-empty folder is refused without force, as on the command line.
    const before = listing(join(root, 'run'));
    await expect(train(tiny(), { out: join(root, 'run'), data: dataDir })).rejects.toThrow(/folder is not empty/);
    expect(listing(join(root, 'run'))).toEqual(before);
  });
});

describe('evaluate() and predict()', () => {
  it('evaluate() measures the model on each split as the run measured it', async () => {
    const summary = JSON.parse(readFileSync(join(root, 'run', 'summary.json'), 'utf8'));
    const ev = await evaluate(join(root, 'run'), { data: dataDir });
    expect(ev.step).toBe(40);
    expect(ev.classes).toHaveLength(10);
    for (const split of ['train', 'val', 'test'] as const) {
      expect(ev.splits[split]!.records).toBe(200);
      expect(ev.splits[split]!.accuracy).toBeCloseTo(summary.final[split].accuracy, 10);
      expect(ev.splits[split]!.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(200);
    }
    // It writes nothing (the CLI's evaluate writes evaluation.json).
    expect(existsSync(join(root, 'run', 'evaluation.json'))).toBe(false);
  });

  it('predict() gives the CLI\'s predictions for records, PNG files, PNG bytes and raw pixels', async () => {
    const model = join(root, 'run');
    const records = join(dataDir, 'test_batch.bin');
    const fromCli = (await cli(['predict', model, records, '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
    const preds = await predict(model, records);
    expect(preds).toHaveLength(200);
    expect(preds.map((p) => p.label)).toEqual(fromCli.map((p) => p.label)); // one meaning of label: the predicted class (issue 26.9)
    expect(preds.map((p) => p.trueLabel)).toEqual(fromCli.map((p) => p.trueLabel));
    for (const p of preds.slice(0, 5)) {
      expect(Object.values(p.probabilities).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(p.probability).toBe(Math.max(...Object.values(p.probabilities)));
    }
    const accuracy = preds.filter((p) => p.label === p.trueLabel).length / preds.length;
    expect(accuracy).toBeCloseTo((await evaluate(model, { data: dataDir })).splits.test!.accuracy, 10);

    // Record 0 of test_batch as a PNG file, as PNG bytes and as raw pixels: one prediction each, the record's.
    const pixels = readFileSync(records).subarray(1, 3073);
    const png = new PNG({ width: 32, height: 32 });
    for (let i = 0; i < 1024; i++) png.data.set([pixels[i], pixels[1024 + i], pixels[2048 + i], 255], i * 4);
    const pngBytes = PNG.sync.write(png);
    const pngFile = join(root, 'record0.png');
    writeFileSync(pngFile, pngBytes);
    const loaded = await loadModel(model);
    try {
      const three = await loaded.predict([pngFile, new Uint8Array(pngBytes), new Uint8Array(pixels)]);
      expect(three.map((p) => p.source)).toEqual([pngFile, 'png bytes', 'pixels']);
      for (const p of three) {
        expect(p.label).toBe(preds[0].label);
        expect(p.probability).toBeCloseTo(preds[0].probability, 6);
      }
      await expect(loaded.predict(new Uint8Array(100))).rejects.toThrow(/images\[0\]: 100 bytes is neither an image file \(PNG, JPEG, WebP or GIF\) nor whole images/);
    } finally {
      await loaded.dispose();
    }
    await expect(loaded.predict(pngFile)).rejects.toThrow(/disposed/);
  });
});

describe('search()', () => {
  it('runs the trials on the worker pool, tells each one\'s start and end, and resolves with the summary', async () => {
    const out = join(root, 'search');
    const events: SearchEvent[] = [];
    const summary = await search({
      kind: 'search', name: 'tiny-search', seed: 3, trials: 2, workers: 2,
      space: { params: { 'base.train.lambda': { dist: 'log-uniform', min: 1e-4, max: 1e-1 } } },
      base: {
        data: { train: ['data_batch_1'], validation: ['data_batch_2'] },
        model: { hidden: 12 }, train: { batchSize: 50 }, schedule: { ns: 10, cycles: 1 }, eval: { pointsPerCycle: 2 },
        kernels: { backend: 'wasm-simd' },
      },
    }, { out, data: dataDir, onProgress: (e) => events.push(e) });
    expect(summary.status).toBe('completed');
    expect(summary.counts.completed).toBe(2);
    expect(summary.chosen!.test!.accuracy).toBeGreaterThan(0);
    expect(events[0]).toMatchObject({ type: 'begin', state: { total: 2, done: 0 } });
    for (const trial of [1, 2]) {
      const started = events.findIndex((e) => e.type === 'trial-started' && e.trial === trial);
      const finished = events.findIndex((e) => e.type === 'trial-finished' && e.trial === trial);
      expect(started).toBeGreaterThan(0);
      expect(finished).toBeGreaterThan(started);
      expect(events[finished]).toMatchObject({ status: 'completed' });
    }
    const last = events.filter((e) => e.type === 'trial-finished').pop() as Extract<SearchEvent, { type: 'trial-finished' }>;
    expect(last.state.done).toBe(2);
    expect(last.state.best!.valAccuracy).toBe(summary.ranking[0].val_acc);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).chosen.id).toBe(summary.chosen!.id);
    // The chosen trial's model is kept: evaluate() takes the search folder for it.
    const ev = await evaluate(out, { data: dataDir });
    expect(ev.model).toBe(join(out, 'trials', summary.chosen!.id, 'model.json'));
    expect(ev.splits.test!.accuracy).toBeCloseTo(summary.chosen!.test!.accuracy, 10);
  });
});

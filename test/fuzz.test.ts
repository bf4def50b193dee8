/**
 * Seeded fuzzing of everything a user feeds in: random and mutated config files and --set overrides, CIFAR batch
 * files and model files. Whatever the input, the library either accepts it or throws one of the tool's own
 * errors (UsageError and its kinds: ConfigError, DataError, CheckpointError) with a message of one line per
 * problem — never a TypeError, RangeError or other uncaught exception.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/util/errors.js';
import { applySet, loadConfig, validateConfig } from '../src/config/load.js';
import type { TrainConfig } from '../src/config/schema.js';
import { DataError, PIXELS, readBatches, RECORD_BYTES } from '../src/data/cifar.js';
import { computeNormalization } from '../src/data/normalization.js';
import { loadSplits } from '../src/data/splits.js';
import { checkSplitsFit } from '../src/pipeline/plan.js';
import { ReferenceBackend } from '../src/kernels/reference.js';
import { checksumOf, CheckpointError, parseCheckpoint, serializeModel } from '../src/formats/model-file.js';
import { Network } from '../src/model/network.js';
import { planRun } from '../src/pipeline/plan.js';
import { Rng } from '../src/util/rng.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const root = mkdtempSync(join(tmpdir(), 'cifar-fuzz-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const dataDir = writeSyntheticCifar(join(root, 'data'), 12);

/** Runs f; an error must be one of ours with one-line problems. Returns 'ok' or the error's class name. */
function expectKnown(f: () => unknown, what: () => string): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (!(e instanceof UsageError)) {
      throw new Error(`uncaught ${(e as Error)?.name}: ${(e as Error)?.message}\n  input: ${what()}`, { cause: e });
    }
    for (const line of e.message.split('\n')) {
      expect(line.trim().length, what()).toBeGreaterThan(0);
      expect(line.length, what()).toBeLessThan(2000);
    }
    if (!['ConfigError'].includes(e.name)) expect(e.message, what()).not.toContain('\n');
    return e.name;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Random values

const BASE = {
  name: 'fuzz', seed: 3,
  data: { train: ['data_batch_1'], validation: ['data_batch_2'], test: ['test_batch'] },
  model: { hidden: 4 },
  train: { lambda: 0.01, batchSize: 5 },
  schedule: { etaMin: 1e-4, etaMax: 0.05, ns: 3, cycles: 1 },
  eval: { pointsPerCycle: 2 },
  kernels: { backend: 'reference' },
  checkpoint: { every: 0 },
};
const PATHS = [
  'kind', 'name', 'seed', 'data', 'data.dir', 'data.url', 'data.md5', 'data.train', 'data.validation', 'data.holdout', 'data.test',
  'data.trainLimit', 'model', 'model.hidden', 'train', 'train.lambda', 'train.batchSize', 'schedule', 'schedule.etaMin',
  'schedule.etaMax', 'schedule.ns', 'schedule.cycles', 'schedule.epochs', 'eval', 'eval.pointsPerCycle', 'eval.every',
  'eval.trainSubset', 'kernels', 'kernels.backend', 'kernels.threads', 'checkpoint', 'checkpoint.every', 'bogus', 'model.bogus',
  '__proto__', 'constructor', 'toString', 'data.train.0',
];

function randomValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(0, 16)) {
    case 0: return rng.int(-5, 5);
    case 1: return rng.int(0, 1e6);
    case 2: return (rng.uniform() - 0.5) * 10 ** rng.int(-8, 12);
    case 3: return [0, -0, NaN, Infinity, -Infinity, 2 ** 53, 1e308, 5e-324, 4097, 2 ** 32][rng.int(0, 9)];
    case 4: return ['', 'x', 'data_batch_1', 'test_batch', '../../etc/passwd', 'reference', 'wasm-simd', 'train', 'search', 'gradcheck', 'toString', '__proto__', 'http://127.0.0.1:1/x.tgz', 'ünïcödé', 'a'.repeat(300)][rng.int(0, 14)];
    case 5: return rng.int(0, 1) === 1;
    case 6: return null;
    case 7: return depth > 2 ? 1 : Array.from({ length: rng.int(0, 3) }, () => randomValue(rng, depth + 1));
    case 8: return depth > 2 ? {} : Object.fromEntries(Array.from({ length: rng.int(0, 3) }, () => [PATHS[rng.int(0, PATHS.length - 1)].split('.').pop()!, randomValue(rng, depth + 1)]));
    case 9: return ['data_batch_1', 'data_batch_2'].slice(0, rng.int(0, 2));
    case 10: return ['nofile', 'data_batch_3', 'test_batch'].slice(rng.int(0, 2));
    case 11: return rng.int(1, 40);
    case 12: return 10 ** -rng.int(0, 6);
    default: return undefined;
  }
}

function setPath(obj: Record<string, any>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = obj;
  for (const k of keys.slice(0, -1)) {
    if (node[k] === null || typeof node[k] !== 'object') node[k] = {};
    node = node[k];
  }
  if (value === undefined) delete node[keys[keys.length - 1]];
  else node[keys[keys.length - 1]] = value;
}

/** YAML text of a mutated config, sometimes further mangled as text. */
function mutatedConfigText(rng: Rng): string {
  const obj = structuredClone(BASE) as Record<string, any>;
  for (let n = rng.int(0, 2); n > 0; n--) setPath(obj, PATHS[rng.int(0, PATHS.length - 1)], randomValue(rng));
  let text = rng.int(0, 3) === 0 ? JSON.stringify(obj) : stringify(obj);
  switch (rng.int(0, 14)) {
    case 0: text = text.slice(0, rng.int(0, text.length)); break; // truncated
    case 1: { // flipped bytes
      const b = Buffer.from(text);
      for (let k = rng.int(1, 5); k > 0 && b.length; k--) b[rng.int(0, b.length - 1)] = rng.int(0, 255);
      text = b.toString('latin1');
      break;
    }
    case 2: text += ['\nx: &a [1,2]\ny: [*a, *a]\n', '\n  - broken: [\n', '\n? complex\n: key\n', '\nseed: !!binary aGVsbG8=\n', '\nname: !!set { a, b }\n', '\nk: &r [*r]\n', '\ndata: !!omap [ a: 1 ]\n', '\nseed: 0x1F\n', '\nname: !custom x\n', '\nseed: 1\nseed: 2\n'][rng.int(0, 9)]; break;
    case 3: text = Array.from({ length: rng.int(0, 200) }, () => String.fromCharCode(rng.int(0, 255))).join(''); break; // random bytes
    case 4: text = text.replace(/\n/g, () => (rng.int(0, 5) === 0 ? '\n\t' : '\n')); break;
    default: break;
  }
  return text;
}

function randomSet(rng: Rng): string {
  const forms = [
    () => `${PATHS[rng.int(0, PATHS.length - 1)]}=${JSON.stringify(randomValue(rng)) ?? ''}`,
    () => `${PATHS[rng.int(0, PATHS.length - 1)]}=${['[1, 2', '{a: 1}', '*x', '&a 1', '!!binary x', '1e999', '- a\n- b', '"unterminated', ''][rng.int(0, 8)]}`,
    () => ['novalue', '=1', 'a..b=1', '.a=1', 'a.=1', 'a b=1', '__proto__.x=1', 'constructor.prototype.x=1', 'seed.x=1', 'data.train.x=1'][rng.int(0, 9)],
  ];
  return forms[rng.int(0, forms.length - 1)]();
}

// ---------------------------------------------------------------------------------------------------------

describe('fuzz (seeded)', () => {
  it('config files and --set overrides: 400 random or mutated inputs', () => {
    const rng = new Rng(20240601);
    const outcomes = new Map<string, number>();
    const dir = join(root, 'configs');
    mkdirSync(dir);
    for (let i = 0; i < 400; i++) {
      const file = join(dir, `c${i}.yaml`);
      const text = mutatedConfigText(rng);
      writeFileSync(file, text, 'latin1');
      const sets = Array.from({ length: rng.int(0, 3) === 0 ? rng.int(1, 2) : 0 }, () => randomSet(rng));
      const what = () => `#${i} ${JSON.stringify(text).slice(0, 400)} --set ${JSON.stringify(sets)}`;
      let config: ReturnType<typeof loadConfig> | undefined;
      const outcome = expectKnown(() => { config = loadConfig(file, sets); }, what);
      // A valid train config goes on to what only the data can tell (as `run` does before writing anything).
      let next = outcome;
      if (config?.kind === 'train') {
        const cfg = config as TrainConfig;
        next = expectKnown(() => {
          const splits = loadSplits(cfg.data, dataDir, file);
          checkSplitsFit(cfg, splits, file);
          planRun(cfg, splits.train.count);
        }, what);
        next = `train:${next}`;
      }
      outcomes.set(next, (outcomes.get(next) ?? 0) + 1);
    }
    if (process.env.FUZZ_DEBUG) console.log(outcomes);
    // The fuzzer reaches every stage: rejected configs, data-size rejections and accepted configs.
    expect(outcomes.get('ConfigError') ?? 0).toBeGreaterThan(100);
    expect(outcomes.get('train:ok') ?? 0).toBeGreaterThan(10);
    expect([...outcomes.keys()].filter((k) => k.startsWith('train:') && k !== 'train:ok').length).toBeGreaterThan(0);
  });

  it('validateConfig on 300 random objects (any kind)', () => {
    const rng = new Rng(7);
    for (let i = 0; i < 300; i++) {
      const raw = (rng.int(0, 1) ? structuredClone(BASE) : {}) as Record<string, any>;
      for (let n = rng.int(1, 6); n > 0; n--) setPath(raw, PATHS[rng.int(0, PATHS.length - 1)], randomValue(rng));
      if (rng.int(0, 3) === 0) raw.kind = ['search', 'gradcheck', 'train', 7, null, 'toString', 'hasOwnProperty'][rng.int(0, 6)];
      if (rng.int(0, 4) === 0) { const self: any = {}; self.self = self; raw.schedule = self; } // circular (YAML alias to itself)
      if (rng.int(0, 5) === 0) raw.seed = BigInt(rng.int(0, 9));
      const sets = Array.from({ length: rng.int(0, 2) }, () => randomSet(rng));
      expectKnown(() => {
        for (const s of sets) applySet(raw, s);
        validateConfig(raw, 'fuzz.yaml');
      }, () => `#${i} ${String(Object.keys(raw))} ${JSON.stringify(sets)}`);
    }
  });

  it('CIFAR batch files: 300 mutated files', () => {
    const rng = new Rng(99);
    const good = readFileSync(join(dataDir, 'data_batch_1.bin'));
    const dir = join(root, 'batches');
    mkdirSync(dir);
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const file = join(dir, `b${i}.bin`);
      let bytes: Buffer = Buffer.from(good);
      switch (rng.int(0, 8)) {
        case 0: bytes = bytes.subarray(0, rng.int(0, bytes.length)); break; // truncated
        case 1: bytes = Buffer.concat([bytes, Buffer.from(Array.from({ length: rng.int(1, 5000) }, () => rng.int(0, 255)))]); break; // trailing junk
        case 2: for (let k = rng.int(1, 5); k > 0; k--) bytes[rng.int(0, 11) * RECORD_BYTES] = rng.int(0, 255); break; // labels
        case 3: bytes = Buffer.from(Array.from({ length: RECORD_BYTES * rng.int(0, 3) }, () => rng.int(0, 255))); break; // random records
        case 4: bytes = Buffer.from(Array.from({ length: rng.int(0, 10000) }, () => rng.int(0, 255))); break; // random bytes
        case 5: for (let k = rng.int(1, 50); k > 0; k--) bytes[rng.int(0, bytes.length - 1)] = rng.int(0, 255); break; // flips
        default: break;
      }
      const kind = rng.int(0, 12);
      if (kind === 0) mkdirSync(file); // a folder where a file should be
      else if (kind !== 1) writeFileSync(file, bytes); // kind 1: missing
      const paths = rng.int(0, 3) === 0 ? [file, join(dataDir, 'data_batch_2.bin')] : [file];
      const outcome = expectKnown(() => {
        const ds = readBatches(paths);
        expect(ds.pixels.length).toBe(ds.count * PIXELS);
        for (const l of ds.labels) expect(l).toBeLessThan(10);
        if (ds.count > 0) computeNormalization(ds);
      }, () => `#${i} ${bytes.length} bytes`);
      if (outcome !== 'ok') expect(outcome).toBe('DataError');
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    if (process.env.FUZZ_DEBUG) console.log(outcomes);
    expect(outcomes.get('DataError') ?? 0).toBeGreaterThan(100);
    expect(outcomes.get('ok') ?? 0).toBeGreaterThan(10);
  });

  it('model files: 250 mutated checkpoints', async () => {
    const rng = new Rng(4242);
    const config = validateConfig(structuredClone(BASE), 'base') as TrainConfig;
    const net = new Network(new ReferenceBackend(), { d: PIXELS, m: 4, k: 10 });
    await net.initialise(new Rng(1));
    const ds = readBatches([join(dataDir, 'data_batch_1.bin')]);
    const good = await serializeModel(net, { config, step: 2, totalSteps: 6, normalization: computeNormalization(ds), data: { train: 12, val: 12, test: 12 } });
    const doc = JSON.parse(good);
    const FIELDS = ['format', 'version', 'createdAt', 'step', 'totalSteps', 'shape', 'shape.m', 'shape.d', 'classes', 'data', 'data.train', 'data.dir',
      'config', 'config.model.hidden', 'config.schedule', 'config.train.lambda', 'normalization', 'normalization.mean', 'params', 'params.W1',
      'params.W1.rows', 'params.W1.data', 'params.b1.dtype', 'params.W2.cols', 'params.b2.data', 'bogus'];
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 250; i++) {
      let text: string;
      const mode = rng.int(0, 5);
      if (mode <= 2) {
        // Structural mutation, re-signed so that it passes the checksum and reaches the structure checks (or not).
        const { sha256: _s, ...body } = structuredClone(doc);
        for (let n = rng.int(1, 3); n > 0; n--) setPath(body, FIELDS[rng.int(0, FIELDS.length - 1)], randomValue(rng));
        text = JSON.stringify({ ...body, sha256: mode === 2 ? '0'.repeat(64) : checksumOf(body) });
      } else if (mode === 3) {
        text = good.slice(0, rng.int(0, good.length)); // truncated
      } else if (mode === 4) {
        const b = Buffer.from(good); // flipped bytes
        for (let k = rng.int(1, 5); k > 0; k--) b[rng.int(0, b.length - 1)] = rng.int(0, 255);
        text = b.toString('latin1');
      } else {
        text = JSON.stringify(randomValue(rng)) ?? '';
      }
      const outcome = expectKnown(() => parseCheckpoint(text, 'model.json'), () => `#${i} mode ${mode} ${text.slice(0, 200)}`);
      if (outcome !== 'ok') expect(outcome).toBe('CheckpointError');
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    if (process.env.FUZZ_DEBUG) console.log(outcomes);
    expect(outcomes.get('CheckpointError') ?? 0).toBeGreaterThan(150);
    expect(() => parseCheckpoint(good, 'model.json')).not.toThrow();
    expect(CheckpointError.prototype).toBeInstanceOf(UsageError);
    expect(DataError.prototype).toBeInstanceOf(UsageError);
  });
});

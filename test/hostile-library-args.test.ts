// Issue 21.11: the library answers bad arguments with the CLI's one-line UsageError (exitCode 2) naming the function
// and the argument, before anything is read or written; never a TypeError. `signal: 'x'` is refused.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluate, loadConfig, loadModel, predict, search, train, UsageError } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'hostile-args-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const out = join(root, 'out');
const cfg = { kind: 'train', name: 'x' };
const searchCfg = { kind: 'search', name: 's', space: { params: { 'base.train.lambda': { dist: 'log-uniform', min: 1e-5, max: 1e-1 } } } };

const CASES: [string, () => unknown, RegExp][] = [
  ['train(null)', () => train(null as never, { out }), /^train\(\): config: expected the path of a config file or a plain object/],
  ['train(cfg) without options', () => train(cfg as never, undefined as never), /^train\(\): options: expected an object of options/],
  ['train(cfg, { out: 42 })', () => train(cfg as never, { out: 42 as never }), /^train\(\): options\.out: .*string.*\(got 42\)/],
  ['train(cfg, { out, data: 42 })', () => train(cfg as never, { out, data: 42 as never }), /^train\(\): options\.data: .*\(got 42\)/],
  ['train(cfg, { out, signal: "x" })', () => train(cfg as never, { out, signal: 'x' as never }), /^train\(\): options\.signal: expected an AbortSignal \(got "x"\)/],
  ['train(cfg, { out, resume: "yes" })', () => train(cfg as never, { out, resume: 'yes' as never }), /^train\(\): options\.resume: .*boolean/],
  ['train(cfg, { out, onProgress: 1 })', () => train(cfg as never, { out, onProgress: 1 as never }), /^train\(\): options\.onProgress: expected a function/],
  ['search([], options)', () => search([] as never, { out }), /^search\(\): config: expected the path/],
  ['search(cfg, { out, log: "x" })', () => search(searchCfg as never, { out, log: 'x' as never }), /^search\(\): options\.log: expected a function/],
  ['loadConfig(null)', () => loadConfig(null as never), /^loadConfig\(\): config: expected the path/],
  ['loadConfig(42)', () => loadConfig(42 as never), /^loadConfig\(\): config: .*\(got 42\)/],
  ['loadConfig(cfg, { set: "a=1" })', () => loadConfig(cfg, { set: 'a=1' as never }), /^loadConfig\(\): options\.set: /],
  ['evaluate(42)', () => evaluate(42 as never), /^evaluate\(\): model: .*\(got 42\)/],
  ['evaluate(path, { backend: "quantum" })', () => evaluate(join(root, 'm.json'), { backend: 'quantum' as never }), /^evaluate\(\): options\.backend: .*\(got "quantum"\)/],
  ['predict(m, null)', () => predict(join(root, 'm.json'), null as never), /^predict\(\): images: .*\(got null\)/],
  ['predict(m, [])', () => predict(join(root, 'm.json'), []), /^predict\(\): images: /],
  ['predict(42, img)', () => predict(42 as never, 'x.png'), /^predict\(\): model: expected the path of a model file or run folder, or a Model/],
  ['loadModel(undefined)', () => loadModel(undefined as never), /^loadModel\(\): path: /],
];

describe('library arguments', () => {
  it.each(CASES)('%s: a UsageError naming the argument, exit code 2, nothing written', async (_name, call, message) => {
    let err: unknown;
    try {
      await call();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message.split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });
});

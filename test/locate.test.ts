import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataDirError, defaultDataRoot, resolveDataDir } from '../src/data/locate.js';

let cwd: string;
const mk = (...parts: string[]): string => {
  const p = path.join(cwd, ...parts);
  fs.mkdirSync(p, { recursive: true });
  return p;
};

beforeEach(() => {
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'cifar-locate-'));
});
afterEach(() => {
  fs.rmSync(cwd, { recursive: true, force: true });
});

function thrown(f: () => unknown): DataDirError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DataDirError);
    return e as DataDirError;
  }
  throw new Error('expected a DataDirError');
}

describe('resolveDataDir', () => {
  it('prefers --data over config over env over the default', () => {
    const a = mk('a');
    const b = mk('b');
    const c = mk('c');
    const def = mk('data', 'cifar-10-batches-bin');
    const env = { CIFAR10_DIR: c };
    expect(resolveDataDir({ cliDir: a, configDir: b, env, cwd })).toEqual({ dir: a, source: 'cli', tried: [a] });
    expect(resolveDataDir({ configDir: b, env, cwd })).toEqual({ dir: b, source: 'config', tried: [b] });
    expect(resolveDataDir({ env, cwd })).toEqual({ dir: c, source: 'env', tried: [c] });
    expect(resolveDataDir({ env: {}, cwd })).toEqual({ dir: def, source: 'default', tried: [def] });
  });

  it('returns dir null (caller downloads) only when nothing was given and the default is missing', () => {
    const def = path.join(cwd, 'data', 'cifar-10-batches-bin');
    expect(resolveDataDir({ env: {}, cwd })).toEqual({ dir: null, source: 'default', tried: [def] });
    expect(defaultDataRoot(cwd)).toBe(path.join(cwd, 'data'));
    // empty strings count as "not given"
    expect(resolveDataDir({ cliDir: '', configDir: ' ', env: { CIFAR10_DIR: '' }, cwd }).source).toBe('default');
  });

  it('throws, naming source and path, when an explicit location does not exist (no fall-through)', () => {
    mk('data', 'cifar-10-batches-bin'); // default exists, but must not be used
    const e1 = thrown(() => resolveDataDir({ cliDir: 'nope', env: {}, cwd }));
    expect(e1.source).toBe('cli');
    expect(e1.path).toBe(path.join(cwd, 'nope'));
    expect(e1.message).toContain('--data');
    expect(e1.message).toContain(path.join(cwd, 'nope'));

    const e2 = thrown(() => resolveDataDir({ configDir: '/definitely/not/here', env: {}, cwd }));
    expect(e2.source).toBe('config');
    expect(e2.message).toContain('config data.dir');
    expect(e2.message).toContain('/definitely/not/here');

    const e3 = thrown(() => resolveDataDir({ env: { CIFAR10_DIR: 'missing' }, cwd }));
    expect(e3.source).toBe('env');
    expect(e3.message).toContain('CIFAR10_DIR');
    expect(e3.message).toContain(path.join(cwd, 'missing'));

    // an existing lower-priority source does not rescue a missing higher one
    const ok = mk('ok');
    expect(() => resolveDataDir({ cliDir: 'nope', configDir: ok, cwd, env: {} })).toThrow(DataDirError);
  });

  it('treats a file as not a directory', () => {
    fs.writeFileSync(path.join(cwd, 'file'), 'x');
    expect(() => resolveDataDir({ cliDir: 'file', env: {}, cwd })).toThrow(/not a directory/);
    fs.mkdirSync(path.join(cwd, 'data'));
    fs.writeFileSync(path.join(cwd, 'data', 'cifar-10-batches-bin'), 'x');
    expect(resolveDataDir({ env: {}, cwd }).dir).toBeNull();
  });

  it('resolves relative paths against cwd, config paths against configBase, and expands ~/', () => {
    const rel = mk('rel');
    expect(resolveDataDir({ cliDir: 'rel', env: {}, cwd }).dir).toBe(rel);
    expect(resolveDataDir({ env: { CIFAR10_DIR: './rel' }, cwd }).dir).toBe(rel);
    const cfgData = mk('configs', 'cifar');
    expect(resolveDataDir({ configDir: 'cifar', configBase: path.join(cwd, 'configs'), env: {}, cwd }).dir).toBe(
      cfgData,
    );
    const home = os.homedir();
    if (fs.existsSync(home)) {
      expect(resolveDataDir({ cliDir: '~', env: {}, cwd }).dir).toBe(home);
    }
  });

  it('accepts the parent of cifar-10-batches-bin for an explicit location', () => {
    const parent = mk('mydata');
    const sub = mk('mydata', 'cifar-10-batches-bin');
    expect(resolveDataDir({ cliDir: parent, env: {}, cwd })).toEqual({ dir: sub, source: 'cli', tried: [parent, sub] });
    // but not when the folder itself holds the batches
    fs.writeFileSync(path.join(parent, 'data_batch_1.bin'), '');
    expect(resolveDataDir({ cliDir: parent, env: {}, cwd }).dir).toBe(parent);
  });

  it('defaults env to process.env and cwd to process.cwd()', () => {
    const prev = process.env.CIFAR10_DIR;
    const dir = mk('from-env');
    process.env.CIFAR10_DIR = dir;
    try {
      expect(resolveDataDir({})).toEqual({ dir, source: 'env', tried: [dir] });
    } finally {
      if (prev === undefined) delete process.env.CIFAR10_DIR;
      else process.env.CIFAR10_DIR = prev;
    }
  });
});

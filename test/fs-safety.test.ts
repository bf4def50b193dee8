// The input and folder helpers of src/util: makeDirs (level by level, errno named), readRegularFile (regular
// files only, size cap, never blocks on a pipe), the JSON nesting limit and core-schema YAML.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/util/errors.js';
import { jsonDepth, parseJsonBounded } from '../src/util/bounded-json.js';
import { parseCoreYaml, YamlError } from '../src/util/core-yaml.js';
import { makeDirs } from '../src/util/make-dirs.js';
import { FileReadError, readRegularText } from '../src/util/read-file.js';

const root = mkdtempSync(join(tmpdir(), 'fs-safety-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('makeDirs', () => {
  it('creates the missing levels and returns the first it created; an existing folder is fine', () => {
    expect(makeDirs(join(root, 'a', 'b', 'c'))).toBe(join(root, 'a'));
    expect(makeDirs(join(root, 'a', 'b', 'c'))).toBeUndefined();
    expect(makeDirs(join(root, 'a', 'd'))).toBe(join(root, 'a', 'd'));
  });

  it('names the folder and the errno: under /proc (where Node 20 loops forever), under a file', () => {
    const t0 = Date.now();
    expect(() => makeDirs('/proc/x/y', '--out /proc/x/y')).toThrow(new UsageError('--out /proc/x/y: cannot create the folder /proc/x (ENOENT: no such file or directory)'));
    expect(Date.now() - t0).toBeLessThan(1000);
    writeFileSync(join(root, 'file'), 'x');
    expect(() => makeDirs(join(root, 'file', 'sub'))).toThrow(/file\/sub: cannot create the folder .*\(ENOTDIR: not a directory\)/);
  });

  it('reports a read-only file system as EROFS, not ENOENT', (ctx) => {
    const src = join(root, 'ro-src'), mnt = join(root, 'ro-mnt');
    mkdirSync(src);
    mkdirSync(mnt);
    const bind = spawnSync('mount', ['--bind', src, mnt], { encoding: 'utf8' });
    const ro = bind.status === 0 ? spawnSync('mount', ['-o', 'remount,bind,ro', mnt], { encoding: 'utf8' }) : bind;
    if (ro.status !== 0) {
      if (bind.status === 0) spawnSync('umount', [mnt]);
      const why = `needs a read-only bind mount (mount: ${(ro.stderr || ro.error?.message || '').trim().split('\n')[0]})`;
      if (process.env.CI === 'true') throw new Error(why);
      console.warn(`skipped: makeDirs EROFS test ${why}`);
      ctx.skip();
    }
    try {
      expect(() => makeDirs(join(mnt, 'runs', 'x'))).toThrow(/cannot create the folder .*ro-mnt\/runs \(EROFS: read-only file system\)/);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

describe('readRegularText', () => {
  const read = (p: string, maxBytes = 1000) => readRegularText(p, { maxBytes, expected: 'a YAML config file' });
  const failure = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(FileReadError);
      return (e as Error).message;
    }
    throw new Error('expected a FileReadError');
  };

  it('reads a regular file up to the cap, refuses one byte more', () => {
    writeFileSync(join(root, 'ok.yaml'), 'a'.repeat(1000));
    expect(read(join(root, 'ok.yaml'))).toHaveLength(1000);
    writeFileSync(join(root, 'big.yaml'), 'a'.repeat(1001));
    expect(failure(() => read(join(root, 'big.yaml')))).toBe(`${join(root, 'big.yaml')}: larger than 1000 bytes, too large for a YAML config file`);
    expect(failure(() => read(join(root, 'none.yaml')))).toBe(`${join(root, 'none.yaml')}: file not found`);
  });

  it('refuses devices (/dev/zero reports size 0), folders, named pipes (without blocking) and sockets', async () => {
    expect(failure(() => read('/dev/zero'))).toBe('/dev/zero: is a character device, expected a YAML config file');
    expect(failure(() => read(root))).toBe(`${root}: is a directory, expected a YAML config file`);
    const fifo = join(root, 'pipe.yaml');
    execFileSync('mkfifo', [fifo]);
    expect(failure(() => read(fifo))).toBe(`${fifo}: is a named pipe, expected a YAML config file`);
    const sock = join(root, 'sock.yaml');
    const server = createServer();
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      expect(failure(() => read(sock))).toBe(`${sock}: is a socket, expected a YAML config file`);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('JSON nesting limit', () => {
  it('measures nesting outside strings only (brackets and escaped quotes inside strings do not count)', () => {
    expect(jsonDepth('{"a": [1, {"b": "[[[{{{"}], "c": "x\\\\"}')).toBe(3);
    expect(jsonDepth('{"a": "say \\"[[[\\" and \\\\", "b": [[[]]]}')).toBe(4);
    expect(jsonDepth('1')).toBe(0);
  });

  it('refuses a deep document before parsing it, however deep (no stack overflow)', () => {
    const deep = `{"format": "x", "a": ${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`;
    expect(() => parseJsonBounded(deep, 64)).toThrow('nested deeper than 64 levels');
    expect(parseJsonBounded(`${'['.repeat(64)}${']'.repeat(64)}`, 64)).toBeInstanceOf(Array);
  });
});

describe('core-schema YAML', () => {
  const error = (text: string) => {
    try {
      parseCoreYaml(text);
    } catch (e) {
      expect(e).toBeInstanceOf(YamlError);
      return (e as Error).message;
    }
    throw new Error(`expected ${JSON.stringify(text)} to be refused`);
  };

  it('refuses every tag outside the core schema, naming it and its line', () => {
    expect(error('name: x\ntrain: !!omap [{lambda: -5}]')).toMatch(/^line 2: tag !!omap is not allowed/);
    expect(error('a: !!set {x, y}')).toMatch(/^line 1: tag !!set is not allowed/);
    expect(error('a: !!binary aGVsbG8=')).toMatch(/^line 1: tag !!binary is not allowed/);
    expect(error('a: !!timestamp 2001-12-14')).toMatch(/^line 1: tag !!timestamp is not allowed/);
    expect(error('a: !!js/function "function () {}"')).toMatch(/^line 1: tag !!js\/function is not allowed/);
    expect(error('a:\n  b: !custom 3')).toMatch(/^line 2: tag !custom is not allowed/);
    expect(error('%TAG !e! tag:example.com,2000:\n---\na: !e!thing 1')).toMatch(/^line 3: tag tag:example\.com,2000:thing is not allowed/);
    expect(error('a: !!int abc')).toBe('line 1: tag !!int does not fit its value');
  });

  it('accepts plain YAML and the core tags', () => {
    expect(parseCoreYaml('a: !!str 3\nb: !!int "4"\nc: !!float 1.5\nd: !!bool true\ne: !!null\nf: !!map {x: 1}\ng: !!seq [1]\nh: [1e-3, -2]'))
      .toEqual({ a: '3', b: 4, c: 1.5, d: true, e: null, f: { x: 1 }, g: [1], h: [0.001, -2] });
  });

  it('reports syntax errors, duplicate keys and alias bombs as invalid YAML', () => {
    expect(error('a: [1')).toMatch(/^invalid YAML: /);
    expect(error('a: 1\na: 2')).toMatch(/^invalid YAML: Map keys must be unique/);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(', ')}]`)].join('\n');
    expect(error(bomb)).toMatch(/^invalid YAML: Excessive alias count/);
  });
});

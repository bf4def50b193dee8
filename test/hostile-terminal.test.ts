// Issue 21.6: text from configs, model files, data folders, workers and Redis reaches the terminal only through
// util/terminal-text.ts: the CLI's log, the progress lines (fit-line) and the error printer escape control characters
// (newlines too), so a name can neither rewrite the screen nor forge a line; and names are plain text at the source:
// a config name (at most 200 characters) and class names with control characters are refused.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { log } from '../src/cli/log.js';
import { validateConfig } from '../src/config/load.js';
import { readClassNames } from '../src/data/class-names.js';
import { ConfigError } from '../src/util/errors.js';
import { fitLine } from '../src/util/fit-line.js';
import { SearchProgress } from '../src/search/progress.js';
import { cli } from './helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'hostile-terminal-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const FORGED = 'x\r\x1b[2K\x1b[1;32mcifar-mlp: search completed\x1b[0m\nforged line\u202e';
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/; // anything but \t and \n raw on the screen

describe('the CLI\'s log', () => {
  it('writes one line whatever the text holds; leading newlines stay', () => {
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      log(`worker ${FORGED}: started trial 3`);
      log('\ncifar-mlp: SIGINT received');
      const [[first], [second]] = spy.mock.calls as unknown as [string][];
      expect(first.split('\n')).toEqual([expect.stringContaining('forged line'), '']);
      expect(first).not.toMatch(RAW);
      expect(first).toContain('\\x1b[2K');
      expect(second).toBe('\ncifar-mlp: SIGINT received\n');
    } finally {
      spy.mockRestore();
    }
  });

  it('an error naming a file with escape codes prints one clean line (exit 2)', async () => {
    const r = await cli(['run', join(root, `bad\x1b[2J\nname.yaml`)]);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(RAW);
    expect(r.stderr).toContain('bad\\x1b[2J\\nname.yaml');
  });
});

describe('progress lines', () => {
  it('fitLine escapes what its parts hold', () => {
    const line = fitLine([{ text: FORGED, keep: 1 }, { text: '3/8', keep: Infinity, sep: ' ' }], 300);
    expect(line).not.toMatch(/[\x00-\x1f\u202e]/);
    expect(line).toMatch(/3\/8$/);
  });

  it('a search\'s plain lines (a log file) too', () => {
    const chunks: string[] = [];
    const stream = { isTTY: false, columns: 80, write: (s: string) => { chunks.push(s); return true; } } as unknown as NodeJS.WriteStream;
    const p = new SearchProgress(FORGED, 2, stream, false);
    p.begin({ total: 2, done: 0, running: 0, best: null });
    p.started(1, `lambda=1e-3 ${FORGED}`, { total: 2, done: 0, running: 1, best: null });
    p.stop();
    const text = chunks.join('');
    expect(text).not.toMatch(RAW);
    for (const line of text.trimEnd().split('\n')) expect(line).not.toMatch(/^forged/);
  });
});

describe('names are plain text at the source', () => {
  const problems = (raw: Record<string, unknown>) => {
    try {
      validateConfig(raw, 'c.yaml');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as Error).message;
    }
    return null;
  };
  it.each([['train'], ['search'], ['gradcheck']])('a %s config name with control characters or over 200 characters is refused', (kind) => {
    const base = kind === 'search' ? { kind, space: { params: { 'base.train.lambda': { dist: 'log-uniform', min: 1e-5, max: 1e-1 } } } } : { kind };
    expect(problems({ ...base, name: 'line\nbreak' })).toMatch(/name: a name is plain text/);
    expect(problems({ ...base, name: 'esc\x1b[31m' })).toMatch(/name: a name is plain text/);
    expect(problems({ ...base, name: 'x'.repeat(201) })).toMatch(/name: /);
    expect(problems({ ...base, name: 'λ-search 2 (ünïcode ok)' })).toBeNull();
  });

  it('class names with control characters in batches.meta.txt are not used', () => {
    const good = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
    writeFileSync(join(root, 'batches.meta.txt'), `${good.join('\n')}\n`);
    expect(readClassNames(root)).toEqual(good);
    writeFileSync(join(root, 'batches.meta.txt'), `${['\x1b[2Jcat', ...good.slice(1)].join('\n')}\n`);
    expect(readClassNames(root)).toBeNull();
  });
});

/**
 * The CLI's help and its answers to typos, through the built CLI: every example in a command's --help (the
 * Examples section and the `--set` snippets of the option texts) is valid for that command; unknown commands,
 * options, config fields and --set paths get one line with "did you mean", exit 2.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/util/errors.js';
import { loadConfig } from '../src/config/load.js';
import { configSchemas } from '../src/config/schema.js';
import { fieldPaths } from '../src/config/suggest.js';
import { checkQueueUrl } from '../src/search/queue-protocol.js';

const CLI = resolve('dist/cli.js');
const root = mkdtempSync(join(tmpdir(), 'cifar-cli-help-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0', COLUMNS: '80' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

interface Help { options: Map<string, boolean>; examples: string[][]; sets: Array<{ path: string; value: string }>; needsArgument: boolean }

/** The options (and whether each takes a value), the example command lines and the `--set` snippets of a help text. */
function parseHelp(text: string): Help {
  const section = (name: string) => {
    const at = text.indexOf(`\n${name}:\n`);
    if (at < 0) return '';
    const rest = text.slice(at + name.length + 3);
    const end = rest.search(/\n\S/);
    return end < 0 ? rest : rest.slice(0, end);
  };
  const optionsText = section('Options');
  const options = new Map<string, boolean>();
  for (const m of optionsText.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)( <[^>]+>)?/gm)) options.set(m[1], m[2] !== undefined);
  const examples = section('Examples').split('\n').map((l) => l.trim()).filter(Boolean).map((l) => l.split(/\s+/));
  const sets = [...optionsText.matchAll(/--set\s+([\w.]+)=([^\s),;]+)/g)].map((m) => ({ path: m[1], value: m[2] }));
  // "Usage: cifar-mlp plot [options] <out-dir>": an argument in <…> must be given.
  const needsArgument = /<[^>]+>/.test(text.split('\n')[0].replace(/\[[^\]]*\]/g, ''));
  return { options, examples, sets, needsArgument };
}

/** Problems of a --set list on a config file (none: it validates), kind checked for the search command. */
function validate(command: string, config: string, sets: string[]): string[] {
  try {
    const c = loadConfig(config, sets);
    return command === 'search' && c.kind !== 'search' ? [`${config} is not a search config`] : [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
}

/** Every command the top-level help lists (help itself aside). */
const COMMANDS = [...cli('--help').stdout.matchAll(/^ {2}([a-z][\w-]*) /gm)].map((m) => m[1]).filter((c) => c !== 'help');
const EXAMPLE_CONFIG: Record<string, string> = { run: 'config/cycle1.yaml', search: 'config/search-coarse.yaml' };

describe('--help', () => {
  const helps = new Map(COMMANDS.map((c) => {
    const r = cli(c, '--help');
    expect(r.code, r.stderr).toBe(0);
    return [c, parseHelp(r.stdout)] as const;
  }));

  it('shows examples for every command', () => {
    expect(COMMANDS).toEqual(expect.arrayContaining(['run', 'search', 'worker', 'lr-find', 'evaluate', 'predict', 'ensemble', 'config-doc', 'plot']));
    for (const [c, h] of helps) expect(h.examples.length, c).toBeGreaterThan(0);
  });

  it('the top-level help calls search a search of any fields, and lr-find\'s --backend names no search config', () => {
    const top = cli('--help').stdout.replace(/\s+/g, ' ');
    expect(top).not.toMatch(/lambda search/);
    expect(top).toMatch(/search \[options\] \[config\] Run a search config: trials of a training config over a space of its fields/);
    const lrFind = cli('lr-find', '--help').stdout.replace(/\s+/g, ' ');
    expect(lrFind).toMatch(/--backend <name> kernel backend \(same as --set kernels\.backend=<name>\)/);
    expect(lrFind).not.toMatch(/search config/);
  });

  it.each(COMMANDS)('%s: every example uses known options and, for run/search, a config that validates with its --set values', (command) => {
    const h = helps.get(command)!;
    for (const ex of h.examples) {
      const line = ex.join(' ');
      expect(ex.slice(0, 2), line).toEqual(['cifar-mlp', command]);
      const positional: string[] = [], sets: string[] = [];
      const given = new Set<string>();
      for (let i = 2; i < ex.length; i++) {
        if (!ex[i].startsWith('--')) { positional.push(ex[i]); continue; }
        expect(h.options.has(ex[i]), `${line}: unknown option ${ex[i]}`).toBe(true);
        given.add(ex[i]);
        if (h.options.get(ex[i])) {
          const value = ex[++i];
          expect(value, `${line}: ${ex[i - 1]} needs a value`).toBeDefined();
          if (ex[i - 1] === '--set') sets.push(value);
          if (ex[i - 1] === '--backend') sets.push(`kernels.backend=${value}`);
        }
      }
      if (command === 'worker') {
        expect(() => checkQueueUrl(ex[ex.indexOf('--queue') + 1]), line).not.toThrow();
        continue;
      }
      if (command === 'ensemble') {
        expect(positional.length, `${line}: two or more models`).toBeGreaterThanOrEqual(2);
        expect(given.has('--out'), line).toBe(true);
        continue;
      }
      if (command === 'lr-find') {
        expect(positional, line).toHaveLength(1);
        expect(validate('run', positional[0], sets), line).toEqual([]);
        expect(loadConfig(positional[0], sets).kind, line).toBe('train');
        continue;
      }
      if (command !== 'run' && command !== 'search') {
        if (h.needsArgument) expect(positional.length, line).toBeGreaterThan(0);
        continue;
      }
      if (positional.length === 0) {
        expect([...given], `${line}: without a config only --resume --out may run`).toEqual(expect.arrayContaining(['--resume', '--out']));
        continue;
      }
      expect(positional, line).toHaveLength(1);
      expect(existsSync(positional[0]), `${line}: ${positional[0]}`).toBe(true);
      expect(validate(command, positional[0], sets), line).toEqual([]);
    }
  });

  it.each(['run', 'search'])('%s: the --set snippets of the option texts are valid for that command', (command) => {
    const h = helps.get(command)!;
    expect(h.sets.length).toBeGreaterThan(1);
    const kind = command === 'search' ? 'search' : 'train';
    for (const { path, value } of h.sets) {
      expect(fieldPaths(configSchemas[kind]), `--set ${path}=${value}`).toContain(path);
      if (!value.startsWith('<')) expect(validate(command, EXAMPLE_CONFIG[command], [`${path}=${value}`]), `--set ${path}=${value}`).toEqual([]);
    }
  });

  it('the check rejects what a search refuses (the old search help: --set train.lambda=…)', () => {
    expect(validate('search', EXAMPLE_CONFIG.search, ['train.lambda=0.001'])).toEqual([
      'config/search-coarse.yaml: train: unknown field (got {"lambda":0.001}) [from --set]; did you mean base.train.lambda?',
    ]);
    expect(validate('search', EXAMPLE_CONFIG.run, [])).toEqual(['config/cycle1.yaml is not a search config']);
  });
});

describe('typos: one line, exit 2, did you mean', () => {
  const expectOneLine = (r: ReturnType<typeof cli>, message: RegExp) => {
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  };

  it('an unknown command or option', () => {
    expectOneLine(cli('rnu', 'config/cycle1.yaml'), /^cifar-mlp: error: unknown command 'rnu'; did you mean run\?$/m);
    expectOneLine(cli('serach'), /unknown command 'serach'; did you mean search\?/);
    expectOneLine(cli('run', 'config/cycle1.yaml', '--ot', 'x'), /unknown option '--ot'; did you mean --out\?/);
    expectOneLine(cli('frobnicate'), /^cifar-mlp: error: unknown command 'frobnicate'$/m);
  });

  it('an unknown config field and --set path', () => {
    const file = join(root, 'typo.yaml');
    writeFileSync(file, 'train:\n  lamda: 0.1\n');
    expectOneLine(cli('run', file), /typo\.yaml: train\.lamda: unknown field \(got 0\.1\); did you mean train\.lambda\?/);
    expectOneLine(cli('run', 'config/cycle1.yaml', '--set', 'schedule.nss=3'), /schedule\.nss: unknown field \(got 3\) \[from --set\]; did you mean schedule\.ns\?/);
    expectOneLine(cli('search', 'config/search-coarse.yaml', '--set', 'train.lambda=0.1'), /train: unknown field .*\[from --set\]; did you mean base\.train\.lambda\?/);
  });

  it('run or search without a config and without --resume', () => {
    expectOneLine(cli('run'), /^cifar-mlp: run: missing the config argument \(e\.g\. cifar-mlp run config\/cycle1\.yaml\); only --resume --out DIR may leave it out$/m);
    expectOneLine(cli('search', '--out', root), /^cifar-mlp: search: missing the config argument/m);
    expectOneLine(cli('run', '--resume'), /run --resume without a config needs --out DIR/);
  });
});

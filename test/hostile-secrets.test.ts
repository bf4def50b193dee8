// Issue 21.1: secrets (a Redis password, tokens, credentials in a download URL) are never stored in clear in lock
// files, summaries or reports, nor printed in messages and errors (src/util/redact.ts, used by the lock, the
// summaries, the download's messages and the CLI's log); lock files are private. 21.6: text on its way to a terminal
// (src/util/terminal-text.ts) cannot move the cursor or forge lines.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { downloadCifar10 } from '../src/data/download.js';
import { writeRunSummary } from '../src/formats/run-summary.js';
import { LOCK_FILE, lockFolder } from '../src/util/folder-lock.js';
import { redactSecrets, redactUrl } from '../src/util/redact.js';
import { terminalLine, terminalLines } from '../src/util/terminal-text.js';

const root = mkdtempSync(join(tmpdir(), 'hostile-secrets-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const folder = (name: string) => mkdtempSync(join(root, `${name}-`));

const SECRET = 's3cr3t-Pa55';
const COMMANDS = [
  `search config/s.yaml --queue redis://:${SECRET}@127.0.0.1:6379/0`,
  `worker --queue rediss://alice:${SECRET}@redis.example:6380/2 --data d`,
  `search c.yaml --queue=redis://default:${SECRET}@h`,
  `dashboard runs --host 0.0.0.0 --token ${SECRET}`,
  `dashboard runs --token=${SECRET}`,
  `run c.yaml --set data.url=https://u:${SECRET}@mirror.example/cifar.tar.gz`,
  `run c.yaml --set data.url=https://mirror.example/cifar.tar.gz?token=${SECRET}&x=1`,
];

describe('redaction', () => {
  it.each(COMMANDS)('removes the secret from %s and keeps the rest', (command) => {
    const shown = redactSecrets(command);
    expect(shown).not.toContain(SECRET);
    expect(shown).toContain('***');
    expect(shown.split(' ')[0]).toBe(command.split(' ')[0]);
  });

  it('leaves text without secrets alone', () => {
    for (const text of ['run config/cycle1.yaml --out runs/x --set train.lambda=0.001', 'search --queue redis://127.0.0.1:6379/0', 'see https://www.cs.toronto.edu/~kriz/cifar.html']) {
      expect(redactSecrets(text)).toBe(text);
    }
  });

  it('redactUrl: password and secret query parameters, never the host or user', () => {
    expect(redactUrl(`redis://alice:${SECRET}@h:6379/3`)).toBe('redis://alice:***@h:6379/3');
    expect(redactUrl(`https://h/x?api_key=${SECRET}&a=1`)).toBe('https://h/x?api_key=***&a=1');
    expect(redactUrl(`not a url :${SECRET}@`)).not.toContain(SECRET);
  });
});

describe('lock files', () => {
  it('hold the command line redacted and are private (mode 0600)', () => {
    const dir = folder('lock');
    const lock = lockFolder(dir, { command: COMMANDS[0] });
    try {
      const file = join(dir, LOCK_FILE);
      expect(readFileSync(file, 'utf8')).not.toContain(SECRET);
      expect(JSON.parse(readFileSync(file, 'utf8')).command).toBe('search config/s.yaml --queue redis://:***@127.0.0.1:6379/0');
      expect(statSync(file).mode & 0o777).toBe(0o600);
    } finally {
      lock.release();
    }
  });

  it('"in use by" and "taking over" never print a secret, also from a lock an older version wrote in clear', async () => {
    const live = folder('live');
    const holder = spawn('sleep', ['30']);
    try {
      writeFileSync(join(live, LOCK_FILE), JSON.stringify({ pid: holder.pid, hostname: hostname(), startedAt: '2020-01-01T00:00:00.000Z', command: COMMANDS[1] }));
      expect(() => lockFolder(live)).toThrow(/in use by process/);
      try {
        lockFolder(live);
      } catch (e) {
        expect((e as Error).message).not.toContain(SECRET);
        expect((e as Error).message).toContain('rediss://alice:***@redis.example:6380/2');
      }
    } finally {
      holder.kill('SIGKILL');
    }
    const dead = folder('dead');
    writeFileSync(join(dead, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 17, hostname: hostname(), startedAt: '2020-01-01T00:00:00.000Z', command: COMMANDS[0] }));
    const lines: string[] = [];
    lockFolder(dead, { log: (l) => lines.push(l) }).release();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/taking over the lock of process/);
    expect(lines[0]).not.toContain(SECRET);
  });
});

describe('summaries and download messages', () => {
  it('summary.json holds a credentialled data.url redacted', () => {
    const dir = folder('summary');
    const url = `https://u:${SECRET}@mirror.example/cifar.tar.gz`;
    writeRunSummary(dir, { status: 'running', config: { name: 'x', data: { url } } } as never);
    const text = readFileSync(join(dir, 'summary.json'), 'utf8');
    expect(text).not.toContain(SECRET);
    expect(text).toContain('https://u:***@mirror.example/cifar.tar.gz');
  });

  it('a failed download names the URL without its password', async () => {
    const url = `https://u:${SECRET}@mirror.invalid/cifar.tar.gz?token=${SECRET}`;
    const err = await downloadCifar10({
      url, md5: '0'.repeat(32), destDir: folder('download'),
      fetchImpl: (async () => { throw Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('getaddrinfo ENOTFOUND mirror.invalid'), { code: 'ENOTFOUND' }) }); }) as typeof fetch,
    }).then(() => null, (e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain('mirror.invalid');
    expect(err!.message).not.toContain(SECRET);
  });
});

describe('terminal text', () => {
  it('escapes control characters (escape codes, carriage returns, newlines, bidi overrides) and redacts secrets', () => {
    expect(terminalLine('a\x1b[2J\x1b]0;title\x07b')).toBe('a\\x1b[2J\\x1b]0;title\\x07b');
    expect(terminalLine('done\rcifar-mlp: search completed\nforged')).toBe('done\\rcifar-mlp: search completed\\nforged');
    expect(terminalLine('gpj.\u202eexe \u009b31m')).toBe('gpj.\\u202eexe \\x9b31m');
    expect(terminalLine(`--queue redis://:${SECRET}@h`)).toBe('--queue redis://:***@h');
    expect(terminalLine('λ = 10^-3.07, 52.30% — ok')).toBe('λ = 10^-3.07, 52.30% — ok');
    expect(terminalLines('line 1\nline \x1b[31m2')).toEqual(['line 1', 'line \\x1b[31m2']);
  });
});

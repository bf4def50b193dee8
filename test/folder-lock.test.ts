// One process per output folder (src/util/folder-lock.ts): the lock file, a live holder refused with its pid, a dead
// holder's lock taken over, release on exit and on signals. The CLI commands' use of it: cli-faults.test.ts.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderLockedError, LOCK_FILE, lockFolder } from '../src/util/folder-lock.js';
import { bundle } from './helpers/bundle.js';

const root = mkdtempSync(join(tmpdir(), 'folder-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const folder = (name: string) => mkdtempSync(join(root, `${name}-`));
const lockText = (dir: string, over: Record<string, unknown>) =>
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 1, hostname: hostname(), startedAt: '2020-01-01T00:00:00.000Z', command: 'run x', ...over }));

/** A pid that is certainly not running: a child that has exited (and been reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('lockFolder', () => {
  it('writes pid, host, start time and command; removes the file on release (idempotent)', () => {
    const dir = folder('basic');
    const lock = lockFolder(dir, { command: 'run config/x.yaml' });
    const held = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'));
    expect(held).toMatchObject({ pid: process.pid, hostname: hostname(), command: 'run config/x.yaml' });
    expect(Date.now() - Date.parse(held.startedAt)).toBeLessThan(60_000);
    lock.release();
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    lockFolder(dir).release(); // free again
  });

  it('refuses a folder a live process holds, naming its pid (exit code 2)', async () => {
    const dir = folder('live');
    const holder = spawn('sleep', ['30']);
    try {
      lockText(dir, { pid: holder.pid });
      let err: unknown;
      try {
        lockFolder(dir);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FolderLockedError);
      expect((err as FolderLockedError).exitCode).toBe(2);
      expect((err as Error).message).toMatch(new RegExp(`^${dir}: in use by process ${holder.pid} on ${hostname()} \\(since 2020-01-01T00:00:00\\.000Z: run x\\)`));
      expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toContain(`"pid":${holder.pid}`); // untouched
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('takes over the lock of a dead holder, with a warning line; also of a reused pid and of an old unreadable file', () => {
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    const dead = folder('dead');
    const pid = deadPid();
    lockText(dead, { pid });
    const lock = lockFolder(dead, { log });
    expect(JSON.parse(readFileSync(join(dead, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    expect(lines).toEqual([`cifar-mlp: warning: ${dead}: taking over the lock of process ${pid} on ${hostname()} (since 2020-01-01T00:00:00.000Z: run x), which is no longer running`]);
    lock.release();

    const reused = folder('reused'); // the pid runs, but it is another process than the one that took the lock
    lockText(reused, { pid: process.ppid, procStart: '1' });
    lockFolder(reused, { log }).release();
    expect(lines).toHaveLength(2);

    const garbage = folder('garbage');
    writeFileSync(join(garbage, LOCK_FILE), '');
    expect(() => lockFolder(garbage)).toThrow(/in use by another process \(its lock .* is being written\)/); // just created
    utimesSync(join(garbage, LOCK_FILE), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    lockFolder(garbage, { log }).release();
    expect(lines[2]).toMatch(/taking over the lock of an unreadable lock file/);

    const pipe = folder('pipe'); // not a file at all: never read (no blocking), taken over once old
    execFileSync('mkfifo', [join(pipe, LOCK_FILE)]);
    expect(() => lockFolder(pipe)).toThrow(FolderLockedError);
    utimesSync(join(pipe, LOCK_FILE), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    lockFolder(pipe, { log }).release();
    expect(existsSync(join(pipe, LOCK_FILE))).toBe(false);
  });

  it('refuses a lock held on another host, naming the file to remove', () => {
    const dir = folder('remote');
    lockText(dir, { pid: deadPid(), hostname: 'elsewhere.example' });
    expect(() => lockFolder(dir)).toThrow(new RegExp(`in use by process \\d+ on elsewhere\\.example .*; if that process is gone, remove ${join(dir, LOCK_FILE)}`));
  });

  it('does not remove a lock that is no longer its own', () => {
    const dir = folder('replaced');
    const lock = lockFolder(dir);
    lockText(dir, { pid: 42 });
    lock.release();
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toContain('"pid":42');
  });

  it('is released when the process exits without releasing it, and on SIGTERM/SIGINT when the command has no handler (exit 130)', async () => {
    const lib = bundle('src/util/folder-lock.ts');
    const run = (dir: string, body: string) => spawn(process.execPath, ['-e', `const { lockFolder } = require(${JSON.stringify(lib)}); lockFolder(${JSON.stringify(dir)}); ${body}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = (c: ReturnType<typeof spawn>) => new Promise<number | null>((r) => c.on('close', (code) => r(code)));

    const a = folder('exit');
    expect(await exited(run(a, 'process.exit(3)'))).toBe(3);
    expect(existsSync(join(a, LOCK_FILE))).toBe(false);

    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      const b = folder(sig);
      const child = run(b, 'console.log("locked"); setInterval(() => {}, 1000);');
      await new Promise((r) => child.stdout!.once('data', r));
      expect(existsSync(join(b, LOCK_FILE))).toBe(true);
      child.kill(sig);
      expect(await exited(child)).toBe(130);
      expect(existsSync(join(b, LOCK_FILE))).toBe(false);
    }
  });
});

/**
 * One process per output folder: `<dir>/.cifar-mlp.lock`, created with O_EXCL, holds the holder's pid, host, start
 * time and command (its secrets redacted, src/util/redact.ts; the file is private, mode 0600). A second process gets a one-line FolderLockedError (exit 2) naming the holder's pid. The lock
 * is removed on release, at process exit (process.exit included) and, for commands that do not handle SIGINT and
 * SIGTERM themselves, on those signals. A lock whose holder is dead (same host, pid not alive or reused, or the
 * machine rebooted since) is taken over with a warning line; kill -9 leaves such a lock.
 */
import { closeSync, constants, linkSync, lstatSync, openSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './errors.js';
import { errnoText } from './errno.js';
import { readRegularText } from './read-file.js';
import { redactSecrets } from './redact.js';

export const LOCK_FILE = '.cifar-mlp.lock';

/** What a lock file holds. */
export interface LockHolder {
  pid: number;
  hostname: string;
  /** ISO time the lock was taken. */
  startedAt: string;
  /** The command line of the holder, its secrets redacted (src/util/redact.ts). */
  command: string;
  /** Linux: the kernel boot id and the process's start time in clock ticks since boot (tell a reused pid apart). */
  bootId?: string;
  procStart?: string;
}

export interface FolderLock {
  readonly dir: string;
  readonly file: string;
  /** Removes the lock file (when it is still this process's); idempotent. */
  release(): void;
}

/** Another live process holds the folder. */
export class FolderLockedError extends UsageError {
  override name = 'FolderLockedError';
  constructor(message: string, readonly holder: LockHolder | null) {
    super(message);
  }
}

/** A small regular file's text (a lock file, /proc/<pid>/stat); null when absent, unreadable or anything else. */
function readText(path: string): string | null {
  try {
    return readRegularText(path, { maxBytes: 64 * 1024, expected: 'a lock file' });
  } catch {
    return null;
  }
}

const bootId = () => readText('/proc/sys/kernel/random/boot_id')?.trim() || undefined;

/** Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), Linux only. */
function procStart(pid: number): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19];
}

function parseHolder(text: string | null): LockHolder | null {
  if (!text) return null;
  try {
    const h = JSON.parse(text) as LockHolder;
    return Number.isInteger(h?.pid) && h.pid > 0 && typeof h.hostname === 'string' ? h : null;
  } catch {
    return null;
  }
}

/** Locks held by this process: file → the text it wrote. */
const held = new Map<string, string>();
let exitHookInstalled = false;

function releaseFile(file: string): void {
  const mine = held.get(file);
  if (mine === undefined) return;
  held.delete(file);
  if (readText(file) === mine) {
    try {
      unlinkSync(file);
    } catch {
      // already gone
    }
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const file of [...held.keys()]) releaseFile(file);
  });
}

/** true: the holder runs; false: it is gone; 'elsewhere': it runs on another host (cannot tell). */
function holderState(h: LockHolder): boolean | 'elsewhere' {
  if (h.hostname !== hostname()) return 'elsewhere';
  const boot = bootId();
  if (h.bootId && boot && h.bootId !== boot) return false;
  if (h.pid === process.pid) return false; // not held by this process (see held): a pid reused after a restart
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = procStart(h.pid);
  return !(h.procStart && start && h.procStart !== start);
}

function describe(h: LockHolder): string {
  // Redacted again: a lock written by an older version holds the command line as it was given.
  const command = typeof h.command === 'string' && h.command ? `: ${redactSecrets(h.command)}` : '';
  return `process ${h.pid} on ${h.hostname} (since ${h.startedAt}${command})`;
}

/** A lock file left unreadable for this long (its writer died between creating and filling it) is stale. */
const UNREADABLE_GRACE_MS = 10_000;

/**
 * Takes `<dir>/.cifar-mlp.lock` (dir must exist). Throws a FolderLockedError (exit 2) naming the holder when a live
 * process holds it, a UsageError (exit 2) when the folder cannot be written. `log` receives the warning line when a
 * dead holder's lock is taken over.
 */
export function lockFolder(dir: string, opts: { log?: (line: string) => void; command?: string } = {}): FolderLock {
  const file = join(dir, LOCK_FILE);
  if (held.has(file)) throw new Error(`${dir}: this process already holds the folder lock`);
  const holder: LockHolder = {
    pid: process.pid,
    hostname: hostname(),
    startedAt: new Date().toISOString(),
    command: redactSecrets(opts.command ?? process.argv.slice(2).join(' ')),
    bootId: bootId(),
    procStart: procStart(process.pid),
  };
  const text = `${JSON.stringify(holder)}\n`;
  // The stale lock this process removed: said once the folder is ours (another process may take it first).
  let tookOver: string | null = null;
  for (let attempt = 0; attempt < 8; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new UsageError(`${dir}: cannot write into the folder (${errnoText(e)})`);
      const found = readText(file);
      const other = parseHolder(found);
      if (other === null) {
        let age: number;
        try {
          age = Date.now() - lstatSync(file).mtimeMs;
        } catch {
          continue; // released meanwhile
        }
        if (age < UNREADABLE_GRACE_MS) throw new FolderLockedError(`${dir}: in use by another process (its lock ${file} is being written); wait for it or choose another folder`, null);
      } else {
        const state = holderState(other);
        if (state === 'elsewhere') {
          throw new FolderLockedError(`${dir}: in use by ${describe(other)}; if that process is gone, remove ${file}`, other);
        }
        if (state) throw new FolderLockedError(`${dir}: in use by ${describe(other)}; wait for it to finish, stop it, or choose another folder`, other);
      }
      if (takeOver(file, found)) tookOver = other ? `${describe(other)}, which is no longer running` : 'an unreadable lock file';
      continue;
    }
    try {
      writeSync(fd, text);
    } catch (e) {
      closeSync(fd);
      try {
        unlinkSync(file);
      } catch {
        // nothing to remove
      }
      throw new UsageError(`${dir}: cannot write into the folder (${errnoText(e)})`);
    }
    closeSync(fd);
    if (tookOver) opts.log?.(`cifar-mlp: warning: ${dir}: taking over the lock of ${tookOver}`);
    held.set(file, text);
    installExitHook();
    return lockHandle(dir, file);
  }
  throw new FolderLockedError(`${dir}: in use by another process (the lock ${file} keeps changing); try again`, null);
}

/**
 * The live process holding `dir`, if any (a holder on another host counts as live: it cannot be told); null when the
 * folder is not locked or its lock is stale. For readers that need no lock (drawing plots) and say what they read.
 */
export function folderHolder(dir: string): LockHolder | null {
  const holder = parseHolder(readText(join(dir, LOCK_FILE)));
  return holder && holderState(holder) !== false ? holder : null;
}

/** A lock holder as messages show it: "process <pid> on <host> (since <time>: <command>)". */
export const describeHolder = (h: LockHolder): string => describe(h);

/**
 * Removes a stale lock whose text is `stale`: renamed aside first (atomic), so that a lock another process has just
 * taken in its place is put back rather than deleted. Returns whether the stale lock was removed.
 */
function takeOver(file: string, stale: string | null): boolean {
  const aside = `${file}.stale.${process.pid}`;
  try {
    renameSync(file, aside);
  } catch {
    return false;
  }
  if (readText(aside) === stale) {
    try {
      rmSync(aside, { recursive: true, force: true }); // a folder or pipe in its place is stale too
    } catch {
      // gone already
    }
    return true;
  }
  try {
    linkSync(aside, file); // someone else's fresh lock: back into place (fails if yet another appeared)
  } catch {
    // the newest lock stays
  }
  try {
    unlinkSync(aside);
  } catch {
    // gone already
  }
  return false;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function lockHandle(dir: string, file: string): FolderLock {
  // A command with no SIGINT/SIGTERM handler of its own would die without running 'exit' handlers: release and
  // exit 130 then. Commands with handlers (run, search) release on their own exit path.
  const onSignal = (sig: NodeJS.Signals) => {
    if (process.listenerCount(sig) > 1) return;
    releaseFile(file);
    process.exit(130);
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  return {
    dir,
    file,
    release() {
      for (const s of SIGNALS) process.off(s, onSignal);
      releaseFile(file);
    },
  };
}

/** Running the built CLI (`node dist/cli.js`) in tests, and what its runs leave behind. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';

export const CLI = process.env.CIFAR_MLP_CLI ?? resolve('dist/cli.js');

export interface Result { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; pid: number }

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Called with all of stderr so far on every chunk; `kill` signals the process. */
  onStderr?: (all: string, kill: (s: NodeJS.Signals) => void, child: ChildProcess) => void;
  /** SIGKILL after this long (default 90 s). */
  timeoutMs?: number;
  /** Run through `sh -c '<shellPrefix> "$0" "$@"'` (e.g. `ulimit -f 4; exec`). */
  shellPrefix?: string;
}

/** Runs `node dist/cli.js …args` and resolves with its exit code, signal and output. */
export function cli(args: string[], opts: CliOptions = {}): Promise<Result> {
  const env: Record<string, string | undefined> = { ...process.env, CIFAR10_DIR: undefined, CIFAR_MLP_DEBUG: undefined, FORCE_COLOR: '0', ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return new Promise((resolveRun, reject) => {
    const child = opts.shellPrefix
      ? spawn('sh', ['-c', `${opts.shellPrefix} "$0" "$@"`, process.execPath, CLI, ...args], { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
    child.stdout!.on('data', (d) => { stdout += d; });
    child.stderr!.on('data', (d) => {
      stderr += d;
      opts.onStderr?.(stderr, (s) => child.kill(s), child);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolveRun({ code, signal, stdout, stderr, pid: child.pid ?? 0 }); });
  });
}

/** Every file under dir with its size and mtime: "nothing written" means this does not change. */
export function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name), st = statSync(p);
      if (st.isDirectory()) { out.push(`${p}/`); walk(p); } else out.push(`${p} ${st.size} ${st.mtimeMs}`);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/** The exit code, the message, `lines` stderr lines each starting with `cifar-mlp: `, and no stack trace. */
export function expectCleanError(r: Result, code: number, message: RegExp, lines = 1, lastLine = false): void {
  const err = r.stderr.trimEnd().split('\n').slice(lastLine ? -1 : 0);
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).toMatch(message);
  expect(err, r.stderr).toHaveLength(lines);
  for (const l of err) expect(l, r.stderr).toMatch(/^cifar-mlp: \S/);
  expect(r.stderr).not.toMatch(/^\s+at |TypeError|RangeError|ReferenceError|SyntaxError: /m);
}

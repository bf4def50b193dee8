/**
 * A headless Chromium for browser tests, found in this order:
 *   1. $CIFAR_MLP_CHROMIUM (an executable path), when set;
 *   2. the Chromium inside the `@sparticuz/chromium` devDependency (Linux x64/arm64 only): unpacked once into
 *      the temporary folder, no download, needs nothing but libc;
 *   3. a system Chrome/Chromium (the usual install paths of Linux, macOS and Windows, then `chromium`,
 *      `google-chrome`… on PATH).
 * The first that launches wins. Where none does, `launchChromium` says what is missing in one line: a test then
 * skips with that line, or fails when CI=true (see `browserOrSkip`).
 */
import { accessSync, constants, mkdirSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser } from 'playwright-core';

export interface BrowserCandidate {
  /** Where it came from, for messages: "npm @sparticuz/chromium", "system /usr/bin/chromium"… */
  source: string;
  executablePath: string;
  args: string[];
}

/** Flags of every launch: headless, no sandbox (tests may run as root), nothing fetched in the background. */
export const BASE_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * @sparticuz/chromium's own flags (made for AWS Lambda) minus those that would weaken what a page test checks
 * (same-origin, mixed content) and --single-process, with which closing a browser context ends the browser.
 */
const NPM_ARGS_DROPPED = new Set(['--disable-web-security', '--allow-running-insecure-content', '--single-process']);

const SYSTEM_PATHS: Record<string, string[]> = {
  linux: ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable', '/snap/bin/chromium'],
  darwin: ['/Applications/Google Chrome.app/Contents/MacOS/Google Chrome', '/Applications/Chromium.app/Contents/MacOS/Chromium'],
  win32: [
    'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe',
    'C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe',
    `${process.env.LOCALAPPDATA ?? 'C:'}\\Google\\Chrome\\Application\\chrome.exe`,
  ],
};
const PATH_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome'];

export interface LookupEnv {
  platform: NodeJS.Platform;
  arch: string;
  env: NodeJS.ProcessEnv;
  isExecutable: (path: string) => boolean;
  /** The unpacked npm Chromium's path and flags, or null when the package is not installed. */
  npmChromium: () => Promise<{ executablePath: string; args: string[] } | null>;
}

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, process.platform === 'win32' ? constants.F_OK : constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * `@sparticuz/chromium` unpacks into <tmp>/chromium, writing the file in place: two test processes unpacking at
 * once would launch a half-written binary. A lock folder makes the first unpack and the others wait for it.
 */
async function unpackNpmChromium(): Promise<{ executablePath: string; args: string[] } | null> {
  let pkg: typeof import('@sparticuz/chromium').default;
  try {
    pkg = (await import('@sparticuz/chromium')).default;
  } catch {
    return null;
  }
  const lock = join(tmpdir(), 'cifar-mlp-chromium-unpack.lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 120_000 || Date.now() > deadline) {
        try { rmdirSync(lock); } catch { /* taken meanwhile */ }
      } else await sleep(200);
    }
  }
  try {
    const executablePath = await pkg.executablePath();
    return { executablePath, args: pkg.args };
  } finally {
    try { rmdirSync(lock); } catch { /* already gone */ }
  }
}

export const defaultLookupEnv = (): LookupEnv => ({
  platform: process.platform,
  arch: process.arch,
  env: process.env,
  isExecutable,
  npmChromium: unpackNpmChromium,
});

/** The candidates in the order they are tried, and a note per source that gave none (for the "missing" line). */
export async function chromiumCandidates(lookup: LookupEnv = defaultLookupEnv()): Promise<{ candidates: BrowserCandidate[]; notes: string[] }> {
  const candidates: BrowserCandidate[] = [];
  const notes: string[] = [];
  const explicit = lookup.env.CIFAR_MLP_CHROMIUM;
  if (explicit) {
    if (lookup.isExecutable(explicit)) candidates.push({ source: `$CIFAR_MLP_CHROMIUM ${explicit}`, executablePath: explicit, args: BASE_ARGS });
    else notes.push(`$CIFAR_MLP_CHROMIUM=${explicit} is not an executable`);
  }
  if (lookup.platform === 'linux' && (lookup.arch === 'x64' || lookup.arch === 'arm64')) {
    try {
      const npm = await lookup.npmChromium();
      if (npm) candidates.push({ source: 'npm @sparticuz/chromium', executablePath: npm.executablePath, args: [...new Set([...BASE_ARGS, ...npm.args.filter((a) => !NPM_ARGS_DROPPED.has(a))])] });
      else notes.push('the npm package @sparticuz/chromium is not installed (npm ci installs it)');
    } catch (e) {
      notes.push(`@sparticuz/chromium could not unpack its Chromium (${(e as Error).message.split('\n')[0]})`);
    }
  } else {
    notes.push(`@sparticuz/chromium has no Chromium for ${lookup.platform}-${lookup.arch} (Linux x64/arm64 only)`);
  }
  const seen = new Set(candidates.map((c) => c.executablePath));
  const pathDirs = (lookup.env.PATH ?? '').split(delimiter).filter(Boolean);
  const exe = lookup.platform === 'win32' ? '.exe' : '';
  const system = [
    ...(SYSTEM_PATHS[lookup.platform] ?? []),
    ...pathDirs.flatMap((d) => PATH_NAMES.map((n) => join(d, `${n}${exe}`))),
  ];
  let systemFound = false;
  for (const p of system) {
    if (seen.has(p) || !lookup.isExecutable(p)) continue;
    seen.add(p);
    systemFound = true;
    candidates.push({ source: `system ${p}`, executablePath: p, args: BASE_ARGS });
  }
  if (!systemFound) notes.push('no system Chrome/Chromium found');
  return { candidates, notes };
}

export type LaunchResult = { browser: Browser; source: string } | { missing: string };

/** Launches the first candidate that starts; otherwise one line saying what is missing. */
export async function launchChromium(lookup: LookupEnv = defaultLookupEnv()): Promise<LaunchResult> {
  const { candidates, notes } = await chromiumCandidates(lookup);
  const failures = [...notes];
  for (const c of candidates) {
    try {
      return { browser: await chromium.launch({ executablePath: c.executablePath, args: c.args }), source: c.source };
    } catch (e) {
      failures.push(`${c.source} did not start (${(e as Error).message.split('\n')[0]})`);
    }
  }
  return { missing: `no headless Chromium: ${failures.join('; ')}` };
}

/**
 * For a test file: the launched browser, or null after writing ONE line naming what is missing, so the caller
 * skips. Under CI=true a missing browser throws instead: CI must run the browser tests.
 */
export async function browserOrSkip(what: string, lookup: LookupEnv = defaultLookupEnv()): Promise<{ browser: Browser; source: string } | null> {
  const r = await launchChromium(lookup);
  if ('browser' in r) return r;
  if (lookup.env.CI === 'true') throw new Error(`${what}: ${r.missing} (CI=true: a missing browser is a failure)`);
  process.stderr.write(`SKIPPED ${what}: ${r.missing}\n`);
  return null;
}

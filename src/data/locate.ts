// Where is CIFAR-10? First match wins:
//   1. --data DIR            (source 'cli')
//   2. config key data.dir   (source 'config')
//   3. env CIFAR10_DIR       (source 'env')
//   4. ./data/cifar-10-batches-bin relative to cwd (source 'default')
//
// Design for a missing directory:
// - An explicitly given location (cli/config/env) that is not a directory is a
//   user error: resolveDataDir THROWS a DataDirError naming the source and the
//   path. It never falls through to a lower-priority source, and never triggers
//   a download (the user asked for that exact folder).
// - Only when nothing was given and the default is missing does it return
//   { dir: null, source: 'default' }; the caller then downloads into
//   defaultDataRoot(cwd) (= ./data) with downloadCifar10, which yields the
//   default folder.
//
// An explicit location may name the batches folder itself, or its parent (e.g.
// `--data ./data`): if DIR has no data_batch_1.bin but DIR/cifar-10-batches-bin
// is a directory, that subfolder is used. A leading `~/` is expanded. Relative
// cli/env paths resolve against cwd; a relative config path against
// configBase (the config file's folder) when given, else cwd. Empty strings
// count as "not given".
//
// Only existence is checked here; verifyCifar10Dir (download.ts) or the reader
// check the contents.

import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { CIFAR10_BATCH_FILES, CIFAR10_DIR_NAME } from './download.js';

export type DataDirSource = 'cli' | 'config' | 'env' | 'default';

export interface ResolveDataDirOptions {
  /** --data DIR */
  cliDir?: string;
  /** config data.dir */
  configDir?: string;
  /** Folder a relative configDir is relative to (the config file's folder); default cwd. */
  configBase?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface ResolvedDataDir {
  /** Absolute path of the cifar-10-batches-bin folder, or null when only the (missing) default applied. */
  dir: string | null;
  source: DataDirSource;
  /** Absolute paths examined, in order. */
  tried: string[];
}

export class DataDirError extends Error {
  readonly source: Exclude<DataDirSource, 'default'>;
  readonly path: string;
  constructor(source: Exclude<DataDirSource, 'default'>, p: string, message: string) {
    super(message);
    this.name = 'DataDirError';
    this.source = source;
    this.path = p;
  }
}

const SOURCE_LABEL: Record<Exclude<DataDirSource, 'default'>, string> = {
  cli: '--data',
  config: 'config data.dir',
  env: 'environment variable CIFAR10_DIR',
};

/** The folder downloads go to when nothing was configured: <cwd>/data. */
export function defaultDataRoot(cwd: string = process.cwd()): string {
  return path.resolve(cwd, 'data');
}

export function resolveDataDir(opts: ResolveDataDirOptions = {}): ResolvedDataDir {
  const env = opts.env ?? process.env;
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const tried: string[] = [];

  const explicit: [Exclude<DataDirSource, 'default'>, string | undefined, string][] = [
    ['cli', opts.cliDir, cwd],
    ['config', opts.configDir, opts.configBase ? path.resolve(cwd, opts.configBase) : cwd],
    ['env', env.CIFAR10_DIR, cwd],
  ];
  for (const [source, raw, base] of explicit) {
    if (raw === undefined || raw.trim() === '') continue;
    const given = path.resolve(base, expandHome(raw.trim()));
    tried.push(given);
    if (!isDir(given)) {
      throw new DataDirError(
        source,
        given,
        `CIFAR-10 folder given by ${SOURCE_LABEL[source]} does not exist or is not a directory: ${given}` +
          (given !== raw ? ` (from "${raw}")` : '') +
          `; it should contain ${CIFAR10_BATCH_FILES.join(', ')} and batches.meta.txt.`,
      );
    }
    const sub = path.join(given, CIFAR10_DIR_NAME);
    if (!isFile(path.join(given, CIFAR10_BATCH_FILES[0])) && isDir(sub)) {
      tried.push(sub);
      return { dir: sub, source, tried };
    }
    return { dir: given, source, tried };
  }

  const def = path.join(defaultDataRoot(cwd), CIFAR10_DIR_NAME);
  tried.push(def);
  return { dir: isDir(def) ? def : null, source: 'default', tried };
}

function expandHome(p: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return path.join(homedir(), p.slice(2));
  return p;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

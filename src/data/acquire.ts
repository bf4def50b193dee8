/**
 * Finds the CIFAR-10 folder (--data, config, $CIFAR10_DIR, ./data/…), downloading it when none exists.
 * `signal` (the CLI's SIGINT/SIGTERM signal) cancels the download; its temporary files are removed.
 */
import { dirname } from 'node:path';
import { UsageError } from '../util/errors.js';
import { redactUrl } from '../util/redact.js';
import type { TrainConfig } from '../config/schema.js';
import { downloadCifar10, DownloadError, type DownloadErrorCode } from './download.js';
import { progressBar } from './download-progress.js';
import { DataDirError, defaultDataRoot, resolveDataDir } from './locate.js';

export interface AcquireOptions {
  cliDir?: string;
  configPath?: string;
  data: TrainConfig['data'];
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** Draw the download's progress on stderr (default true; a library caller that logs elsewhere turns it off). */
  downloadProgress?: boolean;
}

/** A positive number from an environment variable (undefined when unset); a bad value is a UsageError naming it. */
function envNumber(name: string, env: NodeJS.ProcessEnv): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new UsageError(`environment variable ${name}: expected a positive number (got ${JSON.stringify(raw)})`);
  return v;
}

/**
 * The download's limits: CIFAR10_DOWNLOAD_DEADLINE_S (total seconds, default 3600) and CIFAR10_DOWNLOAD_MAX_MB
 * (largest archive in MiB, default 256).
 */
export function downloadLimits(env: NodeJS.ProcessEnv = process.env): { deadlineMs?: number; maxBytes?: number } {
  const deadline = envNumber('CIFAR10_DOWNLOAD_DEADLINE_S', env);
  const maxMb = envNumber('CIFAR10_DOWNLOAD_MAX_MB', env);
  return {
    ...(deadline !== undefined ? { deadlineMs: deadline * 1000 } : {}),
    ...(maxMb !== undefined ? { maxBytes: Math.floor(maxMb * 1024 ** 2) } : {}),
  };
}

/** Download errors that are about this machine's folders (bad input, exit 2), not the download itself (exit 1). */
const LOCAL_PROBLEMS = new Set<DownloadErrorCode>(['io', 'exists']);

export async function acquireDataDir(opts: AcquireOptions): Promise<string> {
  try {
    const found = resolveDataDir({ cliDir: opts.cliDir, configDir: opts.data.dir, configBase: opts.configPath ? dirname(opts.configPath) : undefined });
    if (found.dir) return found.dir;
    const dest = defaultDataRoot();
    const limits = downloadLimits();
    opts.log?.(`No CIFAR-10 folder found (looked in ${found.tried.join(', ')}); downloading ${redactUrl(opts.data.url)} into ${dest}`);
    const progress = opts.downloadProgress === false ? Object.assign(() => {}, { stop() {} }) : progressBar();
    try {
      return await downloadCifar10({ url: opts.data.url, md5: opts.data.md5, destDir: dest, onProgress: progress, signal: opts.signal, ...limits });
    } finally {
      progress.stop();
    }
  } catch (e) {
    // A download cancelled by SIGINT/SIGTERM (opts.signal) exits like an interrupted run: 130.
    if (e instanceof DownloadError && e.code === 'aborted') throw new UsageError(e.message, 130);
    // A download that failed (network, server, archive) is a failure, exit 1; a folder that cannot be made is bad input.
    if (e instanceof DownloadError) throw new UsageError(e.message.replace(/[\r\n]+/g, ' '), LOCAL_PROBLEMS.has(e.code) ? 2 : 1);
    if (e instanceof DataDirError) throw new UsageError(e.message.replace(/[\r\n]+/g, ' '));
    throw e;
  }
}

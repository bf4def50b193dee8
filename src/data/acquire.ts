/**
 * Finds the CIFAR-10 folder (--data, config, $CIFAR10_DIR, ./data/…), downloading it when none exists.
 * `signal` (the CLI's SIGINT/SIGTERM signal) cancels the download; its temporary files are removed.
 */
import { dirname } from 'node:path';
import { UsageError } from '../config/errors.js';
import type { TrainConfig } from '../config/schema.js';
import { downloadCifar10, DownloadError } from './download.js';
import { progressBar } from './download-progress.js';
import { DataDirError, defaultDataRoot, resolveDataDir } from './locate.js';

export interface AcquireOptions {
  cliDir?: string;
  configPath?: string;
  data: TrainConfig['data'];
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export async function acquireDataDir(opts: AcquireOptions): Promise<string> {
  try {
    const found = resolveDataDir({ cliDir: opts.cliDir, configDir: opts.data.dir, configBase: opts.configPath ? dirname(opts.configPath) : undefined });
    if (found.dir) return found.dir;
    const dest = defaultDataRoot();
    opts.log?.(`No CIFAR-10 folder found (looked in ${found.tried.join(', ')}); downloading ${opts.data.url} into ${dest}`);
    const progress = progressBar();
    try {
      return await downloadCifar10({ url: opts.data.url, md5: opts.data.md5, destDir: dest, onProgress: progress, signal: opts.signal });
    } finally {
      progress.stop();
    }
  } catch (e) {
    // A download cancelled by SIGINT/SIGTERM (opts.signal) exits like an interrupted run: 130.
    if (e instanceof DownloadError && e.code === 'aborted') throw new UsageError(e.message, 130);
    if (e instanceof DataDirError || e instanceof DownloadError) throw new UsageError(e.message.replace(/[\r\n]+/g, ' '));
    throw e;
  }
}

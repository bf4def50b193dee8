/**
 * The file watcher (chokidar) over the dashboard's roots: a write to one of the files a run or search folder is
 * shown from (formats/folder-kind.ts WATCHED_FILES) makes the catalog read that folder again, at most once per
 * `settleMs` per folder and never two reads of one folder at once. Only watches: no file is opened for writing.
 * A finished trial's folder is not watched (a search of 10,000 trials would otherwise take 10,000 watches).
 */
import { basename, dirname } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { WATCHED_FILES } from '../formats/folder-kind.js';
import type { Catalog } from './catalog.js';

/** A read of a folder this long after the last change seen in it. */
const TRAILING_READ_MS = 120;

export interface WatcherOptions {
  /** Coalesces the writes of one folder that come this close together (ms, default 20). */
  settleMs?: number;
  log?: (line: string) => void;
}

export class FolderWatcher {
  private readonly watcher: FSWatcher;
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly trailing = new Map<string, NodeJS.Timeout>();
  /** Files changed since a folder's last read, and since its last trailing read. */
  private readonly files = new Map<string, Set<string>>();
  private readonly burst = new Map<string, Set<string>>();
  private readonly reading = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private warned = false;

  constructor(private readonly catalog: Catalog, dirs: string[], private readonly opts: WatcherOptions = {}) {
    const roots = new Set(dirs);
    this.watcher = watch(dirs, {
      ignoreInitial: true,
      followSymlinks: false,
      depth: 12,
      ignored: (path, stats) => {
        const name = basename(path);
        if (stats?.isFile()) return !WATCHED_FILES.has(name);
        if (roots.has(path)) return false;
        if (name.startsWith('.') || name === 'node_modules') return true;
        return stats?.isDirectory() === true && catalog.isFinishedTrialFolder(path);
      },
    });
    const onFile = (path: string) => this.touch(dirname(path), basename(path));
    this.watcher.on('add', onFile).on('change', onFile);
    this.watcher.on('error', (e) => {
      if (this.warned) return;
      this.warned = true;
      this.opts.log?.(`dashboard: file watcher: ${(e as Error).message} (some folders may not update live)`);
    });
  }

  /** Resolves once the watcher has set up its watches. */
  ready(): Promise<void> {
    return new Promise((resolve) => this.watcher.once('ready', () => resolve()));
  }

  private touch(dir: string, file: string): void {
    const add = (m: Map<string, Set<string>>, files: Iterable<string>) => m.set(dir, new Set([...(m.get(dir) ?? []), ...files]));
    add(this.files, [file]);
    add(this.burst, [file]);
    // chokidar drops a change that follows another within 50 ms (no trailing event): one more read of the files of
    // a burst after it catches the row written last.
    clearTimeout(this.trailing.get(dir));
    this.trailing.set(dir, setTimeout(() => {
      this.trailing.delete(dir);
      add(this.files, this.burst.get(dir) ?? []);
      this.burst.delete(dir);
      void this.read(dir);
    }, TRAILING_READ_MS));
    if (this.pending.has(dir)) return;
    this.pending.set(dir, setTimeout(() => {
      this.pending.delete(dir);
      void this.read(dir);
    }, this.opts.settleMs ?? 20));
  }

  private async read(dir: string): Promise<void> {
    if (this.reading.has(dir)) {
      this.again.add(dir);
      return;
    }
    const files = this.files.get(dir) ?? new Set<string>();
    this.files.delete(dir);
    const p = this.catalog.refresh(dir, { files }).catch((e) => this.opts.log?.(`dashboard: ${dir}: ${(e as Error).message}`));
    this.reading.set(dir, p);
    await p;
    this.reading.delete(dir);
    if (this.again.delete(dir)) await this.read(dir);
  }

  async close(): Promise<void> {
    for (const t of [...this.pending.values(), ...this.trailing.values()]) clearTimeout(t);
    this.pending.clear();
    this.trailing.clear();
    await this.watcher.close();
  }
}

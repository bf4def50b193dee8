/**
 * The lifecycle of an output folder, owned once for every kind of run (a single network, an ensemble, a search, a
 * learning-rate range test, a gradient check): everything that can reject the input is checked first (`--out`, then
 * the strategy's `prepare`: config, data, resume state, backend), so that bad input writes nothing; then the folder is
 * claimed and locked for this process, the strategy runs in it and draws its artifacts, and whatever happens the
 * lock and what `prepare` acquired are released.
 */
import { checkOutDir, prepareOutDir, type OutDir } from '../util/out-dir.js';
import type { FolderRunOptions } from './options.js';

export interface FolderStrategy<Prepared, Result> {
  /** The config's name: the default folder is runs/<name>. */
  readonly name: string;
  /** Everything that can reject the input, before anything is written. */
  prepare(): Promise<Prepared>;
  /** Claims and locks the folder (default: `--out`, or runs/<name>; a non-empty one only with --force or --resume). */
  claim?(prepared: Prepared): OutDir;
  /** The run, in the claimed folder. */
  run(prepared: Prepared, dir: string): Promise<Result>;
  /** Plots and report of the folder (a failure is a warning: it never loses the results). */
  render?(dir: string, result: Result): Promise<void>;
  /** Releases what `prepare` acquired (a kernel backend); called once, whatever happened. */
  release?(prepared: Prepared): Promise<void> | void;
}

export interface FolderResult<Result> {
  result: Result;
  outDir: string;
}

/**
 * Runs `strategy` in its output folder. Resolves with its result and folder, or with null when the signal was aborted
 * before anything was written. Rejects with a UsageError on bad input (nothing written) or another error.
 */
export async function runInFolder<P, R>(strategy: FolderStrategy<P, R>, opts: FolderRunOptions): Promise<FolderResult<R> | null> {
  if (opts.out !== undefined) checkOutDir(opts.out, opts); // before a download or the data are read
  const prepared = await strategy.prepare();
  let out: OutDir | null = null;
  try {
    if (opts.signal.aborted) return null;
    out = strategy.claim ? strategy.claim(prepared) : prepareOutDir(strategy.name, opts.out, opts);
    const result = await strategy.run(prepared, out.dir);
    await strategy.render?.(out.dir, result);
    return { result, outDir: out.dir };
  } finally {
    await strategy.release?.(prepared);
    out?.lock.release();
  }
}

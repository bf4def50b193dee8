/**
 * The trial list of a search: the l = log10(lambda) values (seeded random or a grid over a range that
 * is explicit or taken from a finished search), and the pool sizing (workers, kernel threads per trial).
 */
import { existsSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { UsageError } from '../config/errors.js';
import type { SearchConfig } from '../config/schema.js';
import { parseJsonBounded } from '../util/bounded-json.js';
import { readRegularText } from '../util/read-file.js';
import { deriveSeed, Rng } from '../util/rng.js';

/** Largest summary.json read (a search of 10,000 trials writes about 10 MB). */
const MAX_SUMMARY_BYTES = 64 * 2 ** 20;

export interface Range {
  lMin: number;
  lMax: number;
  /** How the range was chosen, e.g. "config" or "top 3 of runs/search-coarse (l -3.10..-2.45) ± 0.25". */
  source: string;
}

export interface PlannedTrial {
  trial: number;
  /** l rounded to 6 decimals (what trials.csv shows), lambda = 10^l exactly from that. */
  l: number;
  lambda: number;
}

/** Digits of the trial folder names (trials/01 … trials/08; at least 2). */
export const trialId = (trial: number, total: number) => String(trial).padStart(Math.max(2, String(total).length), '0');

const round6 = (v: number) => Math.round(v * 1e6) / 1e6;

/** The l values of a search: same seed, range and count → same values (the draw depends on nothing else). */
export function sampleLs(range: { lMin: number; lMax: number }, trials: number, sampling: 'random' | 'grid', seed: number): number[] {
  const { lMin, lMax } = range;
  if (sampling === 'grid') {
    if (trials === 1) return [round6((lMin + lMax) / 2)];
    return Array.from({ length: trials }, (_, i) => round6(lMin + ((lMax - lMin) * i) / (trials - 1)));
  }
  const rng = new Rng(deriveSeed(seed, 'search-l'));
  return Array.from({ length: trials }, () => round6(lMin + (lMax - lMin) * rng.uniform()));
}

export function planTrials(ls: number[]): PlannedTrial[] {
  return ls.map((l, i) => ({ trial: i + 1, l, lambda: 10 ** l }));
}

/** A finished search's ranking (what the range of a fine search is taken from). */
interface RankedEntry {
  l: number;
  val_acc: number;
}

function readRanking(dir: string): { ranking: RankedEntry[]; status: string } {
  const path = join(dir, 'summary.json');
  if (!existsSync(path)) throw new UsageError(`space.from.dir: ${dir}: no summary.json there (not a finished search folder?)`);
  let text: string;
  try {
    text = readRegularText(path, { maxBytes: MAX_SUMMARY_BYTES, expected: 'a search summary.json' });
  } catch (e) {
    throw new UsageError(`space.from.dir: ${(e as Error).message}`);
  }
  let s: { ranking?: unknown; status?: unknown };
  try {
    s = parseJsonBounded(text) as typeof s;
  } catch (e) {
    throw new UsageError(`space.from.dir: ${path}: not valid JSON (${(e as Error).message})`);
  }
  if (s === null || typeof s !== 'object') throw new UsageError(`space.from.dir: ${path}: not a search summary (not a JSON object)`);
  if (!Array.isArray(s.ranking)) throw new UsageError(`space.from.dir: ${path}: no ranking (is it a search summary?)`);
  const ranking = s.ranking.filter(
    (r): r is RankedEntry => typeof r === 'object' && r !== null && Number.isFinite((r as RankedEntry).l) && Number.isFinite((r as RankedEntry).val_acc),
  );
  return { ranking, status: typeof s.status === 'string' ? s.status : 'unknown' };
}

/** The range of l a search covers: explicit, or around the top k of a finished search (clipped to explicit bounds). */
export function resolveRange(config: SearchConfig, log?: (line: string) => void): Range {
  const { lMin, lMax, from } = config.space;
  if (!from) return { lMin: lMin!, lMax: lMax!, source: 'config' };
  const { ranking, status } = readRanking(from.dir);
  if (ranking.length === 0) throw new UsageError(`space.from.dir: ${from.dir}: that search has no completed trial to take a range from`);
  if (status !== 'completed') log?.(`cifar-mlp: warning: space.from.dir: ${from.dir}: that search is ${status}; using the trials it finished`);
  const top = [...ranking].sort((a, b) => b.val_acc - a.val_acc).slice(0, from.topK);
  if (top.length < from.topK) log?.(`cifar-mlp: warning: space.from.topK: ${from.dir} has only ${top.length} completed trial(s)`);
  const lo = Math.min(...top.map((t) => t.l)), hi = Math.max(...top.map((t) => t.l));
  let a = lo - from.margin, b = hi + from.margin;
  if (lMin !== undefined) a = Math.max(a, lMin);
  if (lMax !== undefined) b = Math.min(b, lMax);
  if (!(a < b)) {
    throw new UsageError(`space: the range from ${from.dir} (l ${(lo - from.margin).toFixed(3)}..${(hi + from.margin).toFixed(3)}) does not overlap [lMin, lMax]; widen from.margin or the bounds`);
  }
  return {
    lMin: round6(a),
    lMax: round6(b),
    source: `top ${top.length} of ${resolve(from.dir)} (l ${lo.toFixed(3)}..${hi.toFixed(3)}) ± ${from.margin}` + (lMin !== undefined || lMax !== undefined ? ' clipped to the config bounds' : ''),
  };
}

export interface PoolSize {
  /** Trials at once. */
  workers: number;
  /** Kernel threads per trial. */
  threadsPerTrial: number;
}

/**
 * Workers: the config's `workers` (0 = cores), never more than the trials to run.
 * Kernel threads per trial: base.kernels.threads when set, else max(1, floor(cores / workers)),
 * so that workers × threads stays within the cores.
 */
export function poolSize(opts: { workers: number; kernelThreads: number; pending: number; cores?: number }): PoolSize {
  const cores = Math.max(1, opts.cores ?? availableParallelism());
  const wanted = opts.workers > 0 ? opts.workers : cores;
  const workers = Math.max(1, Math.min(wanted, opts.pending));
  const threadsPerTrial = opts.kernelThreads > 0 ? opts.kernelThreads : Math.max(1, Math.floor(cores / workers));
  return { workers, threadsPerTrial };
}

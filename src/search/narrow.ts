/**
 * `space.from`: a search's space narrowed around the best k trials of a finished search. A numeric parameter gets
 * [min of their values − margin, max + margin] in its sampling scale (log10 units for log-scaled parameters,
 * a fraction of the configured range for linear ones), clipped to its configured bounds; a choice keeps the values
 * those k trials used. A parameter the finished search did not vary keeps its configured range.
 *
 * The finished search's summary.json ranking is read; a ranking of the lambda-only searches of earlier versions
 * (entries with l = log10 lambda) counts as values of base.train.lambda.
 */
import { join, resolve } from 'node:path';
import { SUMMARY_FILE } from '../formats/run-summary.js';
import { readSummaryJson } from '../formats/search-summary.js';
import { UsageError } from '../util/errors.js';
import { choiceIndex, LAMBDA_PATH, type ParamSpec, type SearchSpace } from '../config/search-schema.js';
import { pow10 } from '../util/pow10.js';
import { isLogScale, round6, scaleOf, shortName } from './space.js';
import type { TrialParams } from '../config/search-schema.js';

export interface ResolvedSpace {
  params: Record<string, ParamSpec>;
  /** How the ranges were chosen: "config", or the finished search and the k trials they come from. */
  source: string;
}

interface RankedEntry {
  params: TrialParams;
  val_acc: number;
}

function readRanking(dir: string): { ranking: RankedEntry[]; status: string } {
  const s = readSummaryJson(dir, 'space.from.dir: ') as { ranking?: unknown; status?: unknown } | null;
  const path = join(dir, SUMMARY_FILE);
  if (s === null || typeof s !== 'object') throw new UsageError(`space.from.dir: ${path}: not a search summary (not a JSON object)`);
  if (!Array.isArray(s.ranking)) throw new UsageError(`space.from.dir: ${path}: no ranking (is it a search summary?)`);
  const ranking: RankedEntry[] = [];
  for (const r of s.ranking as Array<Record<string, unknown>>) {
    if (typeof r !== 'object' || r === null || !Number.isFinite(r.val_acc)) continue;
    if (typeof r.params === 'object' && r.params !== null) ranking.push({ params: r.params as TrialParams, val_acc: r.val_acc as number });
    else if (Number.isFinite(r.l)) ranking.push({ params: { [LAMBDA_PATH]: 10 ** (r.l as number) }, val_acc: r.val_acc as number });
  }
  return { ranking, status: typeof s.status === 'string' ? s.status : 'unknown' };
}

function narrowOne(path: string, p: ParamSpec, values: TrialParams[string][], margin: number, linearMargin: number, dir: string): ParamSpec {
  if (p.dist === 'choice') {
    const kept = p.values.filter((v) => values.some((x) => choiceIndex([v], x) === 0));
    return kept.length ? { ...p, values: kept } : p;
  }
  const nums = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v) && (!isLogScale(p) || v > 0));
  if (nums.length === 0) return p;
  const ts = nums.map((v) => scaleOf(p, v));
  const lo = Math.min(...ts), hi = Math.max(...ts);
  const log = isLogScale(p);
  const width = log ? margin : linearMargin * (p.max - p.min);
  const [cMin, cMax] = log ? [scaleOf(p, p.min), scaleOf(p, p.max)] : [p.min, p.max];
  const a = Math.max(lo - width, cMin), b = Math.min(hi + width, cMax);
  const overlapError = () => new UsageError(
    `space.params.${path}: the range from ${dir} (${(lo - width).toPrecision(4)}..${(hi + width).toPrecision(4)}${log ? ' in log10' : ''}) ` +
    `does not overlap the configured [${p.min}, ${p.max}]; widen from.${log ? 'margin' : 'linearMargin'} or the bounds`);
  if (!(a < b)) throw overlapError();
  switch (p.dist) {
    case 'log-uniform':
      return { ...p, min: pow10(round6(a)), max: pow10(round6(b)) };
    case 'uniform':
      return { ...p, min: a, max: b };
    case 'int': {
      const min = Math.max(p.min, Math.floor(log ? 10 ** a : a)), max = Math.min(p.max, Math.ceil(log ? 10 ** b : b));
      if (!(min < max)) throw overlapError();
      return { ...p, min, max };
    }
  }
}

/** The parameters a search samples: as configured, or narrowed from a finished search (`space.from`). */
export function resolveSpace(space: SearchSpace, log?: (line: string) => void): ResolvedSpace {
  const { from } = space;
  if (!from) return { params: space.params, source: 'config' };
  const { ranking, status } = readRanking(from.dir);
  if (ranking.length === 0) throw new UsageError(`space.from.dir: ${from.dir}: that search has no completed trial to take a range from`);
  if (status !== 'completed') log?.(`cifar-mlp: warning: space.from.dir: ${from.dir}: that search is ${status}; using the trials it finished`);
  const top = [...ranking].sort((a, b) => b.val_acc - a.val_acc).slice(0, from.topK);
  if (top.length < from.topK) log?.(`cifar-mlp: warning: space.from.topK: ${from.dir} has only ${top.length} completed trial(s)`);
  const params: Record<string, ParamSpec> = {};
  const notes: string[] = [];
  for (const [path, p] of Object.entries(space.params)) {
    const values = top.map((t) => t.params[path]).filter((v) => v !== undefined);
    params[path] = narrowOne(path, p, values, from.margin, from.linearMargin, from.dir);
    if (values.length === 0) notes.push(`${shortName(path)} not searched there: configured range`);
  }
  return {
    params,
    source: `top ${top.length} of ${resolve(from.dir)} ± margin ${from.margin} (log10) / ${from.linearMargin} (linear), clipped to the configured bounds` +
      (notes.length ? `; ${notes.join('; ')}` : ''),
  };
}

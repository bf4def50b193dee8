/**
 * Samplers: which parameter values each trial of a search gets.
 *
 *   random  every parameter drawn from its distribution, trial after trial, from one seeded stream
 *   grid    every combination of a few values per parameter (the first parameter varies slowest)
 *   tpe     the first `tpe.startup` trials as random draws them, then each trial proposed by a tree-structured
 *           Parzen estimator from the trials finished when it starts (tpe.ts)
 *
 * Random and grid lists depend on the config alone. A TPE proposal depends on which trials have finished when it
 * is made: with one worker that is always the same, with several it depends on their timing (as in every
 * asynchronous model-based search); the search records each proposal in plan.json, so a resumed search keeps them.
 */
import type { ParamSpec, SearchSpace, SamplerName } from '../config/search-schema.js';
import { deriveSeed, Rng } from '../util/rng.js';
import { gridValues, valueAt } from './space.js';
import type { TrialParams } from '../config/search-schema.js';
import { tpeSuggest, type Observation } from './tpe.js';

export type { Observation };

export interface Sampler {
  readonly name: SamplerName;
  /** Trials of the search. */
  readonly total: number;
  /** The trials known before any result: all of them (random, grid) or the startup trials (tpe). */
  initial(): TrialParams[];
  /**
   * The values of trial `trial` (1-based, after the initial ones) from the finished trials so far; `attempt` > 0 asks
   * for another proposal after one the training schema rejected.
   */
  next(trial: number, history: Observation[], attempt: number): TrialParams;
}

/**
 * The random draws: trial after trial, one uniform number per parameter in the order of space.params, from the
 * stream of `seed`. (The stream's name predates spaces of several parameters: a lambda-only search draws the l values
 * it always drew.)
 */
export function randomTrials(params: Record<string, ParamSpec>, count: number, seed: number): TrialParams[] {
  const rng = new Rng(deriveSeed(seed, 'search-l'));
  const paths = Object.keys(params);
  return Array.from({ length: count }, () => Object.fromEntries(paths.map((path) => [path, valueAt(params[path], rng.uniform())])));
}

/** Grid values per parameter: `points` each, else `trials` for a lone numeric parameter, else floor(trials^(1/numeric)) ≥ 1. */
export function gridAxes(params: Record<string, ParamSpec>, trials: number): Array<[string, ReturnType<typeof gridValues>]> {
  const entries = Object.entries(params);
  const numeric = entries.filter(([, p]) => p.dist !== 'choice').length;
  const choices = entries.reduce((n, [, p]) => (p.dist === 'choice' ? n * p.values.length : n), 1);
  const lone = numeric === 1 && choices === 1;
  const perNumeric = lone ? trials : Math.max(1, Math.floor((trials / choices) ** (1 / Math.max(1, numeric)) + 1e-9));
  return entries.map(([path, p]) => [path, gridValues(p, p.dist === 'choice' ? 0 : (p.points ?? perNumeric))]);
}

export function gridTrials(params: Record<string, ParamSpec>, trials: number): TrialParams[] {
  let out: TrialParams[] = [{}];
  for (const [path, values] of gridAxes(params, trials)) out = out.flatMap((t) => values.map((v) => ({ ...t, [path]: v })));
  return out;
}

export function makeSampler(space: SearchSpace, trials: number, seed: number): Sampler {
  const { params } = space;
  switch (space.sampler) {
    case 'grid': {
      const list = gridTrials(params, trials);
      return {
        name: 'grid', total: list.length, initial: () => list,
        next: () => { throw new Error('grid: every trial is planned up front'); },
      };
    }
    case 'random': {
      const list = randomTrials(params, trials, seed);
      return {
        name: 'random', total: trials, initial: () => list,
        next: () => { throw new Error('random: every trial is planned up front'); },
      };
    }
    case 'tpe': {
      const startup = Math.min(trials, space.tpe.startup);
      return {
        name: 'tpe', total: trials,
        initial: () => randomTrials(params, startup, seed),
        next: (trial, history, attempt) => tpeSuggest(params, history, space.tpe, new Rng(deriveSeed(seed, `tpe-${trial}-${attempt}`))),
      };
    }
  }
}

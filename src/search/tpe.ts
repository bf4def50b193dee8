/**
 * The tree-structured Parzen estimator (Bergstra et al., "Algorithms for hyper-parameter optimization", NeurIPS 2011),
 * as hyperopt implements it, for a flat space of independent parameters:
 *
 *   1. rank the finished trials (completed above pruned, a pruned one the higher the further it got, then by
 *      validation accuracy; diverged last) and split them into the best ceil(gamma·n) ("good") and the rest ("bad");
 *   2. per parameter, model each group's values with a Parzen estimator on the parameter's [0, 1] coordinate: a
 *      mixture of Gaussians truncated to [0, 1], one at each value (width: the larger gap to its neighbours, clipped
 *      to [1/min(100, n + 1), 1]) plus a wide prior N(0.5, 1); a choice by its value counts plus one;
 *   3. draw `candidates` points from the good model and run the one with the largest l(x)/g(x), the densities of
 *      the good and the bad model (summed in log over the parameters).
 */
import { choiceIndex, type ParamSpec } from '../config/search-schema.js';
import type { Rng } from '../util/rng.js';
import { coordOf, valueAt } from './space.js';
import type { TrialParams } from '../config/search-schema.js';

/** A finished trial as the sampler sees it. */
export interface Observation {
  values: TrialParams;
  /** How far it got: 1 completed, steps / total steps when pruned, -1 diverged. */
  level: number;
  /** Validation accuracy at the end (or at the rung it was pruned at); NaN when none. */
  accuracy: number;
}

export interface TpeOptions {
  startup: number;
  candidates: number;
  gamma: number;
}

const PRIOR_MU = 0.5;
const PRIOR_SIGMA = 1;
const PRIOR_WEIGHT = 1;

/** Best first: further along first, then higher accuracy. */
export function rankObservations(obs: Observation[]): Observation[] {
  const acc = (o: Observation) => (Number.isFinite(o.accuracy) ? o.accuracy : -Infinity);
  return [...obs].sort((a, b) => b.level - a.level || acc(b) - acc(a));
}

// ---------------------------------------------------------------------------------------------------------
// Normal distribution

/** erfc with relative error below 1.2e-7 everywhere (Numerical Recipes' Chebyshev fit). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** Standard normal cumulative distribution. */
export const normalCdf = (x: number) => 0.5 * erfc(-x / Math.SQRT2);

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

// ---------------------------------------------------------------------------------------------------------
// Parzen estimators

/** A mixture of Gaussians truncated to [0, 1]. */
export class ParzenEstimator {
  readonly mus: number[];
  readonly sigmas: number[];
  readonly weights: number[];
  private readonly logMass: number[];

  constructor(points: number[]) {
    const mus = [...points, PRIOR_MU];
    const weights = [...points.map(() => 1), PRIOR_WEIGHT];
    const order = mus.map((_, i) => i).sort((a, b) => mus[a] - mus[b] || a - b);
    const sorted = order.map((i) => mus[i]);
    const sigmas = new Array<number>(mus.length).fill(PRIOR_SIGMA);
    if (sorted.length > 1) {
      const minSigma = PRIOR_SIGMA / Math.min(100, 1 + sorted.length);
      order.forEach((i, k) => {
        const left = k > 0 ? sorted[k] - sorted[k - 1] : sorted[k + 1] - sorted[k];
        const right = k < sorted.length - 1 ? sorted[k + 1] - sorted[k] : sorted[k] - sorted[k - 1];
        sigmas[i] = Math.min(PRIOR_SIGMA, Math.max(minSigma, left, right));
      });
      sigmas[mus.length - 1] = PRIOR_SIGMA; // the prior stays wide
    }
    const total = weights.reduce((a, b) => a + b, 0);
    this.mus = mus;
    this.sigmas = sigmas;
    this.weights = weights.map((w) => w / total);
    // Each component's probability mass inside [0, 1] (it is renormalised to 1 there).
    this.logMass = mus.map((m, i) => Math.log(Math.max(1e-300, normalCdf((1 - m) / sigmas[i]) - normalCdf((0 - m) / sigmas[i]))));
  }

  /** log density at x ∈ [0, 1]. */
  logPdf(x: number): number {
    let max = -Infinity;
    const terms = this.mus.map((m, i) => {
      const z = (x - m) / this.sigmas[i];
      const t = Math.log(this.weights[i]) - 0.5 * z * z - LOG_SQRT_2PI - Math.log(this.sigmas[i]) - this.logMass[i];
      if (t > max) max = t;
      return t;
    });
    return max + Math.log(terms.reduce((s, t) => s + Math.exp(t - max), 0));
  }

  sample(rng: Rng): number {
    let u = rng.uniform(), i = 0;
    while (i < this.weights.length - 1 && u >= this.weights[i]) u -= this.weights[i++];
    for (let tries = 0; tries < 1000; tries++) {
      const x = this.mus[i] + this.sigmas[i] * rng.normal();
      if (x >= 0 && x <= 1) return x;
    }
    return Math.min(1, Math.max(0, this.mus[i]));
  }
}

/** A choice's value probabilities: counts plus one (the prior), normalised. */
export class CategoricalEstimator {
  readonly probabilities: number[];

  constructor(indices: number[], size: number) {
    const counts = new Array<number>(size).fill(PRIOR_WEIGHT);
    for (const i of indices) counts[i]++;
    const total = counts.reduce((a, b) => a + b, 0);
    this.probabilities = counts.map((c) => c / total);
  }

  logPmf(i: number): number {
    return Math.log(this.probabilities[i]);
  }

  sample(rng: Rng): number {
    let u = rng.uniform();
    for (let i = 0; i < this.probabilities.length - 1; i++) {
      if (u < this.probabilities[i]) return i;
      u -= this.probabilities[i];
    }
    return this.probabilities.length - 1;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Proposals

const indexOfChoice = (p: Extract<ParamSpec, { dist: 'choice' }>, v: unknown) => Math.max(0, choiceIndex(p.values, v));

/** The next trial's values: random while fewer than two trials have finished, else the TPE proposal. */
export function tpeSuggest(params: Record<string, ParamSpec>, history: Observation[], opts: Pick<TpeOptions, 'candidates' | 'gamma'>, rng: Rng): TrialParams {
  const paths = Object.keys(params);
  const usable = history.filter((o) => paths.every((p) => o.values[p] !== undefined));
  if (usable.length < 2) return Object.fromEntries(paths.map((p) => [p, valueAt(params[p], rng.uniform())]));
  const ranked = rankObservations(usable);
  const nGood = Math.min(ranked.length - 1, Math.max(1, Math.ceil(opts.gamma * ranked.length)));
  const good = ranked.slice(0, nGood), bad = ranked.slice(nGood);

  const models = paths.map((path) => {
    const p = params[path];
    if (p.dist === 'choice') {
      const l = new CategoricalEstimator(good.map((o) => indexOfChoice(p, o.values[path])), p.values.length);
      const g = new CategoricalEstimator(bad.map((o) => indexOfChoice(p, o.values[path])), p.values.length);
      return {
        draw: () => { const i = l.sample(rng); return { coord: (i + 0.5) / p.values.length, score: l.logPmf(i) - g.logPmf(i) }; },
      };
    }
    const l = new ParzenEstimator(good.map((o) => coordOf(p, o.values[path])));
    const g = new ParzenEstimator(bad.map((o) => coordOf(p, o.values[path])));
    return { draw: () => { const x = l.sample(rng); return { coord: x, score: l.logPdf(x) - g.logPdf(x) }; } };
  });

  let best: number[] | null = null, bestScore = -Infinity;
  for (let c = 0; c < Math.max(1, opts.candidates); c++) {
    const draws = models.map((m) => m.draw());
    const score = draws.reduce((s, d) => s + d.score, 0);
    if (best === null || score > bestScore) {
      best = draws.map((d) => d.coord);
      bestScore = score;
    }
  }
  return Object.fromEntries(paths.map((path, i) => [path, valueAt(params[path], best![i])]));
}

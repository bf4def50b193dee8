// Samplers: random and grid lists, the coordinate mapping of each distribution, the TPE's Parzen estimators against
// independent references (quadrature, finite differences), and TPE against random search on functions with a known
// optimum.
import { describe, expect, it } from 'vitest';
import { searchSchema, type ParamSpec, type SearchSpace } from '../src/config/search-schema.js';
import { gridTrials, makeSampler, randomTrials } from '../src/search/samplers.js';
import { coordOf, gridValues, valueAt } from '../src/search/space.js';
import type { TrialParams } from '../src/config/search-schema.js';
import { CategoricalEstimator, normalCdf, ParzenEstimator, rankObservations, tpeSuggest, type Observation } from '../src/search/tpe.js';
import { Rng } from '../src/util/rng.js';

const LAMBDA: ParamSpec = { dist: 'log-uniform', min: 1e-6, max: 1 };
const HIDDEN: ParamSpec = { dist: 'int', min: 8, max: 512, log: true };
const BATCH: ParamSpec = { dist: 'choice', values: [25, 50, 100, 200] };
const ETA: ParamSpec = { dist: 'uniform', min: 0.02, max: 0.2 };
const NS: ParamSpec = { dist: 'int', min: 100, max: 1000, log: false };

function space(params: Record<string, ParamSpec>, sampler: SearchSpace['sampler'] = 'random', tpe: Partial<SearchSpace['tpe']> = {}): SearchSpace {
  return { sampler, params, tpe: { startup: 8, candidates: 24, gamma: 0.25, ...tpe } };
}

describe('distributions', () => {
  it('maps [0, 1] onto each distribution and back', () => {
    for (const u of [0, 0.1, 0.25, 0.5, 0.77, 0.999]) {
      const l = valueAt(LAMBDA, u) as number;
      expect(Math.log10(l)).toBeCloseTo(-6 + 6 * u, 5);
      expect(coordOf(LAMBDA, l)).toBeCloseTo(u, 5);
      const e = valueAt(ETA, u) as number;
      expect(e).toBeCloseTo(0.02 + 0.18 * u, 5);
      expect(coordOf(ETA, e)).toBeCloseTo(u, 4);
    }
    // every integer of an int range gets an equal share of [0, 1) (linear) and of its log (log)
    const counts = new Map<number, number>();
    for (let i = 0; i < 9010; i++) {
      const v = valueAt({ dist: 'int', min: 1, max: 10, log: false }, (i + 0.5) / 9010) as number;
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const c of counts.values()) expect(c).toBe(901);
    expect(valueAt(HIDDEN, 0)).toBe(8);
    expect(valueAt(HIDDEN, 1)).toBe(512);
    expect(valueAt(HIDDEN, 0.5)).toBe(Math.round(Math.sqrt(7.5 * 512.5))); // the geometric middle of [min − 0.5, max + 0.5]
    expect(BATCH.dist === 'choice' && BATCH.values.map((_, i) => valueAt(BATCH, (i + 0.5) / 4))).toEqual([25, 50, 100, 200]);
    expect(coordOf(BATCH, 100)).toBe(0.625);
  });

  it('spaces grid values evenly in the parameter\'s scale, ends included, integers without repeats', () => {
    expect((gridValues(LAMBDA, 4) as number[]).map(Math.log10).map((v) => Math.round(v * 1e9) / 1e9)).toEqual([-6, -4, -2, 0]);
    expect(gridValues(ETA, 3)).toEqual([0.02, 0.11, 0.2]);
    expect(gridValues(HIDDEN, 4)).toEqual([8, 32, 128, 512]);
    expect(gridValues({ dist: 'int', min: 1, max: 3, log: false }, 7)).toEqual([1, 2, 3]);
    expect(gridValues(BATCH, 0)).toEqual([25, 50, 100, 200]);
  });
});

describe('random and grid samplers', () => {
  const params = { 'base.train.lambda': LAMBDA, 'base.model.hidden': HIDDEN, 'base.train.batchSize': BATCH, 'base.schedule.etaMax': ETA };

  it('random: the same seed gives the same trials, another seed others; every value in its range', () => {
    const a = randomTrials(params, 50, 7);
    expect(randomTrials(params, 50, 7)).toEqual(a);
    expect(randomTrials(params, 50, 8)).not.toEqual(a);
    // the first trials do not depend on how many are drawn
    expect(randomTrials(params, 10, 7)).toEqual(a.slice(0, 10));
    for (const t of a) {
      const l = t['base.train.lambda'] as number, m = t['base.model.hidden'] as number, e = t['base.schedule.etaMax'] as number;
      expect(l >= 1e-6 && l <= 1).toBe(true);
      expect(Number.isInteger(m) && m >= 8 && m <= 512).toBe(true);
      expect(e >= 0.02 && e <= 0.2).toBe(true);
      expect([25, 50, 100, 200]).toContain(t['base.train.batchSize']);
    }
    // log-uniform: about half the draws below the geometric middle
    const many = randomTrials({ l: LAMBDA }, 4000, 1).map((t) => t.l as number);
    const below = many.filter((v) => v < 1e-3).length / many.length;
    expect(Math.abs(below - 0.5)).toBeLessThan(0.03);
  });

  it('grid: every combination, the first parameter slowest; the trial count is the grid\'s size', () => {
    const g = gridTrials({ a: { ...ETA, points: 3 }, b: BATCH }, 99);
    expect(g).toHaveLength(12);
    expect(g.slice(0, 4)).toEqual([25, 50, 100, 200].map((b) => ({ a: 0.02, b })));
    expect(g[4]).toEqual({ a: 0.11, b: 25 });
    const s = makeSampler(space({ a: ETA, b: NS }, 'grid'), 16, 1);
    expect(s.total).toBe(16); // 4 × 4: floor(16^(1/2)) values each
    expect(new Set(s.initial().map((t) => JSON.stringify(t))).size).toBe(16);
    expect(makeSampler(space({ a: ETA }, 'grid'), 5, 1).initial().map((t) => t.a)).toEqual([0.02, 0.065, 0.11, 0.155, 0.2]);
  });

  it('the config picks the sampler and TPE starts with the random sampler\'s first trials', () => {
    const c = searchSchema.parse({
      kind: 'search', trials: 20, seed: 4,
      space: { sampler: 'tpe', tpe: { startup: 5 }, params: { 'base.train.lambda': { dist: 'log-uniform', min: 1e-5, max: 1e-1 } } },
    });
    const tpe = makeSampler(c.space, c.trials, c.seed);
    expect(tpe.total).toBe(20);
    expect(tpe.initial()).toEqual(randomTrials(c.space.params, 5, 4));
  });
});

describe('Parzen estimators', () => {
  it('the normal CDF matches its derivative (central differences of the CDF give the density) and known values', () => {
    for (const x of [-4, -2.5, -1, -0.3, 0, 0.4, 1.7, 3]) {
      const h = 1e-2; // the CDF is accurate to ~1e-7: a smaller step would difference its rounding
      const slope = (normalCdf(x + h) - normalCdf(x - h)) / (2 * h);
      expect(slope).toBeCloseTo(Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI), 4);
      expect(normalCdf(x) + normalCdf(-x)).toBeCloseTo(1, 7);
    }
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959963985)).toBeCloseTo(0.975, 6);
  });

  it('a truncated mixture integrates to 1 on [0, 1] and its samples follow its density', () => {
    for (const points of [[], [0.5], [0.02, 0.03, 0.5, 0.97], [0.1, 0.1, 0.1, 0.2, 0.8]]) {
      const p = new ParzenEstimator(points);
      const n = 4000;
      let integral = 0;
      for (let i = 0; i <= n; i++) integral += (i === 0 || i === n ? 0.5 : 1) * Math.exp(p.logPdf(i / n)) / n;
      expect(integral).toBeCloseTo(1, 4);
      // sampled mass of [0, 0.25) against the integrated density
      let mass = 0;
      for (let i = 0; i < 1000; i++) mass += 0.5 * (Math.exp(p.logPdf(i / 4000)) + Math.exp(p.logPdf((i + 1) / 4000))) / 4000;
      const rng = new Rng(11);
      const draws = Array.from({ length: 10000 }, () => p.sample(rng));
      for (const d of draws) expect(d >= 0 && d <= 1).toBe(true);
      expect(Math.abs(draws.filter((d) => d < 0.25).length / draws.length - mass)).toBeLessThan(0.02);
    }
  });

  it('a choice model is its counts plus one', () => {
    const c = new CategoricalEstimator([0, 0, 2], 3);
    expect(c.probabilities).toEqual([3 / 6, 1 / 6, 2 / 6]);
    expect(c.logPmf(1)).toBeCloseTo(Math.log(1 / 6), 12);
  });

  it('ranks completed trials above pruned ones, those that got further first, diverged last', () => {
    const o = (level: number, accuracy: number, id: number): Observation => ({ values: { id }, level, accuracy });
    const ranked = rankObservations([o(1 / 9, 0.5, 1), o(1, 0.4, 2), o(-1, NaN, 3), o(1 / 3, 0.45, 4), o(1, 0.45, 5), o(1 / 9, 0.3, 6)]);
    expect(ranked.map((r) => r.values.id)).toEqual([5, 2, 4, 1, 6, 3]);
  });
});

describe('TPE', () => {
  /** A smooth objective with its maximum 1 at lambda = 1e-3, hidden = 64, batch 100, etaMax 0.11. */
  const objective = (v: TrialParams) =>
    1 - 0.04 * (Math.log10(v.l as number) + 3) ** 2 - 0.06 * Math.log2((v.m as number) / 64) ** 2 - (v.b === 100 ? 0 : 0.1) - 8 * ((v.e as number) - 0.11) ** 2;
  const params = { l: LAMBDA, m: HIDDEN, b: BATCH, e: ETA };

  /** Runs a sequential search and returns the best value found. */
  function run(sampler: SearchSpace['sampler'], seed: number, trials: number, noise = 0): number {
    const s = makeSampler(space(params, sampler), trials, seed);
    const initial = s.initial();
    const history: Observation[] = [];
    const rng = new Rng(seed + 1000);
    let best = -Infinity;
    for (let t = 1; t <= trials; t++) {
      const values = t <= initial.length ? initial[t - 1] : s.next(t, history, 0);
      const f = objective(values);
      best = Math.max(best, f);
      history.push({ values, level: 1, accuracy: f + noise * rng.normal() });
    }
    return best;
  }

  it('proposes the same trial from the same history and seed, within the bounds', () => {
    const hist: Observation[] = randomTrials(params, 10, 3).map((values) => ({ values, level: 1, accuracy: objective(values) }));
    const a = tpeSuggest(params, hist, { candidates: 24, gamma: 0.25 }, new Rng(5));
    expect(tpeSuggest(params, hist, { candidates: 24, gamma: 0.25 }, new Rng(5))).toEqual(a);
    expect(Number.isInteger(a.m)).toBe(true);
    expect([25, 50, 100, 200]).toContain(a.b);
  });

  it('finds better trials than random search on a function with a known optimum, at equal trial counts (mean of 12 seeds)', () => {
    const seeds = Array.from({ length: 12 }, (_, i) => i + 1);
    for (const [trials, noise] of [[30, 0], [40, 0.01]] as const) {
      const regret = (sampler: SearchSpace['sampler']) => seeds.reduce((s, seed) => s + (1 - run(sampler, seed, trials, noise)), 0) / seeds.length;
      const tpe = regret('tpe'), random = regret('random');
      if (process.env.SEARCH_DEBUG) console.log({ trials, noise, tpe, random });
      // TPE's shortfall from the optimum is at most 60% of random search's
      expect(tpe, `trials ${trials}, noise ${noise}: tpe ${tpe.toFixed(4)} vs random ${random.toFixed(4)}`).toBeLessThan(0.6 * random);
    }
  });

  it('concentrates its proposals near the optimum of a one-dimensional function', () => {
    const s = makeSampler(space({ l: LAMBDA }, 'tpe', { startup: 6 }), 40, 9);
    const history: Observation[] = [];
    const values = [...s.initial()];
    for (let t = 1; t <= 40; t++) {
      const v = t <= 6 ? values[t - 1] : s.next(t, history, 0);
      history.push({ values: v, level: 1, accuracy: -((Math.log10(v.l as number) + 3) ** 2) });
    }
    const late = history.slice(25).map((h) => Math.log10(h.values.l as number));
    const near = late.filter((l) => Math.abs(l + 3) < 1).length / late.length;
    expect(near).toBeGreaterThan(0.6); // random: 2 of 6 decades = 0.33
  });
});

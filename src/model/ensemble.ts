/**
 * Ensembles: several networks of one shape whose predictions are averaged.
 *
 *  - softmax: P = (1/N) Σ_i P_i, the members' class probabilities averaged (scaleAdd), one forward pass each;
 *  - weights: one network whose parameters are the members' mean (snapshots of one run, which share a basin).
 *
 * `evaluateEnsemble` measures the ensemble and every member on a split in one pass: each chunk of records is
 * gathered once, every member's P_i is scored (crossEntropy) and averaged into the ensemble's P.
 */
import type { Dataset } from '../data/cifar.js';
import type { Normalization } from '../data/normalization.js';
import type { KernelBackend, Matrix } from '../kernels/backend.js';
import { ChunkedInput } from './chunked-input.js';
import type { SplitMetrics } from './split-metrics.js';
import { Network, type NetworkShape, type ParamValues, type ProbabilityModel } from './network.js';

export type EnsembleAverage = 'softmax' | 'weights';

/** One network of an ensemble: its weights, and the run step and name they come from. */
export interface Member {
  name: string;
  step: number;
  params: ParamValues;
}

/** The parameter-wise mean of the members' weights. */
export function meanWeights(members: readonly Pick<Member, 'params'>[]): ParamValues {
  const out = {} as ParamValues;
  for (const p of Object.keys(members[0].params)) {
    const sum = new Float64Array(members[0].params[p].length);
    for (const m of members) {
      const v = m.params[p];
      for (let i = 0; i < sum.length; i++) sum[i] += v[i];
    }
    for (let i = 0; i < sum.length; i++) sum[i] /= members.length;
    out[p] = sum;
  }
  return out;
}

export async function networkOf(backend: KernelBackend, shape: NetworkShape, params: ParamValues): Promise<Network> {
  const net = new Network(backend, shape);
  await net.restore(params);
  return net;
}

/** The members' softmax outputs averaged; with one network, that network's own. */
export class Ensemble implements ProbabilityModel {
  private mean: Matrix | null = null;

  constructor(readonly networks: readonly Network[]) {
    if (networks.length === 0) throw new Error('an ensemble needs at least one network');
  }

  get backend(): KernelBackend {
    return this.networks[0].backend;
  }

  get shape(): NetworkShape {
    return this.networks[0].shape;
  }

  /** The model that predicts for these members: their softmax average, or the network of their mean weights. */
  static async of(backend: KernelBackend, shape: NetworkShape, members: readonly Member[], average: EnsembleAverage): Promise<Ensemble> {
    if (average === 'weights' && members.length > 1) return new Ensemble([await networkOf(backend, shape, meanWeights(members))]);
    const networks: Network[] = [];
    for (const m of members) networks.push(await networkOf(backend, shape, m.params)); // one backend op at a time
    return new Ensemble(networks);
  }

  async probabilities(X: Matrix): Promise<Matrix> {
    if (this.networks.length === 1) return this.networks[0].probabilities(X);
    const b = this.backend, n = this.networks.length;
    if (!this.mean || this.mean.rows !== X.rows) this.mean = b.matrix(X.rows, this.shape.k);
    for (let i = 0; i < n; i++) await b.scaleAdd(this.mean, await this.networks[i].probabilities(X), 1 / n, i === 0 ? 0 : 1);
    return this.mean;
  }

  /** lambda (‖W1‖² + ‖W2‖²), averaged over the networks (the cost reported for the ensemble). */
  async penalty(lambda: number): Promise<number> {
    let sum = 0;
    for (const net of this.networks) sum += await net.penalty(lambda);
    return sum / this.networks.length;
  }
}

export interface EnsembleMetrics {
  ensemble: SplitMetrics;
  members: SplitMetrics[];
}

/**
 * Loss, cost and accuracy of the ensemble and of each member network over the first `limit` records of `data`.
 * The ensemble's cost is its loss plus the mean of its networks' L2 penalties.
 */
export async function evaluateEnsemble(
  ensemble: Ensemble, members: readonly Network[], data: Dataset, norm: Normalization, lambda: number, chunk = 1000, limit = data.count,
): Promise<EnsembleMetrics> {
  const count = Math.min(limit, data.count);
  const none = { loss: NaN, cost: NaN, accuracy: NaN };
  if (count === 0) return { ensemble: none, members: members.map(() => none) };
  const b = ensemble.backend, size = Math.min(chunk, count), k = ensemble.shape.k;
  const input = new ChunkedInput(b, norm, size, ensemble.shape.d);
  // When the members are the ensemble's own networks (softmax averaging), their outputs are averaged as they come.
  const own = members.length === ensemble.networks.length && members.every((m, i) => m === ensemble.networks[i]);
  const mean = own && members.length > 1 ? b.matrix(size, k) : null;
  const sums = members.map(() => ({ lossSum: 0, correct: 0 }));
  const total = { lossSum: 0, correct: 0 };
  const add = (to: { lossSum: number; correct: number }, r: { lossSum: number; correct: number }) => {
    to.lossSum += r.lossSum;
    to.correct += r.correct;
  };
  await input.forEach(data, count, async (n) => {
    const { X, labels } = input; // this chunk's (the next one may be gathered into the other matrix meanwhile)
    for (let i = 0; i < members.length; i++) {
      const P = await members[i].probabilities(X);
      const r = await b.crossEntropy(P, labels, n);
      add(sums[i], r);
      if (own && !mean) add(total, r);
      if (mean) await b.scaleAdd(mean, P, 1 / members.length, i === 0 ? 0 : 1);
    }
    if (mean) add(total, await b.crossEntropy(mean, labels, n));
    else if (!own) add(total, await b.crossEntropy(await ensemble.probabilities(X), labels, n));
  });
  const metrics = (s: { lossSum: number; correct: number }, penalty: number): SplitMetrics =>
    ({ loss: s.lossSum / count, cost: s.lossSum / count + penalty, accuracy: s.correct / count });
  const penalties: number[] = [];
  for (const m of members) penalties.push(await m.penalty(lambda));
  return { ensemble: metrics(total, await ensemble.penalty(lambda)), members: sums.map((s, i) => metrics(s, penalties[i])) };
}

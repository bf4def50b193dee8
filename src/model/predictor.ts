/** Class probabilities of records, computed in chunks by a model's forward pass (a network's, or an ensemble's). */
import type { Dataset } from '../data/cifar.js';
import type { Normalization } from '../data/normalization.js';
import { ChunkedInput } from './chunked-input.js';
import { UsageError } from '../util/errors.js';
import type { ProbabilityModel } from './network.js';

/**
 * Probabilities that are not finite numbers (weights so large that the forward pass overflows): refused, never
 * printed as NaN or ranked as a class.
 */
function checkFinite(p: Float64Array, k: number, first: number): Float64Array {
  for (let i = 0; i < p.length; i++) {
    if (!Number.isFinite(p[i])) {
      throw new UsageError(`the model gives non-finite class probabilities (${p[i]}) for record ${first + Math.floor(i / k)}: its weights overflow the forward pass; the model file is unusable`);
    }
  }
  return p;
}

export class Predictor {
  private readonly input: ChunkedInput;

  constructor(private readonly net: ProbabilityModel, norm: Normalization, readonly chunk = 500) {
    this.input = new ChunkedInput(net.backend, norm, chunk, net.shape.d);
  }

  /** Probabilities (count × k, row-major) of records [start, start + count) of `data`, count ≤ chunk. */
  async probabilities(data: Pick<Dataset, 'pixels'>, start: number, count: number): Promise<Float64Array> {
    await this.input.gather(data, start, count);
    const P = await this.net.probabilities(this.input.X);
    return checkFinite((await this.net.backend.read(P)).subarray(0, count * this.net.shape.k), this.net.shape.k, start);
  }

  /** Calls `each(record, probabilities)` for every record of `data`. */
  async forEach(data: Dataset, each: (record: number, p: Float64Array) => void): Promise<void> {
    const k = this.net.shape.k;
    await this.input.forEach(data, data.count, async (n, start) => {
      const p = checkFinite((await this.net.backend.read(await this.net.probabilities(this.input.X))).subarray(0, n * k), k, start);
      for (let i = 0; i < n; i++) each(start + i, p.subarray(i * k, (i + 1) * k));
    });
  }
}

export function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let j = 1; j < p.length; j++) if (p[j] > p[best]) best = j;
  return best;
}

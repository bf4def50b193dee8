/** Class probabilities of records, computed in chunks by a model's forward pass (a network's, or an ensemble's). */
import type { Dataset } from '../data/cifar.js';
import type { Normalization } from '../data/normalization.js';
import { ChunkedInput } from './chunked-input.js';
import type { ProbabilityModel } from './network.js';

export class Predictor {
  private readonly input: ChunkedInput;

  constructor(private readonly net: ProbabilityModel, norm: Normalization, readonly chunk = 500) {
    this.input = new ChunkedInput(net.backend, norm, chunk, net.shape.d);
  }

  /** Probabilities (count × k, row-major) of records [start, start + count) of `data`, count ≤ chunk. */
  async probabilities(data: Pick<Dataset, 'pixels'>, start: number, count: number): Promise<Float64Array> {
    await this.input.gather(data, start, count);
    const P = await this.net.probabilities(this.input.X);
    return (await this.net.backend.read(P)).subarray(0, count * this.net.shape.k);
  }

  /** Calls `each(record, probabilities)` for every record of `data`. */
  async forEach(data: Dataset, each: (record: number, p: Float64Array) => void): Promise<void> {
    const k = this.net.shape.k;
    await this.input.forEach(data, data.count, async (n, start) => {
      const p = (await this.net.backend.read(await this.net.probabilities(this.input.X))).subarray(0, n * k);
      for (let i = 0; i < n; i++) each(start + i, p.subarray(i * k, (i + 1) * k));
    });
  }
}

export function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let j = 1; j < p.length; j++) if (p[j] > p[best]) best = j;
  return best;
}

/** Loss, cost and accuracy of the network on a whole split, computed in chunks of rows. */
import type { Dataset } from '../data/cifar.js';
import type { Normalization } from '../data/normalization.js';
import { ChunkedInput } from './chunked-input.js';
import type { Network } from './network.js';
import type { SplitMetrics } from './split-metrics.js';

export class Evaluator {
  private readonly input: ChunkedInput;
  /** Wall time spent evaluating so far. */
  seconds = 0;

  constructor(private readonly net: Network, norm: Normalization, readonly chunk = 1000) {
    this.input = new ChunkedInput(net.backend, norm, chunk, net.shape.d);
  }

  /** Metrics over the first `limit` records of `data` (all by default). */
  async evaluate(data: Dataset, lambda: number, limit = data.count): Promise<SplitMetrics> {
    const count = Math.min(limit, data.count);
    if (count === 0) return { loss: NaN, cost: NaN, accuracy: NaN };
    const t0 = performance.now();
    let lossSum = 0, correct = 0;
    await this.input.forEach(data, count, async (n) => {
      const r = await this.net.evaluate(this.input.X, this.input.labels, n);
      lossSum += r.lossSum;
      correct += r.correct;
    });
    const loss = lossSum / count;
    this.seconds += (performance.now() - t0) / 1000;
    return { loss, cost: loss + (await this.net.penalty(lambda)), accuracy: correct / count };
  }
}

/** Loss, cost and accuracy of the network on a whole split, computed in chunks of rows. */
import type { Matrix } from '../kernels/backend.js';
import type { Dataset } from '../data/cifar.js';
import type { Normalization } from '../data/normalization.js';
import type { Network } from './network.js';
import type { SplitMetrics } from '../stages/types.js';

export class Evaluator {
  private readonly X: Matrix;
  private readonly rows: Int32Array;
  private readonly labels: Uint8Array;
  /** Wall time spent evaluating so far. */
  seconds = 0;

  constructor(private readonly net: Network, private readonly norm: Normalization, readonly chunk = 1000) {
    this.X = net.backend.matrix(chunk, net.shape.d);
    this.rows = new Int32Array(chunk);
    this.labels = new Uint8Array(chunk);
  }

  /** Metrics over the first `limit` records of `data` (all by default). */
  async evaluate(data: Dataset, lambda: number, limit = data.count): Promise<SplitMetrics> {
    const count = Math.min(limit, data.count);
    if (count === 0) return { loss: NaN, cost: NaN, accuracy: NaN };
    const b = this.net.backend, t0 = performance.now();
    let lossSum = 0, correct = 0;
    for (let start = 0; start < count; start += this.chunk) {
      const n = Math.min(this.chunk, count - start);
      for (let i = 0; i < n; i++) { this.rows[i] = start + i; this.labels[i] = data.labels[start + i]; }
      await b.gatherNormalized(data.pixels, this.rows, n, this.norm.mean, this.norm.invStd, this.X);
      const r = await this.net.evaluate(this.X, this.labels, n);
      lossSum += r.lossSum;
      correct += r.correct;
    }
    const loss = lossSum / count;
    this.seconds += (performance.now() - t0) / 1000;
    return { loss, cost: loss + (await this.net.penalty(lambda)), accuracy: correct / count };
  }
}

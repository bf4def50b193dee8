/**
 * Records of a split in chunks of rows, gathered and normalised into one reused matrix: the loop of every
 * forward-only pass (evaluation, ensembles, prediction).
 */
import type { Dataset } from '../data/cifar.js';
import type { Normalization } from '../data/normalization.js';
import type { KernelBackend, Matrix } from '../kernels/backend.js';

export class ChunkedInput {
  /** The chunk's normalised records (chunk × d; rows past the chunk's count are padding). */
  readonly X: Matrix;
  /** The chunk's labels. */
  readonly labels: Uint8Array;
  private readonly rows: Int32Array;

  constructor(private readonly backend: KernelBackend, private readonly norm: Normalization, readonly chunk: number, d: number) {
    this.X = backend.matrix(chunk, d);
    this.rows = new Int32Array(chunk);
    this.labels = new Uint8Array(chunk);
  }

  /** Gathers records [start, start + n) of `data` (n ≤ chunk) into X, and their labels when `data` has them. */
  async gather(data: Pick<Dataset, 'pixels'> & Partial<Pick<Dataset, 'labels'>>, start: number, n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      this.rows[i] = start + i;
      if (data.labels) this.labels[i] = data.labels[start + i];
    }
    await this.backend.gatherNormalized(data.pixels, this.rows, n, this.norm.mean, this.norm.invStd, this.X);
  }

  /** Calls `each(n, start)` once per chunk of the first `count` records of `data`, X and labels holding that chunk. */
  async forEach(data: Pick<Dataset, 'pixels' | 'labels'>, count: number, each: (n: number, start: number) => Promise<void> | void): Promise<void> {
    for (let start = 0; start < count; start += this.chunk) {
      const n = Math.min(this.chunk, count - start);
      await this.gather(data, start, n);
      await each(n, start);
    }
  }
}

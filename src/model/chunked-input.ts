/**
 * Records of a split in chunks of rows, gathered and normalised into a reused matrix: the loop of every
 * forward-only pass (evaluation, ensembles, prediction). Where the backend gathers off the calling thread
 * (gatherNormalizedAhead), forEach gathers the next chunk into a second matrix while the current one is used: X and
 * labels are then the current chunk's, read them inside the callback.
 */
import type { Dataset } from '../data/cifar.js';
import type { Normalization } from '../data/normalization.js';
import type { KernelBackend, Matrix } from '../kernels/backend.js';

interface Slot {
  X: Matrix;
  labels: Uint8Array;
  rows: Int32Array;
}

export class ChunkedInput {
  private readonly slots: Slot[];
  private current = 0;

  constructor(private readonly backend: KernelBackend, private readonly norm: Normalization, readonly chunk: number, private readonly d: number) {
    this.slots = [this.slot()];
  }

  private slot(): Slot {
    return { X: this.backend.matrix(this.chunk, this.d), labels: new Uint8Array(this.chunk), rows: new Int32Array(this.chunk) };
  }

  /** The chunk's normalised records (chunk × d; rows past the chunk's count are padding). */
  get X(): Matrix {
    return this.slots[this.current].X;
  }

  /** The chunk's labels. */
  get labels(): Uint8Array {
    return this.slots[this.current].labels;
  }

  /** Rows [start, start + n) of `data` into slot `s`'s row list and labels. */
  private plan(s: Slot, data: Pick<Dataset, 'pixels'> & Partial<Pick<Dataset, 'labels'>>, start: number, n: number): void {
    for (let i = 0; i < n; i++) {
      s.rows[i] = start + i;
      if (data.labels) s.labels[i] = data.labels[start + i];
    }
  }

  /** Gathers records [start, start + n) of `data` (n ≤ chunk) into X, and their labels when `data` has them. */
  async gather(data: Pick<Dataset, 'pixels'> & Partial<Pick<Dataset, 'labels'>>, start: number, n: number): Promise<void> {
    this.current = 0;
    const s = this.slots[0];
    this.plan(s, data, start, n);
    await this.backend.gatherNormalized(data.pixels, s.rows, n, this.norm.mean, this.norm.invStd, s.X);
  }

  /** Calls `each(n, start)` once per chunk of the first `count` records of `data`, X and labels holding that chunk. */
  async forEach(data: Pick<Dataset, 'pixels' | 'labels'>, count: number, each: (n: number, start: number) => Promise<void> | void): Promise<void> {
    const ahead = this.backend.gatherNormalizedAhead?.bind(this.backend);
    if (count > this.chunk && ahead && this.slots.length === 1) this.slots.push(this.slot());
    for (let start = 0; start < count; start += this.chunk) {
      const n = Math.min(this.chunk, count - start);
      if (start === 0 || !ahead) await this.gather(data, start, n);
      const next = start + this.chunk, m = Math.min(this.chunk, count - next);
      let wait: (() => unknown) | null = null;
      if (ahead && m > 0) {
        const s = this.slots[1 - this.current];
        this.plan(s, data, next, m);
        wait = ahead(data.pixels, s.rows.subarray(0, m), m, this.norm.mean, this.norm.invStd, s.X);
      }
      try {
        await each(n, start);
      } finally {
        await wait?.(); // a gather under way is finished before its matrix is used or handed out again
      }
      if (wait) this.current = 1 - this.current;
    }
  }
}

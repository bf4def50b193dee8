// The shuffle stage's look-ahead (each plan carries the next step's rows) and the normalize stage's use of it:
// with a backend that gathers ahead, every step still trains on its own rows, the two input matrices take turns,
// and a backend without the capability is used exactly as before.
import { firstValueFrom, from, map, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { KernelBackend, Matrix } from '../src/kernels/backend.js';
import { ReferenceBackend } from '../src/kernels/reference.js';
import { normalize } from '../src/stages/normalize.js';
import { shuffle } from '../src/stages/shuffle.js';
import { stepSource } from '../src/pipeline/step-source.js';
import { ChunkedInput } from '../src/model/chunked-input.js';
import type { BatchPlan } from '../src/stages/types.js';

const d = 4, records = 23, batch = 5; // 4 steps per epoch, 3 records left over

function dataset() {
  const pixels = new Uint8Array(new SharedArrayBuffer(records * d));
  for (let i = 0; i < records; i++) pixels.fill(i, i * d, (i + 1) * d); // record i is all i
  return { pixels, labels: Uint8Array.from({ length: records }, (_, i) => i % 10), count: records };
}
const norm = { mean: new Float32Array(d), invStd: new Float32Array(d).fill(255) }; // normalised value = record index

async function plans(steps: number[]): Promise<BatchPlan[]> {
  const copy = (p: BatchPlan) => ({ ...p, rows: Int32Array.from(p.rows), next: p.next && Int32Array.from(p.next) });
  return firstValueFrom(from(steps).pipe(shuffle(9, records, batch), map(copy), toArray())); // rows are views: copy them as they come
}

describe('shuffle look-ahead', () => {
  it('each plan carries the rows of the following step, across epoch boundaries, and the same rows as before', async () => {
    const all = await plans(Array.from({ length: 13 }, (_, i) => i));
    for (let s = 0; s < 12; s++) expect(Array.from(all[s].next!), `step ${s}`).toEqual(Array.from(all[s + 1].rows));
    // an epoch is a permutation of the records (less the remainder), drawn from the seed and the epoch alone
    for (const e of [0, 1, 2]) {
      const rows = all.slice(e * 4, e * 4 + 4).flatMap((p) => Array.from(p.rows));
      expect(new Set(rows).size).toBe(20);
      expect(all.slice(e * 4, e * 4 + 4).every((p) => p.epoch === e)).toBe(true);
    }
    // a resumed stream (starting at step 6) plans the same batches
    const resumed = await plans([6, 7, 8]);
    for (let i = 0; i < 3; i++) {
      expect(Array.from(resumed[i].rows)).toEqual(Array.from(all[6 + i].rows));
      expect(Array.from(resumed[i].next!)).toEqual(Array.from(all[7 + i].rows));
    }
  });
});

/** The reference backend, with a gather "ahead" that only runs when waited for, counting what it does. */
class AheadBackend extends ReferenceBackend {
  calls: string[] = [];
  gatherNormalizedAhead(records: Uint8Array, rows: ArrayLike<number>, count: number, mean: Float32Array, invStd: Float32Array, out: Matrix) {
    const copy = Int32Array.from(rows as ArrayLike<number>);
    this.calls.push(`ahead ${Array.from(copy).join(' ')}`);
    return () => {
      this.calls.push('wait');
      super.gatherNormalized(records, copy, count, mean, invStd, out);
    };
  }
  override gatherNormalized(records: Uint8Array, rows: ArrayLike<number>, count: number, mean: Float32Array, invStd: Float32Array, out: Matrix): void {
    this.calls.push('gather');
    super.gatherNormalized(records, rows, count, mean, invStd, out);
  }
}

/** Steps first .. first + count − 1 through shuffle → normalize, pulled one at a time as the training stream does. */
async function run(backend: KernelBackend, first: number, count: number) {
  const data = dataset();
  const out: { step: number; rowsInX: number[]; labels: number[]; X: Matrix }[] = [];
  const source = stepSource(first, first + count);
  await new Promise<void>((resolve, reject) => {
    source.steps$.pipe(shuffle(9, records, batch), normalize(backend, data, norm, backend.matrix(batch, d))).subscribe({
      next: (b) => {
        // read as the train step reads it, then ask for the next step
        const v = (backend as ReferenceBackend).read(b.X);
        out.push({ step: b.step, rowsInX: Array.from({ length: batch }, (_, r) => Math.round(v[r * d])), labels: Array.from(b.labels), X: b.X });
        source.next();
      },
      error: reject,
      complete: resolve,
    });
  });
  return out;
}

describe('normalize with a backend that gathers ahead', () => {
  it('trains every step on its own rows, alternating two matrices; the first step gathers in place', async () => {
    const expected = await plans(Array.from({ length: 9 }, (_, i) => i));
    const b = new AheadBackend();
    const got = await run(b, 0, 9);
    for (const [i, g] of got.entries()) {
      expect(g.rowsInX, `step ${i}`).toEqual(Array.from(expected[i].rows));
      expect(g.labels, `labels of step ${i}: rows ${g.rowsInX}`).toEqual(Array.from(expected[i].rows).map((r) => r % 10));
      if (i > 0) expect(g.X).not.toBe(got[i - 1].X);
      if (i > 1) expect(g.X).toBe(got[i - 2].X);
    }
    // one plain gather (the first step), then one gather ahead per step, each waited for before its step
    expect(b.calls[0]).toBe('gather');
    expect(b.calls.filter((c) => c === 'gather')).toHaveLength(1);
    expect(b.calls.filter((c) => c.startsWith('ahead'))).toHaveLength(9);
    expect(b.calls.filter((c) => c === 'wait')).toHaveLength(8); // the look-ahead past the last step is never used
    expect(b.calls[1]).toBe(`ahead ${Array.from(expected[1].rows).join(' ')}`);
    expect(b.calls[2]).toBe('wait');

    // a resumed stream starts with a plain gather of its first step
    const resumed = await run(new AheadBackend(), 5, 3);
    expect(resumed.map((g) => g.rowsInX)).toEqual(expected.slice(5, 8).map((p) => Array.from(p.rows)));
  });

  it('a backend without the capability gathers every step in place into the one matrix', async () => {
    const b = new ReferenceBackend();
    const got = await run(b, 0, 5);
    const expected = await plans([0, 1, 2, 3, 4]);
    for (const [i, g] of got.entries()) {
      expect(g.rowsInX).toEqual(Array.from(expected[i].rows));
      expect(g.X).toBe(got[0].X);
    }
  });
});

describe('chunked forward-only passes (ChunkedInput) with a backend that gathers ahead', () => {
  it('gives each chunk its own records and labels, the next chunk gathered ahead into the other matrix', async () => {
    const data = dataset();
    for (const backend of [new AheadBackend(), new ReferenceBackend()]) {
      const input = new ChunkedInput(backend, norm, 5, d);
      const seen: { start: number; n: number; rows: number[]; labels: number[]; X: Matrix }[] = [];
      await input.forEach(data, records, (n, start) => {
        const v = backend.read(input.X);
        seen.push({ start, n, rows: Array.from({ length: n }, (_, r) => Math.round(v[r * d])), labels: Array.from(input.labels.subarray(0, n)), X: input.X });
      });
      expect(seen.map((c) => [c.start, c.n])).toEqual([[0, 5], [5, 5], [10, 5], [15, 5], [20, 3]]);
      for (const c of seen) {
        const want = Array.from({ length: c.n }, (_, r) => c.start + r);
        expect(c.rows).toEqual(want);
        expect(c.labels).toEqual(want.map((r) => r % 10));
      }
      if (backend instanceof AheadBackend) {
        expect(backend.calls).toEqual(['gather', 'ahead 5 6 7 8 9', 'wait', 'ahead 10 11 12 13 14', 'wait', 'ahead 15 16 17 18 19', 'wait', 'ahead 20 21 22', 'wait']);
        expect(seen[1].X).not.toBe(seen[0].X);
        expect(seen[2].X).toBe(seen[0].X);
      } else expect(new Set(seen.map((c) => c.X)).size).toBe(1);
    }
  });
});

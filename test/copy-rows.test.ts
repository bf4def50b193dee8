// copyRows (the first step of a batch gather): the rows it copies, in order, whatever the grouping of its reads.
import { describe, expect, it } from 'vitest';
import { copyRows } from '../src/kernels/copy-rows.js';
import { Rng } from '../src/util/rng.js';

describe('copyRows', () => {
  it('copies rows[rowsAt + r0 .. rowsAt + r1) one after the other, for any row length and group boundary', () => {
    const rng = new Rng(11);
    for (const d of [1, 63, 64, 65, 3072]) {
      const records = Uint8Array.from({ length: 40 * d }, () => rng.int(0, 255));
      const rows = Int32Array.from({ length: 30 }, () => rng.int(0, 39));
      for (const [rowsAt, r0, r1] of [[0, 0, 30], [3, 0, 20], [2, 5, 13], [0, 7, 8], [0, 4, 4]]) {
        const out = new Uint8Array((r1 - r0) * d + 7).fill(200);
        copyRows(records, rows, rowsAt, r0, r1, d, out);
        const want = new Uint8Array(out.length).fill(200);
        for (let r = r0; r < r1; r++) want.set(records.subarray(rows[rowsAt + r] * d, rows[rowsAt + r] * d + d), (r - r0) * d);
        expect(out, `d=${d} rowsAt=${rowsAt} rows ${r0}..${r1}`).toEqual(want);
      }
    }
  });
});

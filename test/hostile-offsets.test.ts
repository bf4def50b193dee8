// Issue 21.9: byte offsets above 2 GiB. A valid large config (model.hidden=4096, train.batchSize=50000 on the full
// data) failed after 122 s with "Start offset -1943011584 is outside the bounds of the buffer": the gather helper
// kept the addresses of the shared memory (up to 4 GiB) in int32 slots and read them back signed. The addresses are
// read back unsigned now; this runs the gather chunk, as both threads do, at an address above 2^31 (the buffer is
// reserved, not touched: only the few kilobytes written are memory).
import { describe, expect, it } from 'vitest';
import { runChunk, SLOT, type NormaliseExports } from '../src/kernels/gather-protocol.js';

describe('gather offsets above 2 GiB', () => {
  it('copies the rows to the staging address and hands the normaliser the same unsigned addresses', () => {
    const d = 3072, count = 3;
    const staging = 2 ** 31 + 4096, norm = 2 ** 31 + 65536, out = 2 ** 31 + 131072;
    const buffer = new SharedArrayBuffer(2 ** 31 + 262144);
    const ctrl = new Int32Array(new SharedArrayBuffer(4 * (SLOT.ROWS + count)));
    Object.assign(ctrl, { [SLOT.COUNT]: count, [SLOT.D]: d, [SLOT.STAGING]: staging, [SLOT.NORM]: norm, [SLOT.OUT]: out });
    ctrl[SLOT.ROWS] = 2; ctrl[SLOT.ROWS + 1] = 0; ctrl[SLOT.ROWS + 2] = 1;
    expect(ctrl[SLOT.STAGING]).toBeLessThan(0); // what an int32 slot holds
    const records = Uint8Array.from({ length: 3 * d }, (_, i) => (i * 7 + 3) % 251);
    const calls: number[][] = [];
    const ex: NormaliseExports = { normalisers: () => {}, normaliseRows: (...a: number[]) => void calls.push(a) };
    runChunk(ctrl, ex, buffer, records, 0);
    const staged = new Uint8Array(buffer, staging, count * d);
    expect([...staged.subarray(0, d)]).toEqual([...records.subarray(2 * d, 3 * d)]);
    expect([...staged.subarray(d, 2 * d)]).toEqual([...records.subarray(0, d)]);
    expect(calls).toEqual([[staging, d, norm, norm + d * 4, out, 0, count]]);
  });
});

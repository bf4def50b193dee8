/**
 * Which data a trial trains on, as two short strings: `dataKey` names the records a config selects (files, holdout,
 * limit: folders left out, they differ between machines), `dataFingerprint` hashes the records themselves (labels and
 * pixels of the three splits, so also the normalisation statistics computed from them). A worker that reads other
 * data than its coordinator for the same key refuses the trial instead of producing a different result.
 */
import { createHash } from 'node:crypto';
import type { TrainConfig } from '../config/schema.js';
import type { Splits } from '../data/splits.js';

export function dataKey(data: TrainConfig['data']): string {
  const { train, validation, holdout, test, trainLimit } = data;
  return JSON.stringify({ train, validation: validation ?? null, holdout, test, trainLimit: trainLimit ?? null });
}

/** sha256 (hex) of the three splits' record counts, labels and pixels. */
export function dataFingerprint(splits: Splits): string {
  const h = createHash('sha256');
  for (const name of ['train', 'val', 'test'] as const) {
    const ds = splits[name];
    h.update(`${name}:${ds.count};`);
    // Views on SharedArrayBuffers: hash a copy-free Buffer over the same memory.
    h.update(Buffer.from(ds.labels.buffer, ds.labels.byteOffset, ds.labels.byteLength));
    h.update(Buffer.from(ds.pixels.buffer, ds.pixels.byteOffset, ds.pixels.byteLength));
  }
  return h.digest('hex');
}

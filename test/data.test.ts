import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError, encodeRecords, PIXELS, readBatches, RECORD_BYTES } from '../src/data/cifar.js';
import { computeNormalization } from '../src/data/normalization.js';
import { loadSplits } from '../src/data/splits.js';
import { trainSchema } from '../src/config/train-schema.js';
import { syntheticRecords, writeSyntheticCifar } from './helpers/synthetic.js';

const dir = mkdtempSync(join(tmpdir(), 'cifar-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('CIFAR-10 binary reader', () => {
  it('reads labels and pixels of several files in order, into shared memory', () => {
    const a = syntheticRecords(3, 1), b = syntheticRecords(2, 2);
    writeFileSync(join(dir, 'a.bin'), encodeRecords(a.labels, a.pixels));
    writeFileSync(join(dir, 'b.bin'), encodeRecords(b.labels, b.pixels));
    const ds = readBatches([join(dir, 'a.bin'), join(dir, 'b.bin')]);
    expect(ds.count).toBe(5);
    expect(Array.from(ds.labels)).toEqual([...a.labels, ...b.labels]);
    expect(ds.pixels.subarray(3 * PIXELS, 4 * PIXELS)).toEqual(b.pixels.subarray(0, PIXELS));
    expect(ds.pixels.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it.each([
    ['empty file', Buffer.alloc(0), /file is empty/],
    ['truncated file', Buffer.alloc(RECORD_BYTES * 2 - 5), /not a multiple of 3073/],
    ['label above 9', Buffer.concat([Buffer.from([3]), Buffer.alloc(3072), Buffer.from([12]), Buffer.alloc(3072)]), /record 1 has label 12/],
  ])('rejects an %s, naming the file', (_what, bytes, message) => {
    const path = join(dir, `bad-${Math.random()}.bin`);
    writeFileSync(path, bytes);
    expect(() => readBatches([path])).toThrow(DataError);
    expect(() => readBatches([path])).toThrow(message);
    expect(() => readBatches([path])).toThrow(path);
  });

  it('rejects a missing file and a folder in place of a file', () => {
    expect(() => readBatches([join(dir, 'nope.bin')])).toThrow(/nope\.bin: file not found/);
    mkdirSync(join(dir, 'folder.bin'));
    expect(() => readBatches([join(dir, 'folder.bin')])).toThrow(/folder\.bin: is a directory/);
  });
});

describe('splits and normalisation', () => {
  const data = writeSyntheticCifar(join(dir, 'cifar'), 50);

  it('holds out the last N training records for validation', () => {
    const config = trainSchema.parse({ data: { train: ['data_batch_1', 'data_batch_2'], holdout: 30 } });
    const s = loadSplits(config.data, data);
    expect([s.train.count, s.val.count, s.test.count]).toEqual([70, 30, 50]);
    const all = readBatches([join(data, 'data_batch_1.bin'), join(data, 'data_batch_2.bin')]);
    expect(Array.from(s.val.labels)).toEqual(Array.from(all.labels.subarray(70)));
  });

  it('uses validation files, a training limit, and refuses a holdout that leaves nothing', () => {
    const s = loadSplits(trainSchema.parse({ data: { trainLimit: 20 } }).data, data);
    expect([s.train.count, s.val.count]).toEqual([20, 50]);
    expect(() => loadSplits(trainSchema.parse({ data: { holdout: 50 } }).data, data)).toThrow(/data\.holdout: 50/);
  });

  it('normalises with per-dimension mean and std of the training split', () => {
    const s = loadSplits(trainSchema.parse({}).data, data);
    const { mean, invStd } = computeNormalization(s.train);
    for (const k of [0, 1000, 3071]) {
      let sum = 0, sq = 0;
      for (let i = 0; i < s.train.count; i++) sum += s.train.pixels[i * PIXELS + k] / 255;
      const mu = sum / s.train.count;
      for (let i = 0; i < s.train.count; i++) sq += (s.train.pixels[i * PIXELS + k] / 255 - mu) ** 2;
      expect(mean[k]).toBeCloseTo(mu, 5);
      expect(invStd[k]).toBeCloseTo(1 / Math.sqrt(sq / s.train.count), 2);
    }
  });
});

/** Synthetic CIFAR-format data with learnable class structure: each class is a noisy copy of its own prototype image. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeRecords, PIXELS } from '../../src/data/cifar.js';
import { Rng } from '../../src/util/rng.js';

export function syntheticRecords(count: number, seed: number, noise = 60): { labels: Uint8Array; pixels: Uint8Array } {
  const protoRng = new Rng(12345);
  const prototypes = Array.from({ length: 10 }, () => Uint8Array.from({ length: PIXELS }, () => protoRng.int(40, 215)));
  const rng = new Rng(seed);
  const labels = new Uint8Array(count), pixels = new Uint8Array(count * PIXELS);
  for (let i = 0; i < count; i++) {
    const c = rng.int(0, 9);
    labels[i] = c;
    for (let k = 0; k < PIXELS; k++) {
      const v = prototypes[c][k] + (rng.uniform() * 2 - 1) * noise;
      pixels[i * PIXELS + k] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return { labels, pixels };
}

/** Writes data_batch_1..5 and test_batch with `perBatch` records each into dir; returns dir. */
export function writeSyntheticCifar(dir: string, perBatch = 200, noise = 60): string {
  mkdirSync(dir, { recursive: true });
  const names = ['data_batch_1', 'data_batch_2', 'data_batch_3', 'data_batch_4', 'data_batch_5', 'test_batch'];
  names.forEach((name, i) => {
    const { labels, pixels } = syntheticRecords(perBatch, 100 + i, noise);
    writeFileSync(join(dir, `${name}.bin`), encodeRecords(labels, pixels));
  });
  writeFileSync(join(dir, 'batches.meta.txt'), 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n');
  return dir;
}

/**
 * Data augmentation: the one-pass mirror + shift against a per-pixel definition, its padding, and the augment stage
 * (seeded by (seed, step) alone, so a resumed run draws the same transforms; the normalize stage reads its images).
 */
import { lastValueFrom, of, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { PIXELS } from '../src/data/cifar.js';
import { drawTransform, fillFromMean, SIDE, transformImage, type ImageTransform } from '../src/data/augmentation.js';
import { computeNormalization } from '../src/data/normalization.js';
import { ReferenceBackend } from '../src/kernels/reference.js';
import { augment, augmentRng } from '../src/stages/augment.js';
import { normalize } from '../src/stages/normalize.js';
import type { BatchPlan } from '../src/stages/types.js';
import { Rng } from '../src/util/rng.js';
import { syntheticRecords } from './helpers/synthetic.js';

/** The definition, pixel by pixel: out(c, y, x) = in(c, y − dy, x′), x′ = 31 − (x − dx) mirrored, else x − dx; fill outside. */
function naive(src: Uint8Array, t: ImageTransform, fill: Uint8Array): Uint8Array {
  const out = new Uint8Array(PIXELS);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const sy = y - t.dy, sx = t.flip ? SIDE - 1 - (x - t.dx) : x - t.dx;
        const i = c * 1024 + y * 32 + x;
        out[i] = sy >= 0 && sy < SIDE && sx >= 0 && sx < SIDE ? src[c * 1024 + sy * 32 + sx] : fill[i];
      }
    }
  }
  return out;
}

const { pixels, labels } = syntheticRecords(40, 3);
const data = { pixels, labels, count: 40 };
const norm = computeNormalization(data);
const fill = fillFromMean(norm.mean);

describe('transformImage', () => {
  it('equals the per-pixel definition for every mirror and shift up to ±8 pixels, whole-image shifts included', () => {
    const src = pixels.subarray(PIXELS, 2 * PIXELS);
    for (const at of [4, 5]) { // word-aligned output (block copies, word-wise mirror) and not (byte by byte)
      for (const flip of [false, true]) {
        for (let dy = -8; dy <= 8; dy++) {
          for (let dx = -9; dx <= 9; dx += at === 4 ? 1 : 3) {
            const t = { flip, dx, dy };
            const out = new Uint8Array(PIXELS + 2 * at).fill(77); // writes stay inside their 3072 bytes
            transformImage(pixels, PIXELS, out, at, t, fill);
            expect(Array.from(out.subarray(at, at + PIXELS)), JSON.stringify({ ...t, at })).toEqual(Array.from(naive(src, t, fill)));
            expect(Array.from(out.subarray(0, at))).toEqual(new Array(at).fill(77));
            expect(Array.from(out.subarray(at + PIXELS))).toEqual(new Array(at).fill(77));
          }
        }
      }
    }
    for (const t of [{ flip: false, dx: 32, dy: 0 }, { flip: true, dx: 0, dy: -32 }]) {
      const out = new Uint8Array(PIXELS);
      transformImage(pixels, 0, out, 0, t, fill);
      expect(Array.from(out)).toEqual(Array.from(fill));
    }
  });

  it('is the identity without a transform, an involution when only mirroring, and shifts the image content', () => {
    const src = pixels.subarray(0, PIXELS), a = new Uint8Array(PIXELS), b = new Uint8Array(PIXELS);
    transformImage(pixels, 0, a, 0, { flip: false, dx: 0, dy: 0 }, fill);
    expect(Array.from(a)).toEqual(Array.from(src));
    transformImage(pixels, 0, a, 0, { flip: true, dx: 0, dy: 0 }, fill);
    expect(a[5]).toBe(src[26]); // row 0, x = 5 ← x = 31 − 5
    transformImage(a, 0, b, 0, { flip: true, dx: 0, dy: 0 }, fill);
    expect(Array.from(b)).toEqual(Array.from(src));
    transformImage(pixels, 0, a, 0, { flip: false, dx: 2, dy: -1 }, fill);
    expect(a[1024 + 3 * 32 + 7]).toBe(src[1024 + 4 * 32 + 5]); // green (7, 3) ← (5, 4)
    expect(a[1024 + 3 * 32 + 1]).toBe(fill[1024 + 3 * 32 + 1]); // uncovered column
  });

  it('pads with the training mean, which normalises to ≈ 0 (within half a grey level)', () => {
    for (let j = 0; j < PIXELS; j++) {
      const z = (fill[j] / 255 - norm.mean[j]) * norm.invStd[j];
      expect(Math.abs(z)).toBeLessThanOrEqual((0.5 / 255) * norm.invStd[j] + 1e-6);
    }
  });

  it('draws mirrors half the time and every shift in [−k, k]', () => {
    const rng = new Rng(5), shifts = new Set<number>();
    let flips = 0;
    for (let i = 0; i < 4000; i++) {
      const t = drawTransform(rng, true, 2);
      if (t.flip) flips++;
      shifts.add(t.dx).add(t.dy);
    }
    expect(flips / 4000).toBeGreaterThan(0.46);
    expect(flips / 4000).toBeLessThan(0.54);
    expect([...shifts].sort()).toEqual([-1, -2, 0, 1, 2].sort());
    expect(drawTransform(rng, false, 0)).toEqual({ flip: false, dx: 0, dy: 0 });
  });
});

describe('augment stage', () => {
  const plan = { flip: true, translate: 2, seed: 9, fill };
  const batch = (step: number): BatchPlan => ({ step, epoch: 0, rows: Int32Array.from([3, 1, 4, 1, 5, 9, 2, 6]) });
  const run = async (steps: number[], p = plan) =>
    (await lastValueFrom(of(...steps.map(batch)).pipe(augment(data, p, 8), toArray()))).map((b) => ({ rows: Array.from(b.rows), images: Uint8Array.from(b.augment!.images()) }));

  it('transforms the batch records as drawn from (seed, step), keeping the rows', async () => {
    const [b] = await run([6]);
    expect(b.rows).toEqual([3, 1, 4, 1, 5, 9, 2, 6]);
    const rng = augmentRng(9, 6);
    b.rows.forEach((row, r) => {
      const t = drawTransform(rng, true, 2);
      expect(Array.from(b.images.subarray(r * PIXELS, (r + 1) * PIXELS))).toEqual(Array.from(naive(pixels.subarray(row * PIXELS, (row + 1) * PIXELS), t, fill)));
    });
  });

  it('depends on (seed, step) only: a step alone equals the same step in a longer stream (resume); other steps and seeds differ', async () => {
    const [, six] = await run([5, 6]);
    const [alone] = await run([6]);
    expect(Array.from(alone.images)).toEqual(Array.from(six.images));
    const [five] = await run([5]);
    expect(Array.from(five.images)).not.toEqual(Array.from(six.images));
    const [other] = await run([6], { ...plan, seed: 10 });
    expect(Array.from(other.images)).not.toEqual(Array.from(six.images));
  });

  it('feeds the normalize stage, which standardises the augmented images instead of the records', async () => {
    const backend = new ReferenceBackend();
    const X = backend.matrix(8, PIXELS);
    const [out] = await lastValueFrom(of(batch(6)).pipe(augment(data, plan, 8), normalize(backend, data, norm, X), toArray()));
    const images = out.augment!.images();
    const x = await backend.read(out.X);
    for (const j of [0, 100, 1500, 3071]) {
      expect(x[2 * PIXELS + j]).toBeCloseTo((images[2 * PIXELS + j] / 255 - norm.mean[j]) * norm.invStd[j], 5);
    }
    expect(Array.from(out.labels)).toEqual([3, 1, 4, 1, 5, 9, 2, 6].map((r) => labels[r]));
  });
});

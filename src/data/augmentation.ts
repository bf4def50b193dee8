/**
 * Data augmentation of CIFAR images in their uint8 layout (1024 red, then 1024 green, then 1024 blue bytes, each a
 * row-major 32×32 plane): a left–right mirror and a translation by (dx, dy) whole pixels, done in one pass,
 *
 *   out(c, y, x) = in(c, y − dy, x′)   with x′ = 31 − (x − dx) when mirrored, else x − dx,
 *
 * and out(c, y, x) = fill(c, y, x) where the source pixel lies outside the image. `fill` is the training mean of each
 * position rounded to a byte (fillFromMean), so uncovered pixels are ≈ 0 once normalised, as when shifting
 * normalised images with zero padding.
 */
import { PIXELS } from './cifar.js';
import type { Rng } from '../util/rng.js';

export const SIDE = 32;
const PLANE = SIDE * SIDE;

export interface ImageTransform {
  flip: boolean;
  /** Shift right (positive) or left, in pixels. */
  dx: number;
  /** Shift down (positive) or up, in pixels. */
  dy: number;
}

/** The padding image: the per-position training mean (values in [0, 1]) as bytes. */
export function fillFromMean(mean: Float32Array): Uint8Array {
  return Uint8Array.from(mean, (v) => Math.max(0, Math.min(255, Math.round(v * 255))));
}

/** A random transform: mirrored with probability 1/2 when `flip`, dx and dy uniform in [−translate, translate]. */
export function drawTransform(rng: Rng, flip: boolean, translate: number): ImageTransform {
  return {
    flip: flip && rng.int(0, 1) === 1,
    dx: translate > 0 ? rng.int(-translate, translate) : 0,
    dy: translate > 0 ? rng.int(-translate, translate) : 0,
  };
}

/**
 * Writes the transformed image of src[srcOffset …] to dst[dstOffset …] (3072 bytes each; src and dst do not overlap).
 *
 * Fast path: within a colour plane a shift is one offset (out[i] = in[i − (32 dy + dx)]), so the covered rows are
 * one block copy (TypedArray.set); a mirror then reverses each row in place 4 bytes at a time (the 8 words of a row
 * in reverse order, each byte-swapped), after a copy shifted by −dx; last, the uncovered rows and columns get the
 * fill. About memcpy speed, against a loop over every byte.
 */
export function transformImage(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number, t: ImageTransform, fill: Uint8Array): void {
  const { flip, dx, dy } = t;
  if (!flip && dx === 0 && dy === 0) {
    dst.set(src.subarray(srcOffset, srcOffset + PIXELS), dstOffset);
    return;
  }
  if (((dst.byteOffset + dstOffset) & 3) !== 0) {
    transformImageBytewise(src, srcOffset, dst, dstOffset, t, fill);
    return;
  }
  const y0 = Math.max(0, dy), y1 = Math.min(SIDE, SIDE + dy); // rows whose source row lies inside the image
  const x0 = Math.max(0, dx), x1 = Math.min(SIDE, SIDE + dx); // columns whose source column does
  const sx = flip ? -dx : dx; // the shift of the copy that the mirror then turns into dx
  const words = wordsOf(dst), base = (dst.byteOffset + dstOffset) >> 2;
  for (let c = 0; c < 3; c++) {
    const plane = c * PLANE, out = dstOffset + plane, inp = srcOffset + plane;
    if (y0 < y1 && x0 < x1) {
      const off = dy * SIDE + sx;
      const lo = y0 * SIDE + Math.max(0, sx), hi = y1 * SIDE + Math.min(0, sx);
      dst.set(src.subarray(inp + lo - off, inp + hi - off), out + lo);
      if (flip) {
        for (let y = y0; y < y1; y++) {
          const w = base + ((plane + y * SIDE) >> 2);
          for (let j = 0; j < 4; j++) {
            const a = words[w + j], b = words[w + 7 - j];
            words[w + j] = ((b & 0xff) << 24) | ((b & 0xff00) << 8) | ((b >>> 8) & 0xff00) | (b >>> 24);
            words[w + 7 - j] = ((a & 0xff) << 24) | ((a & 0xff00) << 8) | ((a >>> 8) & 0xff00) | (a >>> 24);
          }
        }
      }
    }
    for (let y = 0; y < SIDE; y++) {
      const at = plane + y * SIDE, o = dstOffset + at;
      if (y < y0 || y >= y1 || x0 >= x1) {
        for (let x = 0; x < SIDE; x++) dst[o + x] = fill[at + x];
        continue;
      }
      for (let x = 0; x < x0; x++) dst[o + x] = fill[at + x];
      for (let x = x1; x < SIDE; x++) dst[o + x] = fill[at + x];
    }
  }
}

const wordViews = new WeakMap<ArrayBufferLike, Uint32Array>();

/** A 32-bit view of the whole buffer under `a` (made once per buffer). */
function wordsOf(a: Uint8Array): Uint32Array {
  let w = wordViews.get(a.buffer);
  if (!w) {
    w = new Uint32Array(a.buffer, 0, a.buffer.byteLength >> 2);
    wordViews.set(a.buffer, w);
  }
  return w;
}

/** The same transform, byte by byte (any alignment). */
function transformImageBytewise(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number, t: ImageTransform, fill: Uint8Array): void {
  const { flip, dx, dy } = t;
  const x0 = Math.max(0, dx), x1 = Math.min(SIDE, SIDE + dx);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < SIDE; y++) {
      const at = c * PLANE + y * SIDE, out = dstOffset + at, sy = y - dy;
      if (sy < 0 || sy >= SIDE || x0 >= x1) {
        for (let x = 0; x < SIDE; x++) dst[out + x] = fill[at + x];
        continue;
      }
      const row = srcOffset + c * PLANE + sy * SIDE;
      for (let x = 0; x < x0; x++) dst[out + x] = fill[at + x];
      if (flip) {
        const base = row + SIDE - 1 + dx; // x′ = 31 − x + dx
        for (let x = x0; x < x1; x++) dst[out + x] = src[base - x];
      } else {
        const base = row - dx;
        for (let x = x0; x < x1; x++) dst[out + x] = src[base + x];
      }
      for (let x = x1; x < SIDE; x++) dst[out + x] = fill[at + x];
    }
  }
}

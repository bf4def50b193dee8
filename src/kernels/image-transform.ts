/**
 * The image transform of data augmentation (src/data/augmentation.ts draws them), on CIFAR images in their uint8
 * layout (1024 red, then 1024 green, then 1024 blue bytes, each a row-major 32×32 plane): a left–right mirror and a
 * translation by (dx, dy) whole pixels, done in one pass,
 *
 *   out(c, y, x) = in(c, y − dy, x′)   with x′ = 31 − (x − dx) when mirrored, else x − dx,
 *
 * and out(c, y, x) = fill(c, y, x) where the source pixel lies outside the image. Here in kernels/ because the gather
 * helper thread (gather-thread.ts) transforms the rows of a batch it gathers ahead with the same code.
 */
export const SIDE = 32;
const PLANE = SIDE * SIDE;
/** Bytes of one image. */
export const IMAGE_BYTES = 3 * PLANE;

export interface ImageTransform {
  flip: boolean;
  /** Shift right (positive) or left, in pixels. */
  dx: number;
  /** Shift down (positive) or up, in pixels. */
  dy: number;
}

/** A transform as one integer (for the gather helper's control array): flip in bit 0, dx + 128 and dy + 128 above. */
export function packTransform(t: ImageTransform): number {
  return (t.flip ? 1 : 0) | ((t.dx + 128) << 1) | ((t.dy + 128) << 9);
}

export function unpackTransform(code: number): ImageTransform {
  return { flip: (code & 1) === 1, dx: ((code >> 1) & 255) - 128, dy: ((code >> 9) & 255) - 128 };
}

/**
 * Writes rows[rowsAt + r0 .. rowsAt + r1) of `records` (images of IMAGE_BYTES), each transformed by its packed
 * transform codes[codesAt + r], one after the other into `out` from offset 0 (the augmented counterpart of copyRows).
 */
export function transformRows(records: Uint8Array, rows: ArrayLike<number>, rowsAt: number, r0: number, r1: number,
  codes: ArrayLike<number>, codesAt: number, fill: Uint8Array, out: Uint8Array): void {
  for (let r = r0; r < r1; r++) {
    transformImage(records, rows[rowsAt + r] * IMAGE_BYTES, out, (r - r0) * IMAGE_BYTES, unpackTransform(codes[codesAt + r]), fill);
  }
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
    dst.set(src.subarray(srcOffset, srcOffset + IMAGE_BYTES), dstOffset);
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

/**
 * Dropout's mask as a pure function of (seed, index): a counter-based hash instead of a random stream, so every
 * backend (host loops, wasm, a GPU) draws the same mask for the same step without sharing generator state, and a
 * resumed run draws the masks an uninterrupted one would. The hash is murmur3's 32-bit finaliser.
 */

/** A 32-bit hash of (seed, index), uniform enough for masks. */
export function maskHash(seed: number, index: number): number {
  let h = (Math.imul(index, 0x9e3779b1) ^ seed) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The hash threshold of a keep probability: unit `index` is kept when maskHash(seed, index) < threshold. */
export function keepThreshold(keep: number): number {
  return Math.min(2 ** 32, Math.round(keep * 2 ** 32));
}

export function keepUnit(seed: number, index: number, keep: number): boolean {
  return maskHash(seed, index) < keepThreshold(keep);
}

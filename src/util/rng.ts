/** Seeded random numbers: every random choice of a run flows from one of these. */
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export class Rng {
  private readonly gen: ReturnType<typeof xoroshiro128plus>;
  private spare: number | null = null;

  constructor(seed: number) {
    this.gen = xoroshiro128plus(seed >>> 0);
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return uniformInt(this.gen, min, max);
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = uniformInt(this.gen, 0, (1 << 26) - 1);
    const lo = uniformInt(this.gen, 0, (1 << 27) - 1);
    return (hi * 134217728 + lo) / 9007199254740992;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    if (this.spare !== null) { const s = this.spare; this.spare = null; return s; }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const t = a[i]; a[i] = a[j]; a[j] = t;
    }
    return a;
  }
}

/** A seed derived from a parent seed and a label, so independent streams (init, shuffle, trials) never share draws. */
export function deriveSeed(seed: number, label: string): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b) >>> 0; h ^= h >>> 13;
  return h >>> 0;
}

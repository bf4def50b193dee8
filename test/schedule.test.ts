import { describe, expect, it } from 'vitest';
import { cyclicalEta } from '../src/model/schedule.js';

describe('triangular cyclical learning rate', () => {
  const s = { etaMin: 1e-5, etaMax: 1e-1, ns: 500 };
  it.each([
    [0, 1e-5],
    [250, 1e-5 + 0.5 * (1e-1 - 1e-5)],
    [500, 1e-1],
    [750, 1e-5 + 0.5 * (1e-1 - 1e-5)],
    [1000, 1e-5],
    [1100, 1e-5 + 0.2 * (1e-1 - 1e-5)],
    [1500, 1e-1],
    [2999, 1e-5 + (1 / 500) * (1e-1 - 1e-5)],
  ])('at step %i eta is %f', (step, eta) => {
    expect(cyclicalEta(s, step)).toBeCloseTo(eta, 12);
  });

  it('is linear on each half cycle and stays within [etaMin, etaMax]', () => {
    for (let t = 0; t < 4000; t++) {
      const e = cyclicalEta(s, t);
      expect(e).toBeGreaterThanOrEqual(s.etaMin - 1e-15);
      expect(e).toBeLessThanOrEqual(s.etaMax + 1e-15);
      const slope = cyclicalEta(s, t + 1) - e;
      expect(Math.abs(Math.abs(slope) - (s.etaMax - s.etaMin) / s.ns)).toBeLessThan(1e-12);
    }
  });
});

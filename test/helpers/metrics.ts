/** The resolved config of a report-like cycle1 run (the parts the plots and page read). */
export const CONFIG = {
  name: 'cycle1',
  train: { lambda: 0.01, batchSize: 100 },
  schedule: { etaMin: 1e-5, etaMax: 0.1, ns: 500, cycles: 1 },
  model: { hidden: 50 },
};

/** A completed run's summary.json with that config. */
export const SUMMARY = {
  status: 'completed',
  backend: 'js',
  seed: 42,
  steps: 1000,
  epochs: 10,
  seconds: 75.3,
  samplesPerSecond: 1328,
  config: CONFIG,
  final: {
    train: { loss: 1.21, cost: 1.51, accuracy: 0.5512 },
    val: { loss: 1.55, cost: 1.85, accuracy: 0.4512 },
    test: { loss: 1.54, cost: 1.84, accuracy: 0.4497 },
  },
};

/** Synthetic metrics.csv rows of a cyclical run: `points` evaluation points every `every` steps. */
export function metricsLines(points: number, every = 100, ns = 500): string[] {
  const lines: string[] = [];
  for (let i = 0; i < points; i++) {
    const step = i * every;
    const t = step % (2 * ns);
    const eta = 1e-5 + (t <= ns ? t / ns : (2 * ns - t) / ns) * (0.1 - 1e-5);
    const tl = 2.3 * Math.exp(-step / 800) + 1.2;
    const vl = tl + 0.1;
    const ta = 0.1 + 0.45 * (1 - Math.exp(-step / 700));
    const va = 0.1 + 0.36 * (1 - Math.exp(-step / 700));
    lines.push([step, (step / 100).toFixed(2), eta, tl, tl + 0.3, ta, vl, vl + 0.3, va, (step / 50).toFixed(3)].join(','));
  }
  return lines;
}

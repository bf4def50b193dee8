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

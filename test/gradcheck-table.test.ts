/** The gradient-check table on the terminal: within 100 columns even for the widest values, every row present. */
import { describe, expect, it } from 'vitest';
import { formatTable } from '../src/gradcheck/run.js';
import type { GradcheckRow } from '../src/formats/gradcheck.js';

const row = (o: Partial<GradcheckRow>): GradcheckRow => ({
  param: 'W1', size: 153_600, checked: 153_600, maxAbsDiff: 1.234e-11, maxRelError: 4.567e-8, infRelError: 8.9e-10, normRelError: 1.1e-9, maxAbsGrad: 0.5,
  check: 'numerical-f64', backend: 'reference-f64', lambda: 0.000123456789, criterion: 'max_rel_error', threshold: 1e-6, passed: true, ...o,
} as GradcheckRow);

describe('gradcheck table', () => {
  it('fits 100 columns with the widest values (3072 inputs, long backend names, NaN), one table per check', () => {
    const rows: GradcheckRow[] = [];
    for (const lambda of [0, 0.000123456789]) {
      for (const param of ['W1', 'b1', 'W2', 'b2'] as const) {
        rows.push(row({ lambda, param }));
        rows.push(row({ lambda, param, check: 'float32-vs-f64', backend: 'gpujs-headlessgl', criterion: 'inf_rel_error', threshold: 1e-4, maxRelError: NaN, infRelError: -Infinity, passed: false }));
      }
    }
    const text = formatTable(rows);
    const lines = text.split('\n');
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(100);
    const tables = text.split('\n\n');
    expect(tables).toHaveLength(2);
    expect(tables[0].split('\n')[0]).toBe('numerical-f64 (reference-f64): analytic vs numerical gradients; pass when max rel err ≤ 1e-6');
    expect(tables[1].split('\n')[0]).toBe('float32-vs-f64 (gpujs-headlessgl): float32 vs float64 gradients; pass when inf-rel err ≤ 1e-4');
    expect(tables[0].split('\n')).toHaveLength(3 + 8);
    expect(tables[1].split('\n')).toHaveLength(3 + 8);
    expect(tables[0]).toMatch(/^0\.000123456789\s+b2\s+153600\/153600\s+1\.234e-11\s+4\.567e-8\s+8\.900e-10\s+1\.100e-9\s+yes$/m);
    expect(tables[1]).toMatch(/^0\s+W1\s+153600\/153600\s+1\.234e-11\s+NaN\s+-Infinity\s+1\.100e-9\s+NO$/m);
  });
});

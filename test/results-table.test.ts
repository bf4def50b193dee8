// The README's results table against real runs: the fast rows (gradient check, sanity, cycle1, cycle3) are run on the
// backend their row names, and the figures they print must be the README's to the printed digit
// (scripts/results-table.ts, `npm run results -- --write`, measures the table again). Needs the CIFAR-10 data
// (../shared/cifar-10-batches-bin or $CIFAR10_DIR): without it the file skips with one line, and fails under CI=true.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXPERIMENTS, measure, readmeBackend, readmeResult, tableRows, TABLE_END, TABLE_START, updatedReadme } from '../scripts/results-table.js';

const readme = readFileSync('README.md', 'utf8');
const data = [process.env.CIFAR10_DIR, '../shared/cifar-10-batches-bin', 'data/cifar-10-batches-bin'].find((d) => d && existsSync(join(d, 'data_batch_1.bin')));
const work = mkdtempSync(join(tmpdir(), 'cifar-results-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The CLI backend that gives a README backend name (blas-openblas → blas). */
const backendOption = (name: string) => (name.startsWith('blas') ? 'blas' : name);

describe('the README results table', () => {
  it('has a row for every experiment the script runs, each naming its backend and date', () => {
    expect(readme.indexOf(TABLE_START)).toBeGreaterThan(0);
    expect(readme.indexOf(TABLE_END)).toBeGreaterThan(readme.indexOf(TABLE_START));
    const rows = tableRows(readme);
    for (const e of EXPERIMENTS) expect(rows.filter((r) => r[0].startsWith(e.row)), e.key).toHaveLength(1);
    for (const r of rows) expect(r, r[0]).toHaveLength(5);
    for (const e of EXPERIMENTS) expect(readmeBackend(readme, e), e.key).toMatch(/^[a-z0-9-]+$/);
    // Rewriting a row changes its cells only; every other line of README.md stays.
    const next = updatedReadme(readme, [{ key: 'cycle1', result: 'test accuracy 1.23%', seconds: 75, backend: 'wasm-simd', date: '2030-01-02', stderr: '' }], 'a test machine (2 cores)');
    expect(readmeResult(next, EXPERIMENTS.find((e) => e.key === 'cycle1')!)).toBe('test accuracy 1.23%');
    expect(next).toContain('| cycle1 | test accuracy 1.23% | 44.97% | 1.3 min | wasm-simd, 2030-01-02 |');
    expect(next).toContain('Results measured on a test machine (2 cores), beside');
    expect(next.split('\n').length).toBe(readme.split('\n').length);
  });

  for (const e of EXPERIMENTS.filter((x) => x.fast)) it(`${e.key}: the figures it prints are the README's`, (ctx) => {
    const key = e.key;
    if (!data) {
      const why = 'needs the CIFAR-10 data (../shared/cifar-10-batches-bin or $CIFAR10_DIR)';
      if (process.env.CI === 'true') throw new Error(why);
      console.warn(`skipped: results table check ${why}`);
      ctx.skip();
    }
    const backend = readmeBackend(readme, e)!;
    const m = measure(e, { cli: resolve('dist/cli.js'), data: resolve(data!), work, extraArgs: ['--backend', backendOption(backend)] });
    if (m.backend !== backend) {
      const why = `its row was measured on ${backend}; this machine ran ${m.backend}`;
      if (process.env.CI === 'true') throw new Error(why);
      console.warn(`skipped: results table check of ${key}: ${why}`);
      ctx.skip();
    }
    expect(m.result, `${key}: README.md says "${readmeResult(readme, e)}"; npm run results -- --only ${key} --write updates it`).toBe(readmeResult(readme, e));
    const accuracy = /test accuracy (\d+\.\d\d%)/.exec(m.result)?.[1];
    if (accuracy) expect(m.stderr).toMatch(new RegExp(`cifar-mlp: completed .*test ${accuracy.replace('.', '\\.')}`));
  }, 120_000);
});

/** `cifar-mlp plot <out-dir>`: re-renders plots and the page of a run folder, also of an interrupted run. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { METRICS_COLUMNS } from '../src/formats/metrics-csv.js';

const root = mkdtempSync(join(tmpdir(), 'cifar-plot-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const cli = (...args: string[]) => spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8' });

describe('cifar-mlp plot', () => {
  it('renders the three figures and report.html of an interrupted run (no summary, half-written last row)', () => {
    const dir = join(root, 'interrupted');
    const rows = [0, 10, 20, 30].map((s) => [s, s / 100, 1e-5 + s * 1e-3, 2.3 - s / 50, 2.4 - s / 50, 0.1 + s / 100, 2.3 - s / 60, 2.4 - s / 60, 0.1 + s / 120, s / 10].join(','));
    spawnSync('mkdir', ['-p', dir]);
    writeFileSync(join(dir, 'metrics.csv'), `${METRICS_COLUMNS.join(',')}\n${rows.join('\n')}\n40,0.4,0.0`);
    const r = cli('plot', dir);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('plots and report.html written');
    for (const f of ['lr', 'loss', 'accuracy']) {
      expect(statSync(join(dir, `${f}.png`)).size).toBeGreaterThan(5000);
      expect(readFileSync(join(dir, `${f}.svg`), 'utf8')).toContain('update step');
    }
    const page = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(page.match(/src="data:image\/svg\+xml/g)?.length).toBe(3);
    expect(page).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
  });

  it('refuses a folder without metrics.csv with one line and exit 2, writing nothing', () => {
    const dir = mkdtempSync(join(root, 'empty-'));
    const r = cli('plot', dir);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`cifar-mlp: ${dir}: no metrics.csv in this folder (neither a run nor a search folder)`);
    expect(existsSync(join(dir, 'report.html'))).toBe(false);
  });
});

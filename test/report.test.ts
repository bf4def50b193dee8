import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../src/util/atomic.js';
import { METRICS_COLUMNS, parseMetricsCsv } from '../src/formats/metrics-csv.js';
import { readRunArtifacts } from '../src/report/run-folder.js';
import {
  formatNumber,
  renderMetricsPlots,
  renderRunPlots,
  renderScatter,
  runInfoFromConfig,
  runTitle,
  svgToPng,
} from '../src/report/plots.js';
import { CONFIG, metricsLines, SUMMARY } from './helpers/metrics.js';

const HEADER = METRICS_COLUMNS.join(',');


/** Text content of every <text> element (or each of its <tspan> lines) in an SVG. */
function svgTexts(svg: string): string[] {
  return [...svg.matchAll(/<(text|tspan)\b[^>]*>([^<]+)</g)].map((m) => m[2]);
}
function count(svg: string, roleDescription: string): number {
  return svg.split(`aria-roledescription="${roleDescription}"`).length - 1;
}
function decodePng(buf: Buffer): PNG {
  expect([...buf.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return PNG.sync.read(buf);
}
function darkPixels(png: PNG, region?: { x0: number; y0: number; x1: number; y1: number }): number {
  const { x0 = 0, y0 = 0, x1 = png.width, y1 = png.height } = region ?? {};
  let n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * png.width + x) * 4;
      if (png.data[i] < 100 && png.data[i + 1] < 100 && png.data[i + 2] < 100) n++;
    }
  }
  return n;
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cifar-report-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function runDir(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) await writeFile(join(dir, file), content);
  return dir;
}

describe('metrics.csv reader', () => {
  it('parses numbers, maps NA to null and keeps every complete row', async () => {
    const text = [HEADER, '0,0,1e-5,2.3,2.6,0.1,2.31,2.61,0.1,0.5', '100,1,0.02,NA,NA,NA,2.0,2.3,0.2,1.5', ''].join('\n');
    const { rows, skipped } = await parseMetricsCsv(text);
    expect(skipped).toBe(0);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ step: 0, eta: 1e-5, train_loss: 2.3, val_acc: 0.1, elapsed_s: 0.5 });
    expect(rows[1]).toMatchObject({ step: 100, train_loss: null, train_cost: null, train_acc: null, val_loss: 2.0 });
  });

  it('skips a truncated last line (missing cells or a cut number) and malformed lines', async () => {
    const lines = metricsLines(5);
    const cut = [HEADER, ...lines, '500,5,0.0', ''].join('\n');
    expect(await parseMetricsCsv(cut)).toMatchObject({ skipped: 1 });
    expect((await parseMetricsCsv(cut)).rows).toHaveLength(5);
    const cutMidNumber = [HEADER, ...lines, '500,5,0.02,1.3,1.6,0.5,1.4,1.7,0.4,1e'].join('\n');
    expect((await parseMetricsCsv(cutMidNumber)).rows).toHaveLength(5);
    const garbage = [HEADER, lines[0], 'hello,world,,,,,,,,', lines[1]].join('\r\n');
    expect(await parseMetricsCsv(garbage)).toMatchObject({ skipped: 1 });
    expect((await parseMetricsCsv(garbage)).rows.map((r) => r.step)).toEqual([0, 100]);
  });

  it('accepts a last line without newline, an empty file, a header alone, and reordered/extra columns', async () => {
    expect((await parseMetricsCsv([HEADER, ...metricsLines(3)].join('\n'))).rows).toHaveLength(3);
    expect(await parseMetricsCsv('')).toEqual({ rows: [], header: [], skipped: 0 });
    expect((await parseMetricsCsv(HEADER + '\n')).rows).toEqual([]);
    const { rows } = await parseMetricsCsv('val_acc,step,extra\n0.4,10,7\n');
    expect(rows[0]).toMatchObject({ step: 10, val_acc: 0.4, eta: null, train_loss: null });
  });

  it('reads a run directory without summary.json, or with a damaged one', async () => {
    const dir = await runDir('artifacts', {
      'metrics.csv': [HEADER, ...metricsLines(2)].join('\n'),
      'summary.json': '{"status": "comp',
      'config.yaml': 'name: cycle1\ntrain:\n  lambda: 0.01\n',
    });
    const run = await readRunArtifacts(dir);
    expect(run.summary).toBeNull();
    expect(run.config).toMatchObject({ name: 'cycle1', train: { lambda: 0.01 } });
    expect(run.metrics?.rows).toHaveLength(2);
    const empty = await readRunArtifacts(await runDir('empty', {}));
    expect(empty).toMatchObject({ metrics: null, summary: null, configYaml: null, config: null });
  });
});

describe('titles', () => {
  it('carries the run key settings', async () => {
    expect(runTitle(runInfoFromConfig(CONFIG))).toBe('cycle1 · λ=0.01 · ns=500 · n_batch=100 · m=50 · 1 cycle');
    expect(runTitle(runInfoFromConfig({ name: 'final', train: { lambda: 10 ** -2.82638, batchSize: 100 }, schedule: { ns: 500, epochs: 20 } }))).toBe(
      'final · λ=0.00149 · ns=500 · n_batch=100 · 20 epochs',
    );
    expect(runTitle({})).toBe('training run');
    expect(formatNumber(1e-7)).toBe('1e-7');
  });
});

describe('run plots', () => {
  it('renders lr, loss and accuracy as SVG and PNG for a completed run', async () => {
    const n = 11;
    const dir = await runDir('completed', {
      'metrics.csv': [HEADER, ...metricsLines(n)].join('\n') + '\n',
      'summary.json': JSON.stringify(SUMMARY),
    });
    const files = await renderRunPlots(dir);
    expect(files.map((f) => f.slice(dir.length + 1)).sort()).toEqual(
      ['accuracy.png', 'accuracy.svg', 'loss.png', 'loss.svg', 'lr.png', 'lr.svg'],
    );
    // atomic writes leave no temporary files behind
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const lr = await readFile(join(dir, 'lr.svg'), 'utf8');
    const lrTexts = svgTexts(lr);
    expect(lrTexts).toContain('update step');
    expect(lrTexts).toContain('learning rate η');
    expect(lrTexts).toContain('Learning rate');
    expect(lrTexts).toContain('cycle1 · λ=0.01 · ns=500 · n_batch=100 · m=50 · 1 cycle');
    expect(count(lr, 'line mark')).toBe(1);
    expect(count(lr, 'point')).toBe(0); // drawn from the schedule in summary.json: a line, no evaluation-point markers

    const loss = await readFile(join(dir, 'loss.svg'), 'utf8');
    const lossTexts = svgTexts(loss);
    expect(lossTexts).toEqual(expect.arrayContaining(['update step', 'loss / cost', 'training loss', 'validation loss', 'training cost', 'validation cost']));
    expect(count(loss, 'line mark')).toBe(4);
    expect(count(loss, 'point')).toBe(4 * n);
    expect(count(loss, 'legend')).toBe(1);

    const acc = await readFile(join(dir, 'accuracy.svg'), 'utf8');
    const accTexts = svgTexts(acc);
    expect(accTexts).toEqual(expect.arrayContaining(['update step', 'accuracy', 'training accuracy', 'validation accuracy']));
    expect(accTexts.some((t) => /^\d+%$/.test(t))).toBe(true); // fractions shown as percentages
    expect(count(acc, 'line mark')).toBe(2);
    expect(count(acc, 'point')).toBe(2 * n);

    for (const name of ['lr', 'loss', 'accuracy']) {
      const buf = await readFile(join(dir, `${name}.png`));
      expect(buf.length).toBeGreaterThan(20_000);
      const png = decodePng(buf);
      expect(png.width).toBeGreaterThan(1000);
      expect(png.width).toBeLessThan(2400);
      expect(png.height).toBeGreaterThan(500);
      // text is drawn: the title band at the top holds dark (black) glyph pixels
      expect(darkPixels(png, { x0: 0, y0: 0, x1: png.width, y1: 60 })).toBeGreaterThan(200);
    }
  });

  it('handles an interrupted run: truncated last line, missing values, no summary', async () => {
    const lines = metricsLines(7);
    lines[3] = lines[3].split(',').map((v, i) => (i >= 6 && i <= 8 ? 'NA' : v)).join(','); // no validation at one point
    const dir = await runDir('interrupted', {
      'metrics.csv': [HEADER, ...lines, '700,7,0.06,1.5,1.'].join('\n'),
      'config.yaml': 'name: cycle1\ntrain:\n  lambda: 0.01\n  batchSize: 100\nschedule:\n  ns: 500\n  cycles: 1\nmodel:\n  hidden: 50\n',
    });
    const files = await renderRunPlots(dir);
    expect(files).toHaveLength(6);
    for (const f of files) expect(existsSync(f)).toBe(true);
    const loss = await readFile(join(dir, 'loss.svg'), 'utf8');
    expect(count(loss, 'line mark')).toBe(4);
    expect(count(loss, 'point')).toBe(2 * 7 + 2 * 6);
    const texts = svgTexts(loss);
    expect(texts).toContain('cycle1 · λ=0.01 · ns=500 · n_batch=100 · m=50 · 1 cycle');
    expect(texts).toContain('incomplete run: no summary.json');
    expect(count(await readFile(join(dir, 'lr.svg'), 'utf8'), 'point')).toBe(7);
  });

  it('flags a diverged run and tolerates non-finite values', async () => {
    const lines = [...metricsLines(4), '400,4,0.08,Infinity,Infinity,0.1,NaN,NaN,0.1,8'];
    const dir = await runDir('diverged', {
      'metrics.csv': [HEADER, ...lines].join('\n') + '\n',
      'summary.json': JSON.stringify({ ...SUMMARY, status: 'diverged', final: {} }),
    });
    await renderRunPlots(dir);
    const loss = await readFile(join(dir, 'loss.svg'), 'utf8');
    expect(svgTexts(loss)).toContain('run diverged');
    expect(count(loss, 'point')).toBe(4 * 4);
    expect(count(await readFile(join(dir, 'accuracy.svg'), 'utf8'), 'point')).toBe(2 * 5);
  });

  it('renders empty figures for a run interrupted before its first evaluation, and rejects a directory without metrics.csv', async () => {
    const dir = await runDir('header-only', { 'metrics.csv': HEADER + '\n' });
    const files = await renderRunPlots(dir);
    expect(files).toHaveLength(6);
    const lr = await readFile(join(dir, 'lr.svg'), 'utf8');
    expect(svgTexts(lr)).toContain('update step');
    expect(count(lr, 'point')).toBe(0);
    await expect(renderRunPlots(await runDir('no-metrics', {}))).rejects.toThrow(/no metrics\.csv/);
  });

  it('draws lines without markers when there are many points', async () => {
    const dir = await runDir('many', {});
    const rows = (await parseMetricsCsv([HEADER, ...metricsLines(200, 10)].join('\n'))).rows;
    const figures = await renderMetricsPlots(rows, 'many points', dir);
    expect(figures.map((f) => f.name)).toEqual(['lr', 'loss', 'accuracy']);
    expect(count(figures[1].svg, 'line mark')).toBe(4);
    expect(count(figures[1].svg, 'point')).toBe(0);
  });
});

describe('scatter plot', () => {
  it('renders validation accuracy vs log10(lambda)', async () => {
    const points = Array.from({ length: 8 }, (_, i) => {
      const l = -5 + (i * 4) / 7;
      return { l, acc: 0.5 - 0.01 * (l + 2.8) ** 2, search: i < 4 ? 'coarse' : 'fine' };
    });
    const base = join(root, 'lambda-search');
    const fig = await renderScatter(
      { x: 'l', y: 'acc', points, title: 'Lambda search', xLabel: 'log10(λ)', yLabel: 'validation accuracy', yFormat: '.1%', color: 'search' },
      base,
    );
    expect(fig.svgPath).toBe(`${base}.svg`);
    const svg = await readFile(`${base}.svg`, 'utf8');
    expect(svgTexts(svg)).toEqual(expect.arrayContaining(['Lambda search', 'log10(λ)', 'validation accuracy', 'coarse', 'fine']));
    expect(count(svg, 'point')).toBe(8);
    const png = decodePng(await readFile(`${base}.png`));
    expect(png.width).toBeGreaterThan(1000);

    const line = await renderScatter({ x: 'l', y: 'acc', points, title: 'line', xLabel: 'x', yLabel: 'y', line: true }, join(root, 'line'));
    expect(count(line.svg, 'line mark')).toBe(1);
  });
});

describe('helpers', () => {
  it('svgToPng draws text with a system font', async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text x="5" y="28" font-family="sans-serif" font-size="24" fill="#000">Axis λ 123</text></svg>';
    const png = decodePng(svgToPng(svg, 1));
    expect(png.width).toBe(200);
    expect(darkPixels(png)).toBeGreaterThan(100);
  });

  it('writeFileAtomic replaces the file and leaves no temporary file', async () => {
    const dir = await runDir('atomic', { 'a.txt': 'old' });
    await writeFileAtomic(join(dir, 'a.txt'), 'new');
    expect(await readFile(join(dir, 'a.txt'), 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['a.txt']);
  });
});

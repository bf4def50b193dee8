// Issue 21.7: plotting memory bounded by design. Every text a figure shows is cut to MAX_FIGURE_TEXT (a 10,000-
// character name once drove plotting past 3 GB, 120,000 to the OOM killer), a PNG never has more than MAX_PNG_PIXELS
// pixels, and resvg is given one font file rather than every system font; a search's summary reports the peak memory
// measured after plotting.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeReportPage } from '../src/report/page.js';
import { boundedTexts, MAX_FIGURE_TEXT, MAX_PNG_PIXELS, pngZoom, renderSvg, svgToPng } from '../src/report/plots.js';
import { cli } from './helpers/cli.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const root = mkdtempSync(join(tmpdir(), 'hostile-plot-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const dataDir = writeSyntheticCifar(join(root, 'data'), 30, 60);
let run = '';
beforeAll(async () => {
  run = join(root, 'run');
  const config = join(root, 'c.yaml');
  writeFileSync(config, stringify({
    name: 'tiny', data: { train: ['data_batch_1'], validation: ['data_batch_2'], test: ['test_batch'] }, model: { hidden: 4 },
    train: { batchSize: 10 }, schedule: { ns: 3, cycles: 1 }, eval: { every: 1 }, kernels: { backend: 'reference' },
  }));
  const r = await cli(['run', config, '--data', dataDir, '--out', run]);
  expect(r.code, r.stderr).toBe(0);
}, 120_000);

describe('texts of figures', () => {
  it('titles, subtitles and inline data strings are cut; expressions are not', () => {
    const long = 'n'.repeat(10_000);
    const spec = boundedTexts({
      title: { text: long, subtitle: [long, 'short'] },
      data: { values: [{ trial: long, acc: 0.5 }] },
      transform: [{ filter: `datum.trial != '${long}'` }],
      encoding: { x: { field: 'acc', title: long } },
    });
    expect(spec.title.text).toHaveLength(MAX_FIGURE_TEXT);
    expect(spec.title.text.endsWith('…')).toBe(true);
    expect(spec.title.subtitle[0]).toHaveLength(MAX_FIGURE_TEXT);
    expect(spec.title.subtitle[1]).toBe('short');
    expect(spec.data.values[0].trial).toHaveLength(MAX_FIGURE_TEXT);
    expect(spec.data.values[0].acc).toBe(0.5);
    expect(spec.transform[0].filter).toHaveLength(10_000 + 17);
    expect(spec.encoding.x.title).toHaveLength(MAX_FIGURE_TEXT);
  });

  it('a run named with 120,000 characters is drawn in bounded memory and time', async () => {
    const dir = join(root, 'long-name');
    cpSync(run, dir, { recursive: true });
    const name = 'a very long name '.repeat(7_100);
    for (const file of ['config.yaml']) writeFileSync(join(dir, file), readFileSync(join(run, file), 'utf8').replace(/^name: .*$/m, `name: ${name}`));
    const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8'));
    writeFileSync(join(dir, 'summary.json'), JSON.stringify({ ...summary, name, config: { ...summary.config, name } }));
    const rss = process.memoryUsage().rss, t0 = Date.now();
    await writeReportPage(dir);
    expect(process.memoryUsage().rss - rss).toBeLessThan(400 * 2 ** 20);
    expect(Date.now() - t0).toBeLessThan(60_000);
    for (const f of ['lr', 'loss', 'accuracy']) {
      const png = PNG.sync.read(readFileSync(join(dir, `${f}.png`)));
      expect(png.width * png.height).toBeLessThanOrEqual(MAX_PNG_PIXELS);
      expect(png.width).toBeLessThan(4000);
      expect(readFileSync(join(dir, `${f}.svg`), 'utf8').length).toBeLessThan(200_000);
    }
  });
});

describe('PNG size', () => {
  it('is at most MAX_PNG_PIXELS whatever the SVG declares', () => {
    expect(pngZoom(800, 400, 2)).toBe(2);
    const z = pngZoom(100_000, 600, 2);
    expect(100_000 * 600 * z * z).toBeLessThanOrEqual(MAX_PNG_PIXELS * 1.0001);
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="12000" height="1000"><rect width="12000" height="1000" fill="red"/></svg>';
    const png = PNG.sync.read(svgToPng(svg));
    expect(png.width * png.height).toBeLessThanOrEqual(MAX_PNG_PIXELS);
    expect(png.width / png.height).toBeCloseTo(12, 0);
  });

  it('an ordinary figure is drawn at twice its size, with text', async () => {
    const svg = await renderSvg({ title: 'accuracy', data: { values: [{ x: 1, y: 2 }, { x: 2, y: 3 }] }, mark: 'line', encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } } });
    const w = Number(/width="([\d.]+)"/.exec(svg)![1]);
    expect(PNG.sync.read(svgToPng(svg)).width).toBe(Math.round(2 * w));
  });
});

describe('Vega\'s messages (21.13)', () => {
  const empty = { data: { values: [] }, mark: 'line' as const, encoding: { x: { field: 'step', type: 'quantitative' as const }, y: { field: 'acc', type: 'quantitative' as const } } };
  const captured = async () => {
    const lines: string[] = [];
    const spies = (['warn', 'error', 'log', 'info'] as const).map((m) => vi.spyOn(console, m).mockImplementation((...a: unknown[]) => void lines.push(a.join(' '))));
    try {
      await renderSvg(empty);
    } finally {
      for (const s of spies) s.mockRestore();
    }
    return lines;
  };
  it('an empty layer draws without "Infinite extent" on the terminal; CIFAR_MLP_DEBUG=1 shows it', async () => {
    expect(await captured()).toEqual([]);
    process.env.CIFAR_MLP_DEBUG = '1';
    try {
      expect((await captured()).join('\n')).toMatch(/Infinite extent for field "step"/);
    } finally {
      delete process.env.CIFAR_MLP_DEBUG;
    }
  });
});

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS_COLUMNS } from '../src/formats/metrics-csv.js';
import { writeReportPage } from '../src/report/page.js';
import { browserOrSkip } from './helpers/browser.js';
import { metricsLines, SUMMARY } from './helpers/metrics.js';

const HEADER = METRICS_COLUMNS.join(',');


const CONFIG_YAML = `name: cycle1
train:
  lambda: 0.01
  batchSize: 100
schedule:
  etaMin: 0.00001
  etaMax: 0.1
  ns: 500
  cycles: 1
model:
  hidden: 50
`;

// The npm Chromium (Linux x64/arm64), else a system Chrome/Chromium; none: one line and a skip (a failure under CI=true).
const launched = await browserOrSkip('report.html in headless Chromium');
const browser: Browser | undefined = launched?.browser;
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cifar-report-page-'));
});

afterAll(async () => {
  await browser?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

async function runDir(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) await writeFile(join(dir, file), content);
  return dir;
}

/** Opens report.html, checks the plots rendered, no console errors and no network; returns the page text. */
async function openAndCheck(reportPath: string, screenshotPath: string): Promise<string> {
  expect(browser, 'Chromium did not start').toBeDefined();
  const context = await browser!.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  const requests: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') consoleErrors.push(`${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`pageerror: ${err.message}`));
  page.on('request', (req) => requests.push(req.url()));
  const pageUrl = pathToFileURL(reportPath).href;
  try {
    await page.goto(pageUrl, { waitUntil: 'load' });
    const images = await page.$$eval('img.plot', (imgs) =>
      (imgs as HTMLImageElement[]).map((img) => {
        const r = img.getBoundingClientRect();
        return { complete: img.complete, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, width: r.width, height: r.height, src: img.src.slice(0, 26) };
      }),
    );
    expect(images).toHaveLength(3);
    for (const img of images) {
      expect(img.complete).toBe(true);
      expect(img.src).toBe('data:image/svg+xml;base64,');
      expect(img.naturalWidth).toBeGreaterThan(300);
      expect(img.naturalHeight).toBeGreaterThan(200);
      expect(img.width).toBeGreaterThan(300);
      expect(img.height).toBeGreaterThan(200);
    }
    await page.screenshot({ path: screenshotPath, fullPage: true });
    expect(consoleErrors).toEqual([]);
    // Only the page itself was loaded: no network, not even another local file.
    expect(requests.filter((u) => u !== pageUrl && !u.startsWith('data:'))).toEqual([]);
    return await page.innerText('body');
  } finally {
    await context.close();
  }
}

async function expectScreenshot(path: string): Promise<void> {
  const buf = await readFile(path);
  expect(buf.length).toBeGreaterThan(20_000);
  const png = PNG.sync.read(buf);
  expect(png.width).toBe(1100);
  expect(png.height).toBeGreaterThan(1500); // summary + three figures + config
}

describe.skipIf(!browser)(`report.html in headless Chromium (${launched?.source ?? 'no browser'})`, () => {
  it('shows the summary, the config and three rendered plots of a completed run', async () => {
    const dir = await runDir('completed', {
      'metrics.csv': [HEADER, ...metricsLines(11)].join('\n') + '\n',
      'summary.json': JSON.stringify(SUMMARY),
      'config.yaml': CONFIG_YAML,
    });
    const report = await writeReportPage(dir);
    expect(report).toBe(join(dir, 'report.html'));
    const html = await readFile(report, 'utf8');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//); // nothing remote referenced

    const shot = join(dir, 'screenshot.png');
    const text = await openAndCheck(report, shot);
    expect(text).toContain('completed');
    expect(text).toContain('js'); // backend
    expect(text).toContain('44.97%'); // test accuracy as a percentage
    expect(text).toContain('45.12%');
    expect(text).toContain('55.12%');
    expect(text).toContain('1,000'); // steps
    expect(text).toContain('1 min 15.3 s');
    expect(text).toContain('1,328 samples/s');
    expect(text).toContain('cycle1 · λ=0.01 · ns=500 · n_batch=100 · m=50 · 1 cycle');
    expect(text).toContain('etaMax: 0.1'); // the config YAML
    await expectScreenshot(shot);
    for (const name of ['lr', 'loss', 'accuracy']) expect(existsSync(join(dir, `${name}.png`))).toBe(true);
  });

  it('renders an interrupted run without summary.json and with a truncated metrics.csv', async () => {
    const dir = await runDir('interrupted', {
      'metrics.csv': [HEADER, ...metricsLines(6), '600,6,0.08,1.4'].join('\n'),
      'config.yaml': CONFIG_YAML,
    });
    const report = await writeReportPage(dir);
    const shot = join(dir, 'screenshot.png');
    const text = await openAndCheck(report, shot);
    expect(text).toContain('incomplete (no summary.json)');
    expect(text).toContain('Last recorded metrics');
    expect(text).toContain('metrics.csv lines skipped');
    expect(text).toContain('lambda: 0.01');
    await expectScreenshot(shot);
  });
});

/**
 * The dashboard's page in headless Chromium (the npm Chromium, else a system one; none: one line and a skip, a
 * failure under CI=true): no console errors; a training started after the page opened appears and its rows show;
 * the newest metrics row shows soon after it is written (measured and printed, not asserted as a timing); a trial
 * moves from running to pruned and to completed live; the exported page opens offline with the same numbers; HTML
 * in a run name is inert; traversal gets 4xx.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SearchDetail } from '../src/dashboard/api-types.js';
import { exportPage, startDashboard, type Dashboard } from '../src/dashboard/dashboard.js';
import { MetricsLog } from '../src/formats/metrics-csv.js';
import { writeRunSummary } from '../src/formats/run-summary.js';
import { RungsLog } from '../src/formats/rungs-csv.js';
import { TrialsLog } from '../src/formats/trials-csv.js';
import { browserOrSkip } from './helpers/browser.js';
import { cli } from './helpers/cli.js';
import { FIXTURE_SPACE, runSummary, stepMetrics, trialRow, writeRunFolder, writeSearchFolder } from './helpers/dashboard-fixtures.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const launched = await browserOrSkip('the dashboard in headless Chromium');
const browser: Browser | undefined = launched?.browser;
let root: string, outside: string, dataDir: string;
let dash: Dashboard;

const XSS_NAME = '<img src=x onerror=alert(1)>';

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'cifar-dashboard-page-'));
  outside = mkdtempSync(join(tmpdir(), 'cifar-dashboard-page-out-'));
  dataDir = writeSyntheticCifar(join(outside, 'data'), 200);
  await writeRunFolder(join(root, 'cycle1'), { name: 'cycle1', points: 21 });
  await writeRunFolder(join(root, 'xss'), { name: XSS_NAME, points: 3 });
  await writeSearchFolder(join(root, 'asha'), { name: 'asha', trials: 6, finished: 3 });
  dash = await startDashboard({ dirs: [root], host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await browser?.close();
  await dash?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

/** A page with its console errors, page errors, dialogs and requests recorded. */
async function open(url: string, opts: { offline?: boolean } = {}): Promise<{ page: Page; problems: string[]; requests: string[]; close: () => Promise<void> }> {
  // No locale: the browser's own (here often "en-US@posix", which uPlot alone cannot format with).
  const context = await browser!.newContext({ viewport: { width: 1300, height: 900 }, offline: opts.offline });
  const page = await context.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); void d.dismiss(); });
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(url, { waitUntil: 'load' });
  return { page, problems, requests, close: () => context.close() };
}

/** The text of the table row whose key is `key`, once it matches `re`; rejects after `ms`. */
async function rowText(page: Page, key: string, re: RegExp, ms = 10_000): Promise<string> {
  const handle = await page.waitForFunction(([k, source]) => {
    const row = document.querySelector(`.vt-row[data-key="${CSS.escape(k)}"]`);
    const text = row?.textContent ?? '';
    return new RegExp(source).test(text) ? text : null;
  }, [key, re.source] as const, { timeout: ms, polling: 'raf' });
  return (await handle.jsonValue()) as string;
}

describe.skipIf(!browser)(`the dashboard in headless Chromium (${launched?.source ?? 'no browser'})`, () => {
  it('loads with no console errors; a training started after the page opened appears and its rows show live', async () => {
    const { page, problems, close } = await open(dash.url);
    try {
      await rowText(page, 'cycle1', /cycle1.*completed.*200 \/ 200/);
      const config = join(outside, 'fresh.yaml');
      writeFileSync(config, JSON.stringify({
        name: 'fresh', seed: 1, data: { train: ['data_batch_1'], holdout: 100, test: ['test_batch'] }, model: { hidden: 16 },
        train: { batchSize: 50 }, schedule: { etaMin: 0.01, etaMax: 0.1, ns: 40, cycles: 1 }, eval: { pointsPerCycle: 4 }, kernels: { backend: 'wasm-simd' },
      }));
      const run = await cli(['run', config, '--data', dataDir, '--out', join(root, 'later', 'fresh')]);
      expect(run.code, run.stderr).toBe(0);
      const text = await rowText(page, 'later/fresh', /fresh.*completed.*80 \/ 80/);
      expect(text).toMatch(/\d+\.\d\d%/);
      await page.click('.vt-row[data-key="later/fresh"]');
      await page.waitForFunction(() => document.querySelector('.latest')?.getAttribute('data-step') === '80', null, { timeout: 10_000 });
      expect(await page.locator('canvas').count()).toBeGreaterThanOrEqual(3); // uPlot's curves
      expect(problems).toEqual([]);
    } finally {
      await close();
    }
  });

  it('sorts the runs table by a column and filters it by text', async () => {
    const { page, problems, close } = await open(dash.url);
    try {
      await rowText(page, 'cycle1', /cycle1/);
      const keys = () => page.$$eval('.vt-row', (rows) => rows.map((r) => r.getAttribute('data-key')));
      await page.click('.vt-head [data-col="name"]');
      const byName = await keys();
      expect(byName.indexOf('asha')).toBeLessThan(byName.indexOf('cycle1'));
      await page.click('.vt-head [data-col="name"]'); // again: descending
      expect(await keys()).toEqual([...byName].reverse());
      await page.fill('.vt-filter', 'asha');
      await page.waitForFunction(() => document.querySelectorAll('.vt-row').length === 1);
      expect(await keys()).toEqual(['asha']);
      expect(await page.locator('.vt-count').textContent()).toMatch(/^1 of \d+$/);
      expect(problems).toEqual([]);
    } finally {
      await close();
    }
  });

  it('overlays two runs on the same axes (compare)', async () => {
    const { page, problems, close } = await open(`${dash.url}#/compare/cycle1,xss`);
    try {
      await page.waitForFunction(() => document.querySelectorAll('.legend li').length === 2, null, { timeout: 10_000 });
      expect(await page.locator('.legend').textContent()).toContain(`cycle1 — best val ${(stepMetrics(200).val.accuracy * 100).toFixed(2)}%`);
      expect(await page.locator('.compare figure.chart').count()).toBe(3);
      expect(problems).toEqual([]);
    } finally {
      await close();
    }
  });

  it('shows the newest metrics row of a running run soon after it is written (latency measured and printed)', async () => {
    const dir = join(root, 'running');
    mkdirSync(dir);
    writeRunSummary(dir, runSummary({ name: 'running', status: 'running', points: 0, totalSteps: 1000 }, 0));
    const log = new MetricsLog(join(dir, 'metrics.csv'), false);
    await log.write(stepMetrics(0));
    await new Promise((r) => setTimeout(r, 300));
    const { page, problems, close } = await open(`${dash.url}#/run/running`);
    try {
      await page.waitForFunction(() => document.querySelector('.latest')?.getAttribute('data-step') === '0', null, { timeout: 10_000 });
      const latencies: number[] = [];
      for (let step = 10; step <= 50; step += 10) {
        await log.write(stepMetrics(step));
        const written = Date.now();
        await page.waitForFunction((s) => document.querySelector('.latest')?.getAttribute('data-step') === String(s), step, { timeout: 10_000, polling: 'raf' });
        latencies.push(Date.now() - written);
      }
      await log.close();
      console.log(`dashboard: newest metrics row on the page ${latencies.join(', ')} ms after its write (max ${Math.max(...latencies)} ms)`);
      expect(await page.locator('.latest').textContent()).toContain(`val acc ${(stepMetrics(50).val.accuracy * 100).toFixed(2)}%`);
      expect(problems).toEqual([]);
    } finally {
      await close();
    }
  });

  it('moves a trial from running to pruned, and another from running to completed, live', async () => {
    const { page, problems, close } = await open(`${dash.url}#/search/asha`);
    try {
      await rowText(page, '3', /pruned at rung 0/);
      const trial = async (id: string, steps: number[]) => {
        const dir = join(root, 'asha', 'trials', id);
        mkdirSync(dir, { recursive: true });
        writeRunSummary(dir, runSummary({ name: `asha-${id}`, status: 'running', points: 0, totalSteps: 120 }, 0));
        const log = new MetricsLog(join(dir, 'metrics.csv'), false);
        for (const s of steps) await log.write(stepMetrics(s));
        await log.close();
      };
      await trial('05', [0, 20, 40]);
      await trial('04', [0, 20, 40]);
      await rowText(page, '5', /running.*40 \/ 120/);
      await rowText(page, '4', /running.*40 \/ 120/);
      const rungs = new RungsLog(join(root, 'asha'), true);
      const trials = new TrialsLog(join(root, 'asha'), Object.keys(FIXTURE_SPACE), true);
      await rungs.write({ trial: 5, rung: 0, step: 40, valAccuracy: 0.2, cutoff: 0.35, margin: 0, reported: 4, decision: 'prune' });
      await trials.write({ ...trialRow(5), status: 'pruned', val_acc: 0.2, steps: 40 });
      await rowText(page, '5', /pruned at rung 0.*40 \/ 120.*20\.00%/);
      await rungs.write({ trial: 4, rung: 0, step: 40, valAccuracy: 0.4, cutoff: 0.35, margin: 0, reported: 5, decision: 'continue' });
      await trials.write(trialRow(4));
      await rungs.close();
      await trials.close();
      await rowText(page, '4', /completed.*120 \/ 120/);
      await page.waitForFunction(() => /trial 5 at rung 0/.test(document.querySelector('.pruned-list')?.textContent ?? ''), null, { timeout: 10_000 });
      expect(await page.locator('[data-count="pruned"]').textContent()).toMatch(/2$/);
      expect(problems).toEqual([]);
    } finally {
      await close();
    }
  });

  it('renders HTML in a run name as text (a run named <img src=x onerror=…> is inert)', async () => {
    const { page, problems, close } = await open(dash.url);
    try {
      await rowText(page, 'xss', /<img src=x onerror=alert\(1\)>/);
      await page.click('.vt-row[data-key="xss"]');
      await page.waitForFunction((name) => document.querySelector('h2')?.textContent?.includes(name), XSS_NAME, { timeout: 10_000 });
      await page.waitForTimeout(300);
      expect(await page.locator('#app img').count()).toBe(0);
      expect(problems).toEqual([]); // no dialog, no error from a broken image
    } finally {
      await close();
    }
  });

  it('exports a search and a run as self-contained pages that open offline with the same numbers', async () => {
    const searchFile = join(outside, 'asha.html');
    const runFile = join(outside, 'cycle1.html');
    await exportPage(join(root, 'asha'), searchFile);
    await exportPage(join(root, 'cycle1'), runFile);
    const live = (await (await fetch(`${dash.url}api/search?folder=asha`)).json()) as SearchDetail;
    const s = await open(pathToFileURL(searchFile).href, { offline: true });
    try {
      for (const t of live.trials.filter((x) => x.valAcc !== null)) await rowText(s.page, String(t.trial), new RegExp(`${(t.valAcc! * 100).toFixed(2)}%`));
      expect(s.requests.filter((u) => !u.startsWith('file:'))).toEqual([]);
      expect(s.problems).toEqual([]);
    } finally {
      await s.close();
    }
    const r = await open(pathToFileURL(runFile).href, { offline: true });
    try {
      await r.page.waitForFunction(() => document.querySelector('.latest')?.getAttribute('data-step') === '200', null, { timeout: 10_000 });
      expect(await r.page.locator('.latest').textContent()).toContain(`val acc ${(stepMetrics(200).val.accuracy * 100).toFixed(2)}%`);
      expect(r.requests.filter((u) => !u.startsWith('file:'))).toEqual([]);
      expect(r.problems).toEqual([]);
    } finally {
      await r.close();
    }
  });

  it('gets 4xx for traversal requests', async () => {
    const { page, close } = await open(dash.url);
    try {
      for (const path of ['..%2f..%2fetc%2fpasswd', '%2e%2e/%2e%2e/etc/passwd', 'api/run?folder=..%2F..%2Fetc', 'api/run?folder=%2Fetc', 'api/search?folder=../..']) {
        const res = await page.request.get(`${dash.url}${path}`);
        expect(res.status(), path).toBeGreaterThanOrEqual(400);
        expect(res.status(), path).toBeLessThan(500);
      }
    } finally {
      await close();
    }
  });
});

/**
 * `npm run bench:dashboard [-- --runs 1000 --trials 10000 --long 200000 --updates 20]`: the dashboard at scale.
 * Generates (through the format modules, as runs and searches write them) a folder of 1,000 runs (a few of them
 * running, one with a long metrics.csv) and a search of 10,000 trials (each with its trial folder, a few running),
 * starts the dashboard over it, opens it in headless Chromium and prints:
 *   - the server's start (scan, watches set up) and the size and time of GET /api/runs and /api/search;
 *   - first paint (navigation to the data drawn) of the runs table, the search page and the long run's page;
 *   - live-update latency (a metrics row appended → shown on the page) in the runs table, a run page and the
 *     search's trial table, and the event stream alone;
 *   - the page's JS heap and element count after load and after the updates (bounded: virtualised tables,
 *     curves thinned to a few thousand points).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { startDashboard } from '../src/dashboard/dashboard.js';
import { MetricsLog } from '../src/formats/metrics-csv.js';
import { writeRunSummary } from '../src/formats/run-summary.js';
import { trialId } from '../src/formats/search-plan.js';
import { launchChromium } from '../test/helpers/browser.js';
import { TrialsLog } from '../src/formats/trials-csv.js';
import { FIXTURE_SPACE, runSummary, stepMetrics, trialRow, writeRunFolder, writeSearchFolder } from '../test/helpers/dashboard-fixtures.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000' },
    trials: { type: 'string', default: '10000' },
    running: { type: 'string', default: '8' },
    long: { type: 'string', default: '200000' },
    updates: { type: 'string', default: '20' },
    keep: { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs), TRIALS = Number(values.trials), RUNNING = Number(values.running), LONG = Number(values.long), UPDATES = Number(values.updates);

const ms = (t: number) => `${t.toFixed(0)} ms`;
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return `median ${ms(q(0.5))}, p95 ${ms(q(0.95))}, max ${ms(s.at(-1)!)} (${xs.length} updates)`;
};
const time = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const r = await f();
  return [r, performance.now() - t0];
};

const root = mkdtempSync(join(tmpdir(), 'cifar-dashboard-bench-'));
const runsDir = join(root, 'runs');
const searchDir = join(runsDir, 'search-big');
try {
  // ---- the folders, through the format modules
  const [, generated] = await time(async () => {
    for (let i = 0; i < RUNS; i++) {
      const name = `run-${String(i).padStart(4, '0')}`;
      const running = i < RUNNING;
      await writeRunFolder(join(runsDir, 'many', name), { name, points: running ? 5 : 11, status: running ? 'running' : 'completed', totalSteps: 1000, top: 0.3 + (i % 100) / 500 });
    }
    const long = join(runsDir, 'long');
    mkdirSync(long, { recursive: true });
    writeRunSummary(long, runSummary({ name: 'long', status: 'running', points: 0, totalSteps: LONG * 10 }, 0));
    const log = new MetricsLog(join(long, 'metrics.csv'), false);
    for (let i = 0; i < LONG; i++) await log.write(stepMetrics(i * 10));
    await log.close();
    const finished = TRIALS - RUNNING;
    await writeSearchFolder(searchDir, { name: 'search-big', trials: TRIALS, finished });
    for (let t = 1; t <= TRIALS; t++) {
      const id = trialId(t, TRIALS);
      await writeRunFolder(join(searchDir, 'trials', id), { name: `search-big-${id}`, points: t > finished ? 4 : 5, status: t > finished ? 'running' : 'completed', totalSteps: 120 });
    }
  });
  console.log(`dashboard-bench: generated ${RUNS} runs (${RUNNING} running), a run of ${LONG.toLocaleString('en-US')} metrics rows and a search of ${TRIALS.toLocaleString('en-US')} trials (${RUNNING} running) in ${(generated / 1000).toFixed(1)} s`);

  // ---- the server
  const [dash, started] = await time(() => startDashboard({ dirs: [runsDir], host: '127.0.0.1', port: 0 }));
  const [, loaded] = await time(() => dash.loaded);
  const [runsBody, runsMs] = await time(async () => (await fetch(`${dash.url}api/runs`)).text());
  const [searchBody, searchMs] = await time(async () => (await fetch(`${dash.url}api/search?folder=search-big`)).text());
  console.log(`server: listening after ${ms(started)} (folders found, summaries and searches read, watches set up), every metrics.csv read after ${ms(started + loaded)}; GET /api/runs ${ms(runsMs)} (${(runsBody.length / 1024).toFixed(0)} KiB), GET /api/search ${ms(searchMs)} (${(searchBody.length / 1024).toFixed(0)} KiB)`);

  const launched = await launchChromium();
  if (!('browser' in launched)) throw new Error(launched.missing);
  const browser = launched.browser;
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'en-US' });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  /** Navigates and waits until the view drew its data; the time from navigation start. */
  const firstPaint = async (hash: string) => {
    await page.goto('about:blank');
    await page.goto(`${dash.url}${hash}`);
    await page.waitForFunction(() => window.__dashboard !== undefined, null, { timeout: 60_000 });
    return page.evaluate(() => window.__dashboard!.paintedAt);
  };
  const cdp = await context.newCDPSession(page);
  const memory = async (p: Page) => ({
    heapMiB: ((await cdp.send('Runtime.getHeapUsage')) as { usedSize: number }).usedSize / 2 ** 20,
    elements: await p.evaluate(() => document.getElementsByTagName('*').length),
  });

  const runsPaint = await firstPaint('#/');
  const runsMem = await memory(page);
  const runsRows = await page.locator('.vt-row').count();
  const searchPaint = await firstPaint('#/search/search-big');
  const figuresAt = await (await page.waitForFunction(() => window.__dashboard?.figuresAt, null, { timeout: 60_000 })).jsonValue() as number;
  const searchMem = await memory(page);
  const longPaint = await firstPaint('#/run/long');
  console.log(`first paint: runs table (${RUNS + 2} rows, ${runsRows} in the page) ${ms(runsPaint)}; search page (${TRIALS.toLocaleString('en-US')} trials) ${ms(searchPaint)}, its figures drawn ${ms(figuresAt)}; ` +
    `run page (${LONG.toLocaleString('en-US')} rows) ${ms(longPaint)}`);

  // ---- live updates: a metrics row appended → on the page
  const appendRows = async (dir: string, from: number, update: (step: number) => Promise<unknown>) => {
    const log = new MetricsLog(join(dir, 'metrics.csv'), true);
    const out: number[] = [];
    for (let i = 0; i < UPDATES; i++) {
      const step = from + i * 10;
      await log.write(stepMetrics(step));
      const t0 = performance.now();
      await update(step);
      out.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 60));
    }
    await log.close();
    return out;
  };
  const longLatency = await appendRows(join(runsDir, 'long'), LONG * 10, (step) =>
    page.waitForFunction((s) => document.querySelector('.latest')?.getAttribute('data-step') === String(s), step, { polling: 'raf', timeout: 10_000 }));
  const longMem = await memory(page);

  await firstPaint('#/');
  const tableLatency = await appendRows(join(runsDir, 'many', 'run-0000'), 40 + 10, (step) =>
    page.waitForFunction(([s]) => (document.querySelector('.vt-row[data-key="many/run-0000"] [data-col="step"]')?.textContent ?? '').startsWith(Number(s).toLocaleString('en-US')), [step], { polling: 'raf', timeout: 10_000 }));

  await firstPaint('#/search/search-big');
  const running = TRIALS;
  await page.click('.vt-head [data-col="trial"]'); // sorted by trial already: now highest first, the running ones in view
  const trialLatency = await appendRows(join(searchDir, 'trials', trialId(running, TRIALS)), 30 + 10, (step) =>
    page.waitForFunction(([key, s]) => (document.querySelector(`.vt-row[data-key="${key}"] [data-col="step"]`)?.textContent ?? '').startsWith(String(s)), [String(running), step], { polling: 'raf', timeout: 10_000 }));
  // A running trial gets its result: a row appended to trials.csv of 10,000 → the trial shows completed (or pruned).
  const trialsLog = new TrialsLog(searchDir, Object.keys(FIXTURE_SPACE), true);
  const doneLatency: number[] = [];
  for (let t = TRIALS; t > TRIALS - Math.min(RUNNING, 5); t--) {
    await trialsLog.write(trialRow(t));
    const t0 = performance.now();
    await page.waitForFunction((key) => /completed|pruned/.test(document.querySelector(`.vt-row[data-key="${key}"] [data-col="status"]`)?.textContent ?? ''), String(t), { polling: 'raf', timeout: 10_000 });
    doneLatency.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 100));
  }
  await trialsLog.close();
  const searchAfter = await memory(page);

  console.log(`live update (row written → on the page): runs table ${stats(tableLatency)}; run page ${stats(longLatency)}; search trial table ${stats(trialLatency)}; a trial's result (trials.csv row → completed or pruned) ${stats(doneLatency)}`);
  console.log(`browser memory: runs table ${runsMem.heapMiB.toFixed(1)} MiB JS heap, ${runsMem.elements} elements; search page ${searchMem.heapMiB.toFixed(1)} MiB, ${searchMem.elements} elements ` +
    `(after ${UPDATES} updates ${searchAfter.heapMiB.toFixed(1)} MiB, ${searchAfter.elements}); long run page after ${UPDATES} updates ${longMem.heapMiB.toFixed(1)} MiB`);
  if (errors.length) console.log(`page errors: ${errors.join('; ')}`);
  await browser.close();
  await dash.close();
} finally {
  if (!values.keep) rmSync(root, { recursive: true, force: true });
  else console.log(`folders kept in ${root}`);
}

/**
 * The README's pictures, from real runs: `npm run screenshots -- --data DIR` (DIR: the CIFAR-10 binary folder);
 * `-- --only dashboard` takes the dashboard's alone.
 *
 *   docs/images/run-report.png     report.html of `cifar-mlp run config/cycle1.yaml`, in headless Chromium
 *   docs/images/search-report.png  report.html of `cifar-mlp search config/search-coarse.yaml`, in headless Chromium
 *   docs/images/progress-80.png    that run in an 80-column terminal (util-linux `script` gives it one): the start
 *   docs/images/progress-80.txt    line, the progress line as drawn mid-run, the closing line (text and picture)
 *   docs/images/dashboard-search.png  `cifar-mlp dashboard --queue` over `config/search-asha.yaml` running on two queue
 *                                  workers (redis-server from the system): trial table, workers panel, rung view
 *
 * Chromium: as the tests find it (test/helpers/browser.ts: the npm @sparticuz/chromium, else a system one).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser } from 'playwright-core';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { launchChromium } from '../test/helpers/browser.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    out: { type: 'string', default: 'docs/images' },
    columns: { type: 'string', default: '80' },
    only: { type: 'string' },
  },
});
const cli = resolve('dist/cli.js');
const outDir = resolve(values.out!);
const work = mkdtempSync(join(tmpdir(), 'cifar-screenshots-'));
const columns = Number(values.columns);
mkdirSync(outDir, { recursive: true });
symlinkSync(resolve('config'), join(work, 'config'));
if (values.data) {
  mkdirSync(join(work, 'data'));
  symlinkSync(resolve(values.data), join(work, 'data', 'cifar-10-batches-bin'));
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, '');

/** Lines as a terminal of `width` columns shows them (long ones wrapped). */
const wrap = (line: string, width: number) => line.match(new RegExp(`.{1,${width}}`, 'gu')) ?? [''];

/** Runs `cifar-mlp run config/cycle1.yaml` (into runs/cycle1) in a pseudo-terminal of `columns` columns; returns what it showed. */
function runInTerminal(): { start: string; frame: string; closing: string } {
  const command = ['node', cli, 'run', 'config/cycle1.yaml'].map(shellQuote).join(' ');
  const r = spawnSync('script', ['-q', '-c', `stty cols ${columns} rows 24; ${command}`, '/dev/null'], { cwd: work, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (r.error || r.status !== 0) throw new Error(`cycle1 in a terminal failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stdout?.slice(-500)}`);
  const text = r.stdout.replace(/\r/g, '');
  const lines = text.split('\n').map(stripAnsi).filter((l) => l.trim());
  const start = lines.find((l) => l.startsWith('cifar-mlp: cycle1: data'))!;
  const closing = lines.find((l) => / after \d+ steps /.test(l))!;
  // The bar is redrawn in place: each frame starts at column 1 (ESC [1G). The one nearest 60% of the run.
  const frames = text.split('\x1b[1G').map(stripAnsi).map((f) => f.split('\n')[0].trimEnd()).filter((f) => / \d+\/1000 /.test(f));
  const at = (f: string) => Number(/ (\d+)\/1000 /.exec(f)![1]);
  const frame = frames.reduce((best, f) => (Math.abs(at(f) - 600) < Math.abs(at(best) - 600) ? f : best));
  return { start, frame, closing };
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function terminalHtml(lines: string[]): string {
  return `<!doctype html><meta charset="utf-8"><style>
    body { margin: 0; background: #1e1e1e; }
    pre { margin: 0; padding: 14px 16px; color: #d4d4d4; font: 14px/1.35 "DejaVu Sans Mono", Menlo, Consolas, monospace; width: ${columns}ch; }
    .cmd { color: #9cdcfe; }
  </style><pre>${lines.map((l, i) => (i === 0 ? `<span class="cmd">${escapeHtml(l)}</span>` : escapeHtml(l))).join('\n')}</pre>`;
}

const run = join(work, 'runs', 'cycle1');
const search = join(work, 'runs', 'search-coarse');
const everything = values.only !== 'dashboard';
const shown = everything ? runInTerminal() : { start: '', frame: '', closing: '' };
const terminal = [
  '$ npx cifar-mlp run config/cycle1.yaml',
  ...wrap(shown.start, columns),
  shown.frame,
  `  … the line above is redrawn in place until the run ends, then:`,
  ...wrap(shown.closing, columns),
];
if (everything) {
  writeFileSync(join(outDir, 'progress-80.txt'), `${terminal.join('\n')}\n`);
  execFileSync(process.execPath, [cli, 'search', 'config/search-coarse.yaml'], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
}

const launched = await launchChromium();
if (!('browser' in launched)) throw new Error(launched.missing);
const { browser } = launched;
// A report page down to its plots (the resolved config below them is left out).
const shoot = async (url: string, file: string, viewport: { width: number; height: number }) => {
  const page = await browser.newPage({ viewport, deviceScaleFactor: 1 });
  await page.goto(url);
  await page.waitForLoadState('load');
  const config = await page.locator('h2', { hasText: 'Resolved configuration' }).boundingBox();
  if (!config) throw new Error(`${url}: no "Resolved configuration" section`);
  await page.screenshot({ path: join(outDir, file), fullPage: true, clip: { x: 0, y: 0, width: viewport.width, height: Math.ceil(config.y) } });
  await page.close();
  process.stderr.write(`screenshots: ${join(values.out!, file)}\n`);
};
try {
  if (everything) await shootReports();
  await dashboardShot(browser);
} finally {
  await browser.close();
}
if (everything) process.stderr.write(`screenshots: the runs are in ${work}\n${readFileSync(join(outDir, 'progress-80.txt'), 'utf8')}`);

async function shootReports(): Promise<void> {
  await shoot(pathToFileURL(join(run, 'report.html')).href, 'run-report.png', { width: 1100, height: 900 });
  await shoot(pathToFileURL(join(search, 'report.html')).href, 'search-report.png', { width: 1100, height: 900 });
  const termFile = join(work, 'terminal.html');
  writeFileSync(termFile, terminalHtml(terminal));
  const page = await browser.newPage({ viewport: { width: 800, height: 200 }, deviceScaleFactor: 1 });
  await page.goto(pathToFileURL(termFile).href);
  await page.locator('pre').screenshot({ path: join(outDir, 'progress-80.png') });
  await page.close();
  process.stderr.write(`screenshots: ${join(values.out!, 'progress-80.png')} and progress-80.txt\n`);
}

/** A free loopback port. */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer().on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolvePort(port));
    });
  });
}

/** The dashboard over a queue search while it runs: its trial table, workers panel and rung view. */
async function dashboardShot(b: Browser): Promise<void> {
  if (spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0) {
    process.stderr.write('screenshots: no redis-server: dashboard-search.png not taken (apt-get install redis-server)\n');
    return;
  }
  const children: ChildProcess[] = [];
  const start = (args: string[], bin = process.execPath) => {
    const child = spawn(bin, args, { cwd: work, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    return child;
  };
  try {
    const port = await freePort();
    start(['--port', String(port), '--save', '', '--appendonly', 'no'], 'redis-server');
    const url = `redis://127.0.0.1:${port}`;
    await sleep(500);
    const dataDir = join(work, 'data', 'cifar-10-batches-bin');
    for (const name of ['worker-1', 'worker-2']) start([cli, 'worker', '--queue', url, '--data', dataDir, '--name', name]);
    mkdirSync(join(work, 'runs'), { recursive: true });
    const dashboard = start([cli, 'dashboard', 'runs', '--port', '0', '--queue', url]);
    const address = await new Promise<string>((resolveUrl, reject) => {
      dashboard.stdout!.once('data', (d: Buffer) => resolveUrl(d.toString().trim()));
      dashboard.once('exit', (code) => reject(new Error(`cifar-mlp dashboard exited (${code})`)));
    });
    const out = join(work, 'runs', 'search-asha-live');
    start([cli, 'search', 'config/search-asha.yaml', '--queue', url, '--out', out]);
    // Until the first rung has decided for several trials (pruned ones among them) and both workers are busy.
    const deadline = Date.now() + 15 * 60_000;
    const decisions = () => (existsSync(join(out, 'rungs.csv')) ? readFileSync(join(out, 'rungs.csv'), 'utf8').trim().split('\n').length - 1 : 0);
    while (decisions() < 6) {
      if (Date.now() > deadline) throw new Error('search-asha on the queue: no rung decisions after 15 min');
      await sleep(1000);
    }
    const page = await b.newPage({ viewport: { width: 1300, height: 900 }, deviceScaleFactor: 1, locale: 'en-US' });
    await page.goto(`${address}#/search/search-asha-live`);
    await page.waitForSelector('tr[data-worker]', { timeout: 60_000 });
    await sleep(1500);
    const optimisation = await page.locator('h3', { hasText: 'Optimisation' }).boundingBox();
    await page.screenshot({ path: join(outDir, 'dashboard-search.png'), fullPage: true, clip: { x: 0, y: 0, width: 1300, height: Math.ceil(optimisation?.y ?? 1400) - 12 } });
    await page.close();
    process.stderr.write(`screenshots: ${join(values.out!, 'dashboard-search.png')}\n`);
  } finally {
    for (const c of children.reverse()) c.kill('SIGKILL');
  }
}

/**
 * The workers panel of a queue search in headless Chromium, with a real redis-server, coordinator and worker: the
 * worker running a trial is shown; killed with kill -9, its trial is flagged silent (before BullMQ's stall check
 * requeues it: printed, not asserted as a timing). Skips with one line without redis-server or a browser (fails
 * under CI=true).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, expect, it } from 'vitest';
import { startDashboard } from '../src/dashboard/dashboard.js';
import { browserOrSkip } from './helpers/browser.js';
import { BASE, CLI, startWorker, writeSearchConfig } from './helpers/queue-fixtures.js';
import { CliProcess, describeWithRedis, RedisServer } from './helpers/redis.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const launched = await browserOrSkip('the dashboard\'s workers panel in headless Chromium');
const browser: Browser | undefined = launched?.browser;
const root = mkdtempSync(join(tmpdir(), 'cifar-dashboard-queue-'));
const cleanups: Array<() => Promise<unknown> | unknown> = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await browser?.close();
  rmSync(root, { recursive: true, force: true });
});

const until = async (cond: () => boolean, ms: number, what: string) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describeWithRedis('the dashboard of a queue search (redis-server)', () => {
  it.skipIf(!browser)('shows which worker runs which trial, and flags the trial of a worker killed with kill -9', async () => {
    const server = await RedisServer.start();
    cleanups.push(() => server.stop());
    const dataDir = writeSyntheticCifar(join(root, 'data'), 200);
    const runs = join(root, 'runs');
    mkdirSync(runs);
    // Long trials (the worker is killed in the middle of one), a lock of 3 s: renewed every 1.5 s.
    const cfg = writeSearchConfig(root, 'q', 2, { ...BASE, schedule: { etaMin: 0.1, etaMax: 0.1, ns: 20_000, cycles: 1 }, eval: { pointsPerCycle: 40 } });
    const worker = startWorker(server.url, dataDir, 'w1', join(root, 'work'), ['--lock-seconds', '3']);
    cleanups.push(() => worker.stop(2000));
    await worker.waitFor(/waiting for trials/);
    const dash = await startDashboard({ dirs: [runs], host: '127.0.0.1', port: 0, queue: server.url });
    cleanups.push(() => dash.close());
    const search = new CliProcess(CLI, ['search', cfg, '--data', dataDir, '--out', join(runs, 'q'), '--queue', server.url]);
    cleanups.push(() => search.stop(2000));
    await until(() => existsSync(join(runs, 'q', 'queue.json')), 60_000, 'queue.json');

    const context = await browser!.newContext({ locale: 'en-US' });
    cleanups.push(() => context.close());
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    await page.goto(`${dash.url}#/search/q`);
    await page.waitForSelector('tr[data-worker="w1"]', { timeout: 60_000 });
    expect(await page.locator('tr[data-worker="w1"] .flag-silent').count()).toBe(0);
    const trial = await page.locator('tr[data-worker="w1"]').getAttribute('data-trial');
    await page.waitForFunction((t) => /running/.test(document.querySelector(`.vt-row[data-key="${t}"]`)?.textContent ?? ''), trial, { timeout: 20_000 });

    const killedAt = Date.now();
    worker.child.kill('SIGKILL');
    await page.waitForSelector('tr[data-worker="w1"] .flag-silent', { timeout: 20_000 });
    const requeued = /stopped answering/.test(search.out);
    console.log(`dashboard: trial ${trial} of the killed worker flagged ${Date.now() - killedAt} ms after kill -9 (lock 3 s); ${requeued ? 'after' : 'before'} the coordinator requeued it`);
    expect(await page.locator('tr[data-worker="w1"]').textContent()).toMatch(/silent/);
    expect(problems).toEqual([]);
  }, 180_000);
});

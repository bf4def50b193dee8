/**
 * The dashboard's server without a browser: GET /api/runs over folders found recursively, the event stream (a new
 * metrics row, a trial's state, a status change, each naming folder and step; a partial last row is not a row),
 * refused traversal (4xx), the token off the loopback and the Host check on it, and that it never writes.
 */
import { appendFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DashboardEvent, RunDetail, RunRow, SearchDetail } from '../src/dashboard/api-types.js';
import { startDashboard, type Dashboard } from '../src/dashboard/dashboard.js';
import { writeEvaluation } from '../src/formats/evaluation.js';
import { MetricsLog } from '../src/formats/metrics-csv.js';
import { writeRunSummary } from '../src/formats/run-summary.js';
import { RungsLog, RungsTail } from '../src/formats/rungs-csv.js';
import { TrialsLog, TrialsTail } from '../src/formats/trials-csv.js';
import { FIXTURE_SPACE, runSummary, stepMetrics, trialRow, writeRunFolder, writeSearchFolder } from './helpers/dashboard-fixtures.js';

let root: string;
let dash: Dashboard;

/** The `data:` events of GET /api/events, read as they come. */
function events(url: string) {
  const controller = new AbortController();
  const seen: DashboardEvent[] = [];
  const waiters: Array<() => void> = [];
  const done = (async () => {
    const res = await fetch(`${url}api/events`, { signal: controller.signal });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) return;
      buf += value;
      let at;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        for (const line of block.split('\n')) if (line.startsWith('data: ')) seen.push(JSON.parse(line.slice(6)));
        for (const w of waiters.splice(0)) w();
      }
    }
  })().catch(() => undefined);
  return {
    seen,
    async until(pred: (e: DashboardEvent) => boolean, ms = 5000): Promise<DashboardEvent> {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = seen.find(pred);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no such event within ${ms} ms; seen ${JSON.stringify(seen.map((e) => `${e.type} ${e.folder}`))}`);
        await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 100); });
      }
    },
    close: async () => { controller.abort(); await done; },
  };
}

const getJson = async <T>(path: string): Promise<T> => {
  const res = await fetch(`${dash.url}${path}`);
  expect(res.status, path).toBe(200);
  return res.json() as Promise<T>;
};

/** Every file under dir with its size and modification time. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const st = lstatSync(join(dir, f), { throwIfNoEntry: false });
    if (st?.isFile()) out.set(f, `${st.size}:${st.mtimeMs}`);
  }
  return out;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'cifar-dashboard-api-'));
  await writeRunFolder(join(root, 'cycle1'), { name: 'cycle1', points: 11 });
  await writeRunFolder(join(root, 'nested', 'deep', 'cycle3'), { name: 'cycle3', points: 5, status: 'interrupted' });
  await writeSearchFolder(join(root, 'asha'), { name: 'asha', trials: 6, finished: 3 });
  mkdirSync(join(root, 'empty'));
  dash = await startDashboard({ dirs: [root], host: '127.0.0.1', port: 0 });
  await dash.loaded;
});

afterAll(async () => {
  await dash?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('GET /api/runs', () => {
  it('lists every run and search under the folder, found recursively, with their figures', async () => {
    const { runs } = await getJson<{ runs: RunRow[] }>('api/runs');
    const byFolder = new Map(runs.map((r) => [r.folder, r]));
    expect([...byFolder.keys()].sort()).toEqual(['asha', 'cycle1', 'nested/deep/cycle3']);
    expect(byFolder.get('cycle1')).toMatchObject({ kind: 'run', name: 'cycle1', status: 'completed', backend: 'wasm-simd', step: 100, totalSteps: 100 });
    expect(byFolder.get('cycle1')!.bestVal).toBeCloseTo(stepMetrics(100).val.accuracy, 12);
    expect(byFolder.get('cycle1')!.testAcc).toBeCloseTo(0.44, 12);
    expect(byFolder.get('nested/deep/cycle3')).toMatchObject({ status: 'interrupted', step: 40 });
    const best = Math.max(...[1, 2].map((t) => trialRow(t).val_acc!)); // trial 3 was pruned
    expect(byFolder.get('asha')).toMatchObject({ kind: 'search', status: 'running', step: 3, totalSteps: 6, bestVal: best });
  });

  it('serves a run\'s curves and a search\'s trials', async () => {
    const run = await getJson<RunDetail>('api/run?folder=cycle1');
    expect(run.metrics).toHaveLength(11);
    expect(run.metrics.at(-1)![run.columns.indexOf('val_acc')]).toBeCloseTo(stepMetrics(100).val.accuracy, 12);
    const search = await getJson<SearchDetail>('api/search?folder=asha');
    expect(search.trials.map((t) => t.status)).toEqual(['completed', 'completed', 'pruned', 'queued', 'queued', 'queued']);
    expect(search.trials[2].rung).toBe(0);
    expect(search.rungs.filter((r) => r.decision === 'prune').map((r) => r.trial)).toEqual([3]);
    expect(search.params).toEqual(Object.keys(FIXTURE_SPACE));
  });
});

describe('GET /api/events', () => {
  it('pushes a new run, each new metrics row (not a partial one) and the status change, naming folder and step', async () => {
    const stream = events(dash.url);
    try {
      const dir = join(root, 'live');
      mkdirSync(dir);
      writeRunSummary(dir, runSummary({ name: 'live', status: 'running', points: 0, totalSteps: 100 }, 0));
      await stream.until((e) => e.type === 'run' && e.folder === 'live');
      const log = new MetricsLog(join(dir, 'metrics.csv'), false);
      await log.write(stepMetrics(0));
      const t0 = Date.now();
      await log.write(stepMetrics(10));
      const e = await stream.until((x) => x.type === 'metrics' && x.folder === 'live' && x.step === 10);
      console.log(`dashboard: a new metrics row reached the event stream after ${Date.now() - t0} ms`);
      await log.close();
      appendFileSync(join(dir, 'metrics.csv'), '20,0.2,0.05,1.5'); // a row still being written
      await new Promise((r) => setTimeout(r, 400));
      expect(stream.seen.some((x) => x.type === 'metrics' && x.folder === 'live' && x.step === 20)).toBe(false);
      appendFileSync(join(dir, 'metrics.csv'), ',1.6,0.3,1.6,1.7,0.25,0.2\n');
      const row20 = await stream.until((x) => x.type === 'metrics' && x.folder === 'live' && x.step === 20);
      expect(row20.type === 'metrics' && row20.point[8]).toBe(0.25);
      expect(e.type === 'metrics' && e.point[0]).toBe(10);
      writeRunSummary(dir, runSummary({ name: 'live', status: 'completed', points: 3, totalSteps: 100 }, 20));
      const s = await stream.until((x) => x.type === 'status' && x.folder === 'live');
      expect(s).toMatchObject({ status: 'completed', step: 20 });
    } finally {
      await stream.close();
    }
  });

  it('pushes the status of a run evaluated meanwhile, and serves its per-class accuracy and confusion matrix', async () => {
    const stream = events(dash.url);
    try {
      const classes = ['cat', 'dog'];
      writeEvaluation(join(root, 'cycle1'), {
        model: 'model.json', name: 'cycle1', step: 100, totalSteps: 100, networks: [{ name: 'cycle1', step: 100 }], average: 'softmax', dataDir: 'data', backend: 'wasm-simd', classes,
        splits: { test: { records: 10, accuracy: 0.7, perClass: { cat: { records: 5, accuracy: 0.8 }, dog: { records: 5, accuracy: 0.6 } }, confusion: [[4, 1], [2, 3]] } },
      });
      await stream.until((e) => e.type === 'status' && e.folder === 'cycle1' && e.row.evaluated);
      const run = await getJson<RunDetail>('api/run?folder=cycle1');
      expect(run.evaluation?.splits.test.confusion).toEqual([[4, 1], [2, 3]]);
      expect(run.evaluation?.splits.test.perClass.dog.accuracy).toBe(0.6);
    } finally {
      await stream.close();
    }
  });

  it('pushes a trial that starts running and then gets its result', async () => {
    const stream = events(dash.url);
    try {
      const trialDir = join(root, 'asha', 'trials', '04');
      mkdirSync(trialDir, { recursive: true });
      writeRunSummary(trialDir, runSummary({ name: 'asha-04', status: 'running', points: 0 }, 0));
      const log = new MetricsLog(join(trialDir, 'metrics.csv'), false);
      await log.write(stepMetrics(0));
      await log.write(stepMetrics(30));
      await log.close();
      const running = await stream.until((e) => e.type === 'trial' && e.folder === 'asha' && e.trial.trial === 4 && e.trial.step === 30);
      expect(running).toMatchObject({ trial: { status: 'running', valAcc: stepMetrics(30).val.accuracy } });
      const trials = new TrialsLog(join(root, 'asha'), Object.keys(FIXTURE_SPACE), true);
      await trials.write(trialRow(4));
      await trials.close();
      const done = await stream.until((e) => e.type === 'trial' && e.folder === 'asha' && e.trial.trial === 4 && e.trial.status === 'completed');
      expect(done).toMatchObject({ step: 120, trial: { valAcc: trialRow(4).val_acc } });
    } finally {
      await stream.close();
    }
  });
});

describe('reading a live search as it grows (TrialsTail, RungsTail)', () => {
  it('returns only the rows appended since the last read, never a partial last line, and says when the file was replaced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cifar-dashboard-tail-'));
    try {
      const paths = Object.keys(FIXTURE_SPACE);
      const trials = new TrialsTail(join(dir, 'trials.csv'), FIXTURE_SPACE);
      const rungs = new RungsTail(join(dir, 'rungs.csv'));
      expect(await trials.read()).toEqual({ rows: [], restarted: false });
      const log = new TrialsLog(dir, paths, false);
      await log.write(trialRow(1));
      await log.write(trialRow(2));
      expect((await trials.read()).rows.map((r) => r.trial)).toEqual([1, 2]);
      appendFileSync(join(dir, 'trials.csv'), '3,0.001,50,compl');
      expect((await trials.read()).rows).toEqual([]);
      appendFileSync(join(dir, 'trials.csv'), 'eted,0.5,0.4,1.5,1.7,120,120,1,wasm-simd,1,NA\n');
      const third = await trials.read();
      expect(third.rows).toMatchObject([{ trial: 3, status: 'completed', val_acc: 0.4, params: { 'base.train.lambda': 0.001, 'base.model.hidden': 50 } }]);
      await log.close();
      const fresh = new TrialsLog(dir, paths, false); // the file replaced (a search started again with --force)
      await fresh.write(trialRow(7));
      await fresh.close();
      expect(await trials.read()).toMatchObject({ rows: [{ trial: 7 }], restarted: true });
      const rl = new RungsLog(dir, false);
      await rl.write({ trial: 1, rung: 0, step: 40, valAccuracy: 0.3, cutoff: 0.35, margin: 0, reported: 1, decision: 'prune' });
      await rl.close();
      expect((await rungs.read()).records).toEqual([{ trial: 1, rung: 0, step: 40, valAccuracy: 0.3, cutoff: 0.35, margin: 0, reported: 1, decision: 'prune' }]);
      expect((await rungs.read()).records).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('security', () => {
  it('refuses traversal: .., encoded .., absolute paths and symbolic links leading outside (4xx)', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'cifar-dashboard-outside-'));
    writeFileSync(join(outside, 'summary.json'), '{"secret":"root:x:0:0"}');
    symlinkSync(outside, join(root, 'outside'));
    const refused = [
      'api/run?folder=..', 'api/run?folder=%2e%2e', 'api/run?folder=%2E%2E%2F%2E%2E%2Fetc', 'api/run?folder=cycle1/../..',
      'api/run?folder=/etc', 'api/run?folder=%2Fetc%2Fpasswd', 'api/run?folder=outside', 'api/search?folder=outside',
      'api/run?folder=cycle1%00', 'api/run?folder=..%5c..', 'api/run', '..%2f..%2fetc%2fpasswd', '%2e%2e/%2e%2e/etc/passwd', 'api/../../etc/passwd',
    ];
    for (const path of refused) {
      const res = await fetch(`${dash.url}${path}`);
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
      expect(await res.text(), path).not.toMatch(/root:|bin\/(ba)?sh/);
    }
  });

  it('on the loopback, refuses a Host header that is not the loopback (DNS rebinding)', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      request(`${dash.url}api/runs`, { headers: { host: 'attacker.example:80' } }, (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject).end();
    });
    expect(status).toBe(403);
  });

  it('off the loopback, requires the token (generated when none is given), then a cookie', async () => {
    const open = await startDashboard({ dirs: [root], host: '0.0.0.0', port: 0 });
    try {
      expect(open.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
      const base = open.url.replace('0.0.0.0', '127.0.0.1');
      expect((await fetch(`${base}api/runs`)).status).toBe(401);
      expect((await fetch(`${base}api/runs?token=wrong-token-wrong-token`)).status).toBe(401);
      expect((await fetch(`${base}api/runs`, { headers: { authorization: `Bearer ${open.token}` } })).status).toBe(200);
      const page = await fetch(`${base}?token=${open.token}`);
      expect(page.status).toBe(200);
      const cookie = page.headers.get('set-cookie')!;
      expect(cookie).toMatch(/HttpOnly/i);
      expect((await fetch(`${base}api/runs`, { headers: { cookie: cookie.split(';')[0] } })).status).toBe(200);
    } finally {
      await open.close();
    }
  });

  it('writes nothing into the folders it serves', async () => {
    const before = snapshot(root);
    await getJson('api/runs');
    await getJson('api/run?folder=cycle1');
    await getJson('api/search?folder=asha');
    expect(snapshot(root)).toEqual(before);
  });
});

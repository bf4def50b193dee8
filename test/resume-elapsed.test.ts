// Elapsed time across a resume: metrics.csv's elapsed_s goes on from where the interrupted run stopped, summary.json's
// seconds counts every session and secondsSinceResume the last one.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, train } from '../src/index.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const root = mkdtempSync(join(tmpdir(), 'cifar-resume-elapsed-'));
const dataDir = writeSyntheticCifar(join(root, 'data'), 200, 90);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const elapsedColumn = (dir: string) => readFileSync(join(dir, 'metrics.csv'), 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',').at(-1)));

describe('elapsed time across --resume', () => {
  it('continues elapsed_s and adds up seconds; secondsSinceResume is the last session', async () => {
    const config = loadConfig({
      kind: 'train', name: 'elapsed', model: { hidden: 8 }, train: { batchSize: 50 },
      schedule: { ns: 20, cycles: 1 }, eval: { every: 5 }, kernels: { backend: 'wasm-simd' },
    }, { kind: 'train' });
    const out = join(root, 'run');
    const stop = new AbortController();
    let slowed = false;
    const first = await train(config, {
      out, data: dataDir, signal: stop.signal,
      onProgress: (p) => {
        if (p.step === 12 && !slowed) {
          slowed = true;
          const until = Date.now() + 400; // a slow stretch before the interruption: 0.4 s of elapsed time
          while (Date.now() < until) { /* busy */ }
          stop.abort();
        }
      },
    });
    expect(first.status).toBe('interrupted');
    expect(first.seconds).toBeGreaterThan(0.4);
    expect(first.secondsSinceResume).toBeUndefined();
    const before = elapsedColumn(out);
    await sleep(300); // time between the sessions counts in neither
    const second = await train(config, { out, data: dataDir, resume: true });
    expect(second.status).toBe('completed');
    const since = second.secondsSinceResume!;
    expect(since).toBeGreaterThan(0);
    expect(second.seconds).toBeGreaterThanOrEqual(first.seconds + since - 1e-3);
    expect(second.seconds).toBeLessThan(first.seconds + since + 0.25);
    const after = elapsedColumn(out);
    expect(after.slice(0, before.length)).toEqual(before);
    for (let i = 1; i < after.length; i++) expect(after[i], `row ${i}: ${after.join(',')}`).toBeGreaterThanOrEqual(after[i - 1]);
    expect(after[before.length]).toBeGreaterThanOrEqual(0.4); // the first row after the resume is not back at 0
  }, 60_000);
});

// CsvLog (src/util/csv-log.ts): every row newline-terminated as soon as it is written, write errors at once naming
// the file and the errno, and never half a row: a full device (/dev/full), a file size limit (ulimit -f: a short
// write, then EFBIG) and a partial last row left by a killed process.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { trimMetricsForResume } from '../src/formats/metrics-csv.js';
import { UsageError } from '../src/util/errors.js';
import { readTrialsCsv, trialColumns } from '../src/formats/trials-csv.js';
import type { ParamSpec } from '../src/config/search-schema.js';

const SPACE: Record<string, ParamSpec> = { 'base.train.lambda': { dist: 'log-uniform', min: 1e-5, max: 1e-1 } };
const TRIAL_COLUMNS = trialColumns(Object.keys(SPACE));
import { METRICS_COLUMNS } from '../src/formats/metrics-csv.js';
import { CsvLog } from '../src/util/csv-log.js';
import { FileWriteError } from '../src/util/errno.js';
import { bundle } from './helpers/bundle.js';

const root = mkdtempSync(join(tmpdir(), 'csv-log-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const text = (p: string) => readFileSync(p, 'utf8');

describe('CsvLog', () => {
  it('writes the header with the first row, and every row ends with its newline once its write resolves', async () => {
    const path = join(root, 'rows.csv');
    const log = new CsvLog(path, ['step', 'loss', 'note']);
    expect(text(path)).toBe(''); // nothing before the first row
    await log.write({ step: 0, loss: 2.5, note: 'a, "quoted" note' });
    expect(text(path)).toBe('step,loss,note\n0,2.5,"a, ""quoted"" note"\n');
    await log.write({ step: 10, loss: 'NA', note: '' });
    expect(text(path)).toBe('step,loss,note\n0,2.5,"a, ""quoted"" note"\n10,NA,\n');
    expect(log.rows).toBe(2);
    await log.close();
    await log.close(); // idempotent
    await expect(log.write({ step: 20 })).rejects.toThrow(/rows\.csv: cannot write \(the log is closed\)/);
  });

  it('keeps the order of concurrent writes', async () => {
    const path = join(root, 'order.csv');
    const log = new CsvLog(path, ['i']);
    await Promise.all(Array.from({ length: 50 }, (_, i) => log.write({ i })));
    await log.close();
    expect(text(path)).toBe(`i\n${Array.from({ length: 50 }, (_, i) => `${i}\n`).join('')}`);
  });

  it('appends after the rows a file holds (header kept), cutting a partial last row; without append it starts afresh', async () => {
    const path = join(root, 'append.csv');
    writeFileSync(path, 'step,loss\n0,2.5\n10,2.1\n20,1.');
    const log = new CsvLog(path, ['step', 'loss'], true);
    expect(text(path)).toBe('step,loss\n0,2.5\n10,2.1\n'); // the partial row is gone at once
    await log.write({ step: 20, loss: 1.9 });
    await log.close();
    expect(text(path)).toBe('step,loss\n0,2.5\n10,2.1\n20,1.9\n');

    writeFileSync(path, 'step,lo'); // killed while writing the header
    const again = new CsvLog(path, ['step', 'loss'], true);
    await again.write({ step: 0, loss: 3 });
    await again.close();
    expect(text(path)).toBe('step,loss\n0,3\n');

    const fresh = new CsvLog(path, ['step', 'loss']);
    await fresh.write({ step: 5, loss: 1 });
    await fresh.close();
    expect(text(path)).toBe('step,loss\n5,1\n');
  });

  it('rejects the write at once on a full device, naming the file and the errno', async () => {
    const path = join(root, 'metrics.csv');
    symlinkSync('/dev/full', path);
    const log = new CsvLog(path, ['step', 'loss']);
    const err = await log.write({ step: 0, loss: 1 }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(FileWriteError);
    expect((err as Error).message).toBe(`${path}: cannot write (ENOSPC: no space left on device)`);
    await expect(log.write({ step: 1, loss: 1 })).rejects.toThrow(/metrics\.csv: cannot write \(ENOSPC/); // every later row too
    await log.close();
  });

  it('throws at once, naming the file, when the file cannot be opened', () => {
    expect(() => new CsvLog(join(root, 'no-such-folder', 'trials.csv'), ['a'])).toThrow(/no-such-folder\/trials\.csv: cannot open for writing \(ENOENT: no such file or directory\)/);
  });

  it('cuts a row that was written in part (file size limit: a short write, then EFBIG) back to the last complete row', () => {
    const lib = bundle('src/util/csv-log.ts');
    const path = join(root, 'limited.csv');
    const child = join(root, 'child.cjs');
    writeFileSync(child, `
      const { CsvLog } = require(${JSON.stringify(lib)});
      (async () => {
        const log = new CsvLog(${JSON.stringify(path)}, ['i', 'payload']);
        let ok = 0, error = null;
        for (let i = 0; i < 1000; i++) {
          try { await log.write({ i, payload: 'x'.repeat(50) }); ok++; } catch (e) { error = e.message; break; }
        }
        await log.close();
        console.log(JSON.stringify({ ok, error }));
      })();`);
    // 2 blocks: 1024 bytes with dash's 512-byte units, 2048 with bash's; rows of 56 bytes after a 10-byte header
    // never end exactly there, so the failing row is written in part before EFBIG.
    const r = spawnSync('sh', ['-c', `ulimit -f 2 && exec "${process.execPath}" "${child}"`], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const { ok, error } = JSON.parse(r.stdout);
    expect(error).toBe(`${path}: cannot write (EFBIG: file too large)`);
    const csv = text(path);
    expect(csv.endsWith('\n')).toBe(true);
    const lines = csv.trimEnd().split('\n');
    expect(lines[0]).toBe('i,payload');
    expect(lines.slice(1)).toEqual(Array.from({ length: ok }, (_, i) => `${i},${'x'.repeat(50)}`));
    expect(ok).toBeGreaterThan(5);
    expect(existsSync(path)).toBe(true);
  });
});

describe('readers of CsvLog files keep every newline-terminated row', () => {
  const header = METRICS_COLUMNS.join(',');
  const row = (step: number) => `${step},${step / 10},0.01,2,2.1,0.1,2.2,2.3,0.1,${step}`;

  it('trimMetricsForResume keeps the row of the checkpoint step when it is the last (was: dropped as a partial line)', async () => {
    const path = join(root, 'metrics-resume.csv');
    writeFileSync(path, `${header}\n${row(0)}\n${row(100)}\n${row(200)}\n`);
    await trimMetricsForResume(path, 200);
    expect(text(path)).toBe(`${header}\n${row(0)}\n${row(100)}\n${row(200)}\n`);
    writeFileSync(path, `${header}\n${row(0)}\n${row(100)}\n${row(200)}\n${row(300).slice(0, 9)}`);
    await trimMetricsForResume(path, 200);
    expect(text(path)).toBe(`${header}\n${row(0)}\n${row(100)}\n${row(200)}\n`);
    writeFileSync(path, 'step,epoch,e'); // killed while the header was being written
    await trimMetricsForResume(path, 200);
    expect(text(path)).toBe('');
  });

  it('readTrialsCsv keeps the last finished trial when its row is the last; refuses a foreign header with exit 2', async () => {
    const path = join(root, 'trials-resume.csv');
    const trial = (n: number) => [n, 0.001, 'completed', 0.5, 0.4, 1.5, 1.7, 24, 24, 1.2, 'wasm-simd', 1, 'NA'].join(',');
    writeFileSync(path, `${TRIAL_COLUMNS.join(',')}\n${trial(1)}\n${trial(2)}\n`);
    expect((await readTrialsCsv(path, SPACE)).rows.map((r) => r.trial)).toEqual([1, 2]);
    writeFileSync(path, `${TRIAL_COLUMNS.join(',')}\n${trial(1)}\n${trial(2).slice(0, 12)}`);
    expect((await readTrialsCsv(path, SPACE)).rows.map((r) => r.trial)).toEqual([1]);
    expect(text(path)).toBe(`${TRIAL_COLUMNS.join(',')}\n${trial(1)}\n`); // the partial row is cut off the file
    writeFileSync(path, 'a,b,c\n1,2,3\n');
    const err = await readTrialsCsv(path, SPACE).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(/trials-resume\.csv: not a trials file of this tool: unexpected header "a,b,c"/);
    expect(text(path)).toBe('a,b,c\n1,2,3\n'); // untouched
  });
});

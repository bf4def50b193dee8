// The step benchmark (dist/bench.js) at tiny sizes with a fake peer: its options reach the peer, the table and the
// ratios it prints, the pipeline-vs-steps figure, and its handling of OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const root = mkdtempSync(join(tmpdir(), 'cifar-bench-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A peer that reports fixed rates and logs its arguments and its OPENBLAS_CORETYPE, one JSON line per run. */
function fakePeer(name: string): { path: string; calls: () => { argv: string[]; coretype: string | null }[] } {
  const path = join(root, `${name}.mjs`), log = join(root, `${name}.log`);
  writeFileSync(log, '');
  writeFileSync(path, `
import { appendFileSync } from 'node:fs';
appendFileSync(${JSON.stringify(log)}, JSON.stringify({ argv: process.argv.slice(2), coretype: process.env.OPENBLAS_CORETYPE ?? null }) + '\\n');
console.log('peer=numpy-f64 samples_per_s=500');
console.log('peer=numpy-f32 samples_per_s=1000');
console.log('peer=numpy-f32-products samples_per_s=2000');
console.log('peer=numpy-f32-eval samples_per_s=4000');
console.log('gemm=2000x2000x2000 gflops=123.5');
`);
  return { path, calls: () => readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
}

function bench(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [resolve('dist/bench.js'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((r) => child.on('close', (code) => r({ code, stdout, stderr })));
}

const TINY = ['--m', '8', '--batch', '10', '--steps', '3', '--rounds', '2'];
const withoutBlasEnv = () => {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
};

describe('step benchmark (dist/bench.js)', () => {
  it('runs the peer at the same shape once per round and reports ratios for every backend, the pipeline and the run figure', async () => {
    const peer = fakePeer('peer-json');
    const data = writeSyntheticCifar(join(root, 'cifar'), 100, 60);
    const { code, stdout, stderr } = await bench([...TINY, '--backends', 'blas,wasm-simd,wasm-simd-1t,reference,pipeline', '--peer', peer.path, '--data', data, '--json'], withoutBlasEnv());
    expect(code, stderr).toBe(0);
    const calls = peer.calls();
    expect(calls).toHaveLength(2); // one peer run per round
    for (const c of calls) expect(c.argv).toEqual(['--m', '8', '--batch', '10', '--repeat', '1']);
    const report = JSON.parse(stdout) as {
      shape: { n: number; m: number; steps: number };
      defaultBackend: string;
      rows: {
        backend: string; runs: string; rounds: number; steps: number; samplesPerSec: number; median: number; vsNumpyF32: number; vsNumpyF64: number; default: boolean;
        msPerStep: number; msProducts?: number; stepVsProducts?: number; evalSamplesPerSec?: number; evalVsNumpyF32?: number;
      }[];
      limits: { sgemm: Record<string, number> | null; numpySgemm: Record<string, number> | null; numpyStepVsProducts: number };
      cli: { backend: string; steps: number; samplesPerSec: number; vsNumpyF32: number; vsBareSteps: number };
      pipeline: { backend: string; samplesPerSec: number; vsNumpyF32: number; epochTimeVsSteps: number; epochTimeVsStepsBest: number };
      peers: { best: Record<string, number>; rounds: Record<string, number[]> };
      skipped: { backend: string; reason: string }[];
    };
    expect(report.shape).toMatchObject({ n: 10, m: 8, steps: 3 });
    expect(report.peers.best).toEqual({ 'numpy-f64': 500, 'numpy-f32': 1000, 'numpy-f32-products': 2000, 'numpy-f32-eval': 4000 });
    expect(report.peers.rounds['numpy-f32']).toEqual([1000, 1000]);
    const names = report.rows.map((r) => r.backend);
    expect(names).toEqual(expect.arrayContaining(['wasm-simd', 'reference']));
    // blas is measured wherever it loads, or listed as not loaded with the reason
    expect(names.includes('blas') || report.skipped.some((s) => s.backend === 'blas')).toBe(true);
    for (const r of report.rows) {
      expect(r.rounds).toBe(2);
      expect(r.samplesPerSec).toBeGreaterThan(0);
      expect(r.samplesPerSec).toBeGreaterThanOrEqual(r.median);
      expect(r.vsNumpyF32).toBeCloseTo(r.samplesPerSec / 1000, 10);
      expect(r.vsNumpyF64).toBeCloseTo(r.samplesPerSec / 500, 10);
    }
    expect(report.rows.filter((r) => r.default).map((r) => r.runs)).toEqual(report.rows.some((r) => r.runs === report.defaultBackend) ? [report.defaultBackend] : []);
    expect(report.pipeline.backend).toBe(report.defaultBackend);
    expect(report.pipeline.samplesPerSec).toBeGreaterThan(0);
    expect(report.pipeline.vsNumpyF32).toBeCloseTo(report.pipeline.samplesPerSec / 1000, 10);
    if (names.includes('blas') || report.defaultBackend === 'wasm-simd') expect(report.pipeline.epochTimeVsSteps).toBeGreaterThan(0);
    // every backend's step beside its products alone; forward-only evaluation on the fast ones
    for (const r of report.rows) {
      expect(r.msProducts, r.backend).toBeGreaterThan(0);
      expect(r.stepVsProducts, r.backend).toBeGreaterThan(0);
    }
    for (const r of report.rows.filter((x) => x.backend === 'wasm-simd' || x.backend === 'blas')) {
      expect(r.evalSamplesPerSec, r.backend).toBeGreaterThan(0);
      expect(r.evalVsNumpyF32).toBeCloseTo(r.evalSamplesPerSec! / 4000, 10);
    }
    expect(report.limits.numpySgemm).toEqual({ '2000x2000x2000': 123.5 });
    expect(report.limits.numpyStepVsProducts).toBeCloseTo(2, 10);
    if (names.includes('blas')) {
      expect(report.limits.sgemm!['2000x2000x2000']).toBeGreaterThan(0);
      expect(report.limits.sgemm!['10x3072x8']).toBeGreaterThan(0);
    }
    // the CLI's own path: a real run of the same shape, 600 steps
    expect(report.cli.steps).toBe(600);
    expect(report.cli.backend).toBe(report.defaultBackend);
    expect(report.cli.samplesPerSec).toBeGreaterThan(0);
    expect(report.cli.vsNumpyF32).toBeCloseTo(report.cli.samplesPerSec / 1000, 10);
  }, 180_000);

  it('uses the peer in the repository by default (bench/peers/step_bench.py), or says why it cannot', async () => {
    const { code, stdout, stderr } = await bench([...TINY, '--rounds', '1', '--backends', 'wasm-simd-1t', '--no-cli'], withoutBlasEnv());
    expect(code, stderr).toBe(0);
    const line = /^peers: (.*)$/m.exec(stdout)?.[1] ?? '';
    if (line.startsWith('/')) {
      expect(line).toContain(`${resolve('bench/peers/step_bench.py')} --m 8 --batch 10 --repeat 1`);
      expect(stdout).toMatch(/^peer numpy-f32\s+\d+\s+[\d,]+/m);
      expect(stdout).toMatch(/^peer numpy-f32\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d,]+$/m); // the limit table's peer row
    } else {
      expect(line).toMatch(/numpy is not installed|no \/usr\/bin\/python3/);
      if (process.env.CI === 'true') throw new Error(`the numpy peer cannot run under CI: ${line}`);
      process.stderr.write(`skipped: the repository's numpy peer (${line})\n`);
    }
  }, 180_000);

  it('prints the table with ratio columns, the pipeline and the run lines; says when there are no peers', async () => {
    const { code, stdout } = await bench([...TINY, '--rounds', '1', '--backends', 'wasm-simd-1t,pipeline', '--no-peers', '--no-cli'], withoutBlasEnv());
    expect(code).toBe(0);
    expect(stdout).toMatch(/^cifar-mlp training-step benchmark: m=8 batch=10 /);
    expect(stdout).toMatch(/^backend\s+runs as\s+threads\s+steps\s+samples\/s \(best\)\s+median\s+ms\/step\s+\/numpy-f32\s+\/numpy-f64$/m);
    expect(stdout).toMatch(/^wasm-simd-1t\s+wasm-simd\s+1\s+3\s+[\d,]+/m);
    expect(stdout).toMatch(/^pipeline epoch \(runTraining on \S+, \d+ threads, 3 steps\): [\d,]+ samples\/s/m);
    expect(stdout).toMatch(/^cifar-mlp run equivalent \(summary\.json samplesPerSecond\): [\d,]+ samples\/s$/m);
    expect(stdout).toMatch(/^peers: not requested \(--no-peers\)$/m);
    expect(stdout).toMatch(/^the limit\s+ms\/step\s+products ms\s+step\/products\s+eval samples\/s \(batch 1000\)\s+\/numpy-f32-eval$/m);
    expect(stdout).toMatch(/^wasm-simd-1t\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d,]+$/m);
    expect(stdout).toMatch(/^cli: not requested \(--no-cli\)$/m);
  }, 180_000);

  it('measures both sides without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE and says so; --keep-blas-env keeps them for ours', async () => {
    const env = { ...withoutBlasEnv(), OPENBLAS_CORETYPE: 'Haswell', OPENBLAS_L2_SIZE: '1048576' };
    const peer = fakePeer('peer-env');
    const stripped = await bench([...TINY, '--rounds', '1', '--backends', 'wasm-simd-1t', '--peer', peer.path, '--no-cli'], env);
    expect(stripped.code, stripped.stderr).toBe(0);
    expect(stripped.stdout).toContain('environment: OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=1048576 is set here; both sides are measured WITHOUT it');
    expect(peer.calls().map((c) => c.coretype)).toEqual([null]); // the bench ran itself (and so the peer) without it
    expect(stripped.stdout).toMatch(/^wasm-simd-1t\s+wasm-simd\s+1\s+3\s+[\d,]+\s+[\d,]+\s+[\d.]+\s+[\d.]+\s+[\d.]+$/m);

    const kept = await bench([...TINY, '--rounds', '1', '--backends', 'wasm-simd-1t', '--peer', peer.path, '--keep-blas-env', '--no-cli'], env);
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stdout).toContain('environment: OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=1048576 kept for ours (--keep-blas-env)');
    expect(peer.calls().map((c) => c.coretype)).toEqual([null, 'Haswell']);
  }, 180_000);

  it('rejects a bad option value with a one-line message', async () => {
    const { code, stderr } = await bench(['--m', 'zero'], withoutBlasEnv());
    expect(code).toBe(2);
    expect(stderr.trim()).toBe('bench: --m takes an integer ≥ 1, got zero');
    const unknown = await bench(['--widths', '5'], withoutBlasEnv());
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim()).toMatch(/^bench: unknown option --widths \(usage: bench /);
  });
});

// The wasm-simd backend, both builds of its kernels (plain SIMD128 and relaxed-SIMD fused multiply-add): the conformance
// cases (every op and training steps against the float64 reference) single- and multi-threaded, its gemm on odd and wide
// shapes and all layouts, threaded = single-threaded bit for bit, build selection, memory growth, clean exit.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostMatrix, KernelBackend, Matrix } from '../src/kernels/backend.js';
import { ReferenceBackend } from '../src/kernels/reference.js';
import { WasmSimdBackend, relaxedSimdAvailable, type SimdVariant } from '../src/kernels/wasm-simd.js';
import { Rng } from '../src/util/rng.js';
import { describeConformance } from './helpers/backend-conformance.js';

const U = 2 ** -24; // float32 unit roundoff

// Node 20 runs relaxed SIMD only behind a V8 flag; this test process sets it so the relaxed build is tested here too
// (Node >= 22 runs it without flags, and users of Node 20 get the plain build: see "build selection" below).
const RELAXED_BY_DEFAULT = relaxedSimdAvailable();
if (!RELAXED_BY_DEFAULT) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
const VARIANTS: SimdVariant[] = ['plain', 'relaxed'];

const ref = new ReferenceBackend();
let single: WasmSimdBackend; // the default build (relaxed here, see above)
let threaded: WasmSimdBackend;

beforeAll(async () => {
  single = await WasmSimdBackend.create({ threads: 1 });
  threaded = await WasmSimdBackend.create({ threads: 3, parallelFlops: 0, spinMicros: 0 });
});
afterAll(async () => {
  await Promise.all([single?.dispose(), threaded?.dispose()]);
});

function random(rng: Rng, n: number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => (rng.uniform() * 2 - 1) * scale);
}

function make(b: KernelBackend, rows: number, cols: number, values: ArrayLike<number>): Matrix {
  const m = b.matrix(rows, cols);
  b.write(m, values);
  return m;
}

/** Reference product of op(a)·op(b) in float64, and of |op(a)|·|op(b)| for the error bound. */
function refGemm(av: Float64Array, ar: number, ac: number, ta: boolean, bv: Float64Array, br: number, bc: number, tb: boolean, cv: Float64Array, alpha: number, beta: number) {
  const n = ta ? ac : ar, m = tb ? br : bc;
  const A = make(ref, ar, ac, av), B = make(ref, br, bc, bv), C = make(ref, n, m, cv);
  ref.gemm(A, ta, B, tb, C, alpha, beta);
  const absA = make(ref, ar, ac, av.map(Math.abs)), absB = make(ref, br, bc, bv.map(Math.abs)), bound = make(ref, n, m, cv.map(Math.abs));
  ref.gemm(absA, ta, absB, tb, bound, Math.abs(alpha), Math.abs(beta));
  return { c: ref.read(C), bound: ref.read(bound) };
}

/** The first index where two arrays differ (NaN equals NaN), or −1. */
function firstDifference(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

function runGemm(b: WasmSimdBackend, av: Float64Array, ar: number, ac: number, ta: boolean, bv: Float64Array, br: number, bc: number, tb: boolean, cv: Float64Array, alpha: number, beta: number) {
  const n = ta ? ac : ar, m = tb ? br : bc;
  const C = make(b, n, m, cv);
  b.gemm(make(b, ar, ac, av), ta, make(b, br, bc, bv), tb, C, alpha, beta);
  return b.read(C);
}

for (const simd of VARIANTS) {
  describe(`wasm-simd gemm, ${simd} build`, () => {
    let one: WasmSimdBackend; // 1 thread
    let three: WasmSimdBackend; // 3 threads, split even the smallest products (NT by columns)
    let rows: WasmSimdBackend; // 2 threads, NT split by rows, finer chunks
    beforeAll(async () => {
      one = await WasmSimdBackend.create({ threads: 1, simd });
      three = await WasmSimdBackend.create({ threads: 3, parallelFlops: 0, spinMicros: 0, simd });
      rows = await WasmSimdBackend.create({ threads: 2, parallelFlops: 0, ntSplit: 'rows', chunksPerThread: 8, simd });
    });
    afterAll(async () => {
      await Promise.all([one?.dispose(), three?.dispose(), rows?.dispose()]);
    });

    // n × k times k × m, including sizes below, at and between the micro-kernel blocks (4×2 NT, 2×16 broadcast)
    const shapes: [number, number, number][] = [
      [1, 1, 1], [1, 7, 1], [3, 5, 2], [5, 3, 7], [4, 8, 16], [7, 13, 33], [9, 1, 17], [17, 31, 5], [2, 100, 3],
      [13, 6, 50], [6, 37, 129], [33, 19, 4], [100, 3, 10], [8, 4, 32], [12, 9, 48], [3, 17, 1001],
    ];
    const layouts: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];
    const scalars: [number, number][] = [[1, 0], [0.01, 0], [-1.5, 0.5], [2, 1]];

    it('runs the build it was asked for', () => {
      expect([one.simd, three.simd, rows.simd]).toEqual([simd, simd, simd]);
    });

    for (const [ta, tb] of layouts) {
      it(`matches the float64 reference: ${ta ? 'T' : 'N'}${tb ? 'T' : 'N'}, odd shapes, alpha/beta`, () => {
        const rng = new Rng(11 + Number(ta) * 2 + Number(tb));
        let checked = 0;
        for (const [n, k, m] of shapes) {
          for (const [alpha, beta] of scalars) {
            const [ar, ac] = ta ? [k, n] : [n, k];
            const [br, bc] = tb ? [m, k] : [k, m];
            const av = random(rng, ar * ac), bv = random(rng, br * bc, 3), cv = random(rng, n * m);
            const want = refGemm(av, ar, ac, ta, bv, br, bc, tb, cv, alpha, beta);
            for (const b of [one, three, rows]) {
              const got = runGemm(b, av, ar, ac, ta, bv, br, bc, tb, cv, alpha, beta);
              for (let i = 0; i < n * m; i++) {
                const tol = (k + 4) * U * want.bound[i] * 1.01 + 1e-30;
                if (!(Math.abs(got[i] - want.c[i]) <= tol)) {
                  throw new Error(`${b.name}/${b.threads}: ${n}×${k}×${m} α=${alpha} β=${beta} [${i}]: ${got[i]} vs ${want.c[i]} (tol ${tol})`);
                }
                checked++;
              }
            }
          }
        }
        expect(checked).toBeGreaterThan(1000);
      });
    }

    it('beta = 0 ignores NaN in the output (it is overwritten, not scaled)', () => {
      for (const [ta, tb] of layouts) {
        const a = one.matrix(6, 6), b = one.matrix(6, 6), c = one.matrix(6, 6);
        one.write(a, random(new Rng(1), 36)); one.write(b, random(new Rng(2), 36));
        c.data.fill(NaN);
        one.gemm(a, ta, b, tb, c);
        expect(Array.from(c.data).every(Number.isFinite)).toBe(true);
      }
    });

    /** The forward product X·Wᵀ and the folded update W ← beta W + alpha Gᵀ X: worst error / float32's bound, per backend. */
    function trainingProducts(backends: WasmSimdBackend[], n: number, d: number, m: number, seed: number): number[] {
      const rng = new Rng(seed);
      const xv = random(rng, n * d), wv = random(rng, m * d, 0.02), gv = random(rng, n * m);
      const s = refGemm(xv, n, d, false, wv, m, d, true, new Float64Array(n * m), 1, 0);
      const w = refGemm(gv, n, m, true, xv, n, d, false, wv, -0.5 / n, 0.999);
      return backends.map((b) => {
        const X = make(b, n, d, xv), W = make(b, m, d, wv), G = make(b, n, m, gv);
        const S = b.matrix(n, m);
        b.gemm(X, false, W, true, S);
        b.gemm(G, true, X, false, W, -0.5 / n, 0.999);
        const sGot = b.read(S), wGot = b.read(W);
        let worst = 0;
        for (let i = 0; i < n * m; i++) worst = Math.max(worst, Math.abs(sGot[i] - s.c[i]) / ((d + 4) * U * s.bound[i]));
        for (let i = 0; i < m * d; i++) worst = Math.max(worst, Math.abs(wGot[i] - w.c[i]) / ((n + 4) * U * w.bound[i]));
        return worst;
      });
    }

    it('the training shapes at m = 50 (100×3072 · 50×3072ᵀ, 100×50ᵀ · 100×3072 into W1) match the reference', () => {
      for (const worst of trainingProducts([one, three], 100, 3072, 50, 5)) {
        expect(worst).toBeLessThan(1);
        expect(worst).toBeGreaterThan(0); // it really is float32
      }
    });

    it('wide layers (m = 1001, 999; d odd) match the reference, single- and multi-threaded', () => {
      for (const [n, m] of [[9, 1001], [6, 999]]) {
        for (const worst of trainingProducts([one, three, rows], n, 517, m, n + m)) {
          expect(worst).toBeLessThan(1);
          expect(worst).toBeGreaterThan(0);
        }
      }
    });

    it('threaded results are bit-identical to single-threaded ones, wide layers included', () => {
      const rng = new Rng(9);
      const all = layouts, nt: [boolean, boolean][] = [[false, true]], tn: [boolean, boolean][] = [[true, false]];
      // n, k, m and the layouts: every layout on small shapes, the wide layer's two big products (X·W1ᵀ and G1ᵀ·X) on fewer rows
      const cases: [number, number, number, [boolean, boolean][]][] = [
        [100, 3072, 50, all], [37, 211, 29, all], [50, 100, 3072, all], [10, 100, 50, all], [100, 10, 1000, all], [10, 100, 1000, all],
        [20, 1031, 1000, nt], [1000, 20, 1031, tn], [7, 515, 1001, nt], [1001, 7, 515, tn],
      ];
      for (const [n, k, m, which] of cases) {
        for (const [ta, tb] of which) {
          const [ar, ac] = ta ? [k, n] : [n, k];
          const [br, bc] = tb ? [m, k] : [k, m];
          const av = random(rng, ar * ac), bv = random(rng, br * bc), cv = random(rng, n * m);
          const want = runGemm(one, av, ar, ac, ta, bv, br, bc, tb, cv, 0.5, 0.25);
          for (const b of [three, rows]) {
            const got = runGemm(b, av, ar, ac, ta, bv, br, bc, tb, cv, 0.5, 0.25);
            const at = firstDifference(got, want); // (toEqual on millions of elements takes minutes)
            expect(at, `${n}×${k}×${m} ${ta ? 'T' : 'N'}${tb ? 'T' : 'N'} on ${b.threads} threads: [${at}] ${got[at]} vs ${want[at]}`).toBe(-1);
          }
        }
      }
      // the workers really took part
      expect(three.stats.jobs).toBeGreaterThan(10);
      expect(three.stats.callerChunks).toBeLessThan(three.stats.chunks);
      expect(one.stats.jobs).toBe(0);
    });

    it('rejects mismatched shapes and matrices it did not allocate', () => {
      const a = one.matrix(3, 4), b = one.matrix(5, 4), c = one.matrix(3, 5);
      expect(() => one.gemm(a, false, b, false, c)).toThrow(/do not fit/);
      expect(() => one.gemm(a, false, b, true, three.matrix(3, 5))).toThrow(/not allocated by this backend/);
      expect(() => one.gemm(a, false, { rows: 5, cols: 4, data: new Float32Array(20) } as Matrix, true, c)).toThrow(/not allocated/);
    });
  });
}

describe('wasm-simd gather', () => {
  function close(got: Float64Array, want: Float64Array, rtol: number, atol = 0) {
    expect(got.length).toBe(want.length);
    for (let i = 0; i < got.length; i++) {
      if (!(Math.abs(got[i] - want[i]) <= rtol * Math.abs(want[i]) + atol)) throw new Error(`[${i}]: ${got[i]} vs ${want[i]}`);
    }
  }

  it('gatherNormalized matches the reference for every row count, leaves rows beyond count alone', () => {
    const rng = new Rng(6);
    for (const d of [5, 16, 33, 3072]) {
      const records = Uint8Array.from({ length: 257 * d }, () => rng.int(0, 255));
      const mean = Float32Array.from({ length: d }, () => rng.uniform());
      const invStd = Float32Array.from({ length: d }, () => 1 / (0.1 + rng.uniform()));
      for (const count of [1, 7, 100]) {
        const rows = Int32Array.from({ length: count }, () => rng.int(0, 256));
        for (const b of [single, threaded]) {
          const out = b.matrix(count + 2, d);
          (out.data as Float32Array).fill(42);
          const want = ref.matrix(count + 2, d);
          (want.data as Float64Array).fill(42);
          b.gatherNormalized(records, rows, count, mean, invStd, out);
          ref.gatherNormalized(records, rows, count, mean, invStd, want);
          close(b.read(out), ref.read(want), 1e-5, 1e-5);
        }
      }
    }
    const out = single.matrix(2, 4);
    expect(() => single.gatherNormalized(new Uint8Array(8), [0, 2], 2, new Float32Array(4), new Float32Array(4), out)).toThrow(/out of range/);
  });

});

for (const simd of VARIANTS) {
  describeConformance(`wasm-simd ${simd}, 1 thread`, () => WasmSimdBackend.create({ threads: 1, simd }));
  describeConformance(`wasm-simd ${simd}, 3 threads splitting every op`, () => WasmSimdBackend.create({ threads: 3, parallelFlops: 0, spinMicros: 0, simd }));
}

describe('wasm-simd memory', () => {
  it('earlier matrices keep their values and views while the memory grows', async () => {
    const b = await WasmSimdBackend.create({ threads: 2, parallelFlops: 0 });
    try {
      const first = b.matrix(4, 4);
      b.write(first, Array.from({ length: 16 }, (_, i) => i));
      const big: HostMatrix[] = [];
      for (let i = 0; i < 8; i++) big.push(b.matrix(1000, 1000)); // 32 MB: several grows
      big[7].data.fill(1);
      expect(Array.from(b.read(first))).toEqual(Array.from({ length: 16 }, (_, i) => i));
      first.data[3] = -1;
      expect(b.read(first)[3]).toBe(-1);
      // a product between the first and the last matrix, split across threads
      const a = b.matrix(4, 1000), c = b.matrix(4, 1000);
      a.data.fill(2);
      b.gemm(first, false, a, false, c);
      expect(c.data[0]).toBe(4); // row 0 of first is 0, 1, 2, −1; a is all 2
      expect(c.data[999]).toBe(4);
    } finally {
      await b.dispose();
    }
  });

  it('releaseAll: the storage is reused, new matrices start at zero, released ones are refused', async () => {
    const b = await WasmSimdBackend.create({ threads: 2, parallelFlops: 0 });
    try {
      const run = () => { // a gemm split across threads, a gather (staging) and a packed product (scratch)
        const a = b.matrix(64, 300), w = b.matrix(40, 300), c = b.matrix(64, 40), g = b.matrix(40, 300);
        b.write(a, Array.from({ length: a.data.length }, (_, i) => (i % 7) - 3));
        b.write(w, Array.from({ length: w.data.length }, (_, i) => (i % 5) - 2));
        b.gemm(a, false, w, true, c);
        b.gemm(c, true, a, false, g);
        const x = b.matrix(3, 300);
        b.gatherNormalized(Uint8Array.from({ length: 3 * 300 }, (_, i) => i % 251), [2, 0, 1], 3, new Float32Array(300).fill(0.5), new Float32Array(300).fill(2), x);
        return { a, addresses: [a, w, c, g, x].map((m) => m.data.byteOffset), values: [c, g, x].map((m) => Array.from(b.read(m))) };
      };
      const first = run();
      const grown = b.stats.jobs;
      b.releaseAll();
      const fresh = b.matrix(64, 300);
      expect(fresh.data.byteOffset).toBe(first.addresses[0]); // the same storage again
      expect(fresh.data.every((v) => v === 0)).toBe(true); // zero-filled although it held first.a
      expect(() => b.gemm(first.a, false, fresh, true, b.matrix(64, 64))).toThrow(/not allocated by this backend/);
      b.releaseAll();
      const second = run();
      expect(second.addresses).toEqual(first.addresses);
      expect(second.values).toEqual(first.values); // nothing carried over from the first run
      expect(b.stats.jobs).toBeGreaterThan(grown); // the second run split its products again
    } finally {
      await b.dispose();
    }
  });

  it('reports running out of its memory limit', async () => {
    const b = await WasmSimdBackend.create({ threads: 1, maxMemoryMiB: 8 });
    expect(() => b.matrix(1024, 4096)).toThrow(/out of memory/);
    await b.dispose();
  });
});

/** Runs `contents` (TypeScript importing the backend as WasmSimdBackend etc.) bundled into dist/, in a fresh node. */
async function runFresh(contents: string, nodeArgs: string[] = [], env: Record<string, string> = {}): Promise<string> {
  const file = `dist/.wasm-simd-child-${process.pid}-${Math.random().toString(36).slice(2)}.mjs`;
  try {
    await build({
      stdin: { contents, resolveDir: 'dist', sourcefile: 'child.ts', loader: 'ts' },
      outfile: file, bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'error',
    });
    return execFileSync(process.execPath, [...nodeArgs, file], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, CIFAR_MLP_WASM: '', ...env } });
  } finally {
    rmSync(file, { force: true });
  }
}

describe('wasm-simd build selection', () => {
  const probe = `import { WasmSimdBackend, relaxedSimdAvailable } from '../src/kernels/wasm-simd.ts';
    const auto = await WasmSimdBackend.create({ threads: 1 });
    const plain = await WasmSimdBackend.create({ threads: 1, simd: 'plain' });
    let relaxed: string;
    try { relaxed = (await WasmSimdBackend.create({ threads: 1, simd: 'relaxed' })).simd; } catch (e) { relaxed = (e as Error).message; }
    console.log(JSON.stringify({ available: relaxedSimdAvailable(), auto: auto.simd, plain: plain.simd, relaxed }));`;

  it('auto runs the relaxed build exactly where the runtime has relaxed SIMD, else the plain one', async () => {
    const bare = JSON.parse(await runFresh(probe));
    expect(bare.available).toBe(RELAXED_BY_DEFAULT); // Node 20: false, Node >= 22: true
    expect(bare.auto).toBe(bare.available ? 'relaxed' : 'plain');
    expect(bare.plain).toBe('plain');
    if (bare.available) expect(bare.relaxed).toBe('relaxed');
    else expect(bare.relaxed).toMatch(/no relaxed SIMD .*--experimental-wasm-relaxed-simd/);
    const flagged = JSON.parse(await runFresh(probe, RELAXED_BY_DEFAULT ? [] : ['--experimental-wasm-relaxed-simd']));
    expect(flagged).toEqual({ available: true, auto: 'relaxed', plain: 'plain', relaxed: 'relaxed' });
  });

  it('without kernels-relaxed.wasm, auto falls back to the plain build and simd: relaxed says what is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wasm-simd-'));
    try {
      copyFileSync('dist/wasm/kernels.wasm', join(dir, 'kernels.wasm'));
      const out = JSON.parse(await runFresh(probe, RELAXED_BY_DEFAULT ? [] : ['--experimental-wasm-relaxed-simd'], { CIFAR_MLP_WASM: join(dir, 'kernels.wasm') }));
      expect(out.auto).toBe('plain');
      expect(out.relaxed).toMatch(/kernels-relaxed\.wasm not found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("each build rounds the same in V8's baseline and optimising compilers, on 1 and 3 threads", async () => {
    // a fused multiply-add in one tier and a separate multiply and add in the other would make results depend on
    // which tier a thread happens to run: hash both products of a training step under each compiler alone
    const hashes = `import v8 from 'node:v8';
      import { createHash } from 'node:crypto';
      import { WasmSimdBackend, relaxedSimdAvailable } from '../src/kernels/wasm-simd.ts';
      if (!relaxedSimdAvailable()) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
      const out: Record<string, string> = {};
      for (const simd of ['plain', 'relaxed'] as const) {
        for (const threads of [1, 3]) {
          const b = await WasmSimdBackend.create({ threads, simd, parallelFlops: 0 });
          const fill = (r: number, c: number, f: number) => { const m = b.matrix(r, c); for (let i = 0; i < r * c; i++) m.data[i] = Math.sin(i * f); return m; };
          const X = fill(37, 301, 1.3), W = fill(29, 301, 0.7), S = b.matrix(37, 29);
          b.gemm(X, false, W, true, S);
          b.gemm(S, true, X, false, W, 0.5, 0.25);
          out[simd + threads] = createHash('sha1').update(S.data).update(W.data).digest('hex');
          await b.dispose();
        }
      }
      console.log(JSON.stringify(out));`;
    const baseline = JSON.parse(await runFresh(hashes, ['--liftoff-only']));
    const optimised = JSON.parse(await runFresh(hashes, ['--no-liftoff']));
    expect(optimised).toEqual(baseline);
    expect(baseline.plain3).toBe(baseline.plain1);
    expect(baseline.relaxed3).toBe(baseline.relaxed1);
  });
});

describe('wasm-simd lifecycle', () => {
  it('from an esbuild bundle in dist/: loads dist/wasm/kernels.wasm, and the process exits without dispose()', async () => {
    const file = `dist/.wasm-simd-exit-${process.pid}.mjs`;
    try {
      await build({
        stdin: {
          contents: `import { WasmSimdBackend } from '../src/kernels/wasm-simd.ts';
            const b = await WasmSimdBackend.create({ threads: 3, parallelFlops: 0 });
            const x = b.matrix(8, 8); x.data.fill(1); const y = b.matrix(8, 8);
            b.gemm(x, false, x, true, y);
            console.log(JSON.stringify({ threads: b.threads, y: y.data[63] }));`,
          resolveDir: 'dist', sourcefile: 'exit.ts', loader: 'ts',
        },
        outfile: file, bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'error',
      });
      const started = Date.now();
      const out = execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, CIFAR_MLP_WASM: '' } });
      expect(JSON.parse(out)).toEqual({ threads: 3, y: 8 });
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('a split op still completes when a worker is gone (the caller claims its chunks)', async () => {
    const b = await WasmSimdBackend.create({ threads: 2, parallelFlops: 0 });
    try {
      const rng = new Rng(12);
      const av = random(rng, 40 * 300), bv = random(rng, 30 * 300);
      const want = runGemm(single, av, 40, 300, false, bv, 30, 300, true, new Float64Array(40 * 30), 1, 0);
      await (b as unknown as { workers: { terminate(): Promise<number> }[] }).workers[0].terminate();
      const before = { ...b.stats };
      expect(runGemm(b, av, 40, 300, false, bv, 30, 300, true, new Float64Array(40 * 30), 1, 0)).toEqual(want);
      expect(b.stats.chunks - before.chunks).toBeGreaterThan(1);
      expect(b.stats.callerChunks - before.callerChunks).toBe(b.stats.chunks - before.chunks); // all on the caller
    } finally {
      await b.dispose();
    }
  });

  it('dispose() stops the workers; a disposed backend refuses split work', async () => {
    const b = await WasmSimdBackend.create({ threads: 2, parallelFlops: 0 });
    expect(b.threads).toBe(2);
    const x = b.matrix(8, 8), y = b.matrix(8, 8);
    await b.dispose();
    expect(() => b.gemm(x, false, x, true, y)).toThrow(/disposed/);
    await b.dispose(); // idempotent
  });
});

// The blas backend: the conformance cases on the machine's BLAS, its discovery (override, missing library, library
// without cblas_sgemm), its thread-count control, and `auto`'s fallback to wasm-simd when no BLAS loads.
// Without a BLAS library here the backend's own cases skip with one line; under CI=true they fail instead.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';
import { platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainSchema } from '../src/config/train-schema.js';
import { loadSplits } from '../src/data/splits.js';
import { runTraining } from '../src/pipeline/train.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';
import { blasCandidates, BlasNotFoundError, findBlas, openBlas, type BlasLibrary } from '../src/kernels/blas-library.js';
import { BlasBackend } from '../src/kernels/blas.js';
import { packTransform, transformRows } from '../src/kernels/image-transform.js';
import { selectBackend } from '../src/kernels/select.js';
import { poolSize } from '../src/search/trial-config.js';
import { describeConformance, expectClose, pair, randomValues } from './helpers/backend-conformance.js';
import { ReferenceBackend } from '../src/kernels/reference.js';
import { Rng } from '../src/util/rng.js';

let library: BlasLibrary | null = null;
let missing = '';
try {
  library = findBlas();
} catch (e) {
  missing = (e as Error).message;
}

/** A shared library of this platform that loads but has no cblas_sgemm. */
const NOT_A_BLAS = { linux: 'libm.so.6', darwin: '/usr/lib/libSystem.B.dylib', win32: 'kernel32.dll' }[platform() as string];

if (!library) {
  if (process.env.CI === 'true') {
    it('a BLAS library is installed (CI installs libopenblas0-pthread)', () => {
      throw new Error(`no BLAS library here: ${missing}`);
    });
  } else {
    it.skip(`blas backend: skipped, no BLAS library here (${missing})`, () => {});
  }
} else {
  describeConformance(`blas (${library.flavour}), 1 thread`, () => BlasBackend.create({ threads: 1 }));
  describeConformance(`blas (${library.flavour}), 2 threads`, () => BlasBackend.create({ threads: 2 }));

  describe('blas backend', () => {
    const made: BlasBackend[] = [];
    afterAll(async () => { await Promise.all(made.map((b) => b.dispose())); });
    const create = async (threads: number) => {
      const b = await BlasBackend.create({ threads });
      made.push(b);
      return b;
    };

    it('is named after the library it runs on and counts its threads, the caller included', async () => {
      const b = await create(2);
      expect(b.name).toBe(`blas-${library!.flavour}`);
      expect(b.threads).toBe(2);
      expect(b.dtype).toBe('float32');
    });

    it.runIf(library.threadControl)('sets the library\'s thread count to its own before its products, whichever backend ran last', async () => {
      const one = await create(1), three = await create(3);
      const ref = new ReferenceBackend(), rng = new Rng(3);
      const product = async (b: BlasBackend) => {
        const [x, xr] = await pair(b, 64, 300, randomValues(rng, 64 * 300));
        const [w, wr] = await pair(b, 40, 300, randomValues(rng, 40 * 300));
        const [c, cr] = await pair(b, 64, 40, randomValues(rng, 64 * 40));
        b.gemm(x, false, w, true, c, 1, 0);
        ref.gemm(xr, false, wr, true, cr, 1, 0);
        await expectClose(b, c, cr, 1e-4, `${b.threads} threads`);
      };
      await product(one);
      expect(library!.getThreads()).toBe(1);
      await product(three);
      expect(library!.getThreads()).toBe(3);
      await product(one);
      expect(library!.getThreads()).toBe(1);
    });

    it('a search worker gets cores / workers BLAS threads and no gather helper: workers × threads ≤ cores', async () => {
      for (const [workers, cores] of [[2, 2], [3, 8], [4, 4]]) {
        const { threadsPerTrial } = poolSize({ workers, kernelThreads: 0, pending: 10, cores });
        expect(workers * threadsPerTrial).toBeLessThanOrEqual(cores);
      }
      const { threadsPerTrial } = poolSize({ workers: 2, kernelThreads: 0, pending: 10, cores: 2 });
      const { backend } = await selectBackend('blas', threadsPerTrial);
      made.push(backend as BlasBackend);
      expect(backend.threads).toBe(1);
      expect((backend as BlasBackend).gatherStats).toBeNull(); // no helper thread beside a single-threaded BLAS
      const a = backend.matrix(64, 64), c = backend.matrix(64, 64);
      await backend.gemm(a, false, a, true, c);
      if (library!.threadControl) expect(library!.getThreads()).toBe(1);
    });

    it('refuses matrices it did not allocate, and released ones', async () => {
      const b = await create(1), other = await create(1);
      const x = b.matrix(2, 3), y = b.matrix(3, 2), z = b.matrix(2, 2);
      expect(() => b.gemm(x, false, other.matrix(3, 2), false, z)).toThrow(/not allocated by this backend/);
      b.releaseAll();
      expect(() => b.gemm(x, false, y, false, z)).toThrow(/not allocated by this backend/);
    });

    it('the training stream gathers ahead (beside two BLAS threads, with split products, or beside one) and gives exactly what it gives without (metrics, weights)', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cifar-blas-stream-'));
      try {
        const dataDir = writeSyntheticCifar(join(dir, 'data'), 200, 90);
        const config = trainSchema.parse({
          name: 'ahead', seed: 3, model: { hidden: 16 }, train: { lambda: 0.001, batchSize: 40 },
          schedule: { etaMin: 1e-4, etaMax: 5e-2, ns: 25, cycles: 1 }, eval: { pointsPerCycle: 5 },
        });
        const splits = loadSplits(config.data, dataDir);
        const runWith = async (gatherAhead: boolean, threads = 2, splitProducts = true) => {
          const backend = await BlasBackend.create({ threads, gatherAhead, splitProducts });
          made.push(backend);
          let gathersAhead = 0;
          const counted = new Proxy(backend, {
            get(t, p, r) {
              if (p === 'gatherNormalizedAhead') return (...a: Parameters<BlasBackend['gatherNormalizedAhead']>) => { gathersAhead++; return t.gatherNormalizedAhead(...a); };
              const v = Reflect.get(t, p, r);
              return typeof v === 'function' ? v.bind(t) : v;
            },
          });
          const out = join(dir, `${gatherAhead}-${threads}`);
          const { summary, network } = await runTraining({ config, splits, backend: counted, outDir: out });
          const metrics = readFileSync(join(out, 'metrics.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, -1).join(','));
          return { summary, metrics, weights: await network.snapshot(), gathersAhead, helper: backend.gatherStats, products: backend.productThreads };
        };
        // two threads: products on the library's two threads (helper paused around them), or split with the helper
        const ahead = await runWith(true, 2, false), inline = await runWith(false);
        const split = await runWith(true);
        // one thread: the helper gathers beside it, never paused
        const beside1 = await runWith(true, 1), inline1 = await runWith(false, 1);
        expect(ahead.summary.status).toBe('completed');
        expect(ahead.summary.steps).toBe(50); // 2.5 epochs of 20 steps: the look-ahead crosses epoch boundaries
        expect(ahead.gathersAhead).toBe(50);
        expect([ahead.products, inline.products, split.products, beside1.products]).toEqual(['library', 'library', 'split', 'library']);
        expect(ahead.metrics).toEqual(inline.metrics);
        for (const p of ['W1', 'b1', 'W2', 'b2'] as const) expect(Array.from(ahead.weights[p])).toEqual(Array.from(inline.weights[p]));
        expect(ahead.summary.final).toEqual(inline.summary.final);
        expect(beside1.helper!.chunks).toBeGreaterThan(0); // a helper thread gathered, beside the one BLAS thread
        expect(inline1.helper).toBeNull();
        expect(beside1.metrics).toEqual(inline1.metrics);
        expect(beside1.summary.final).toEqual(inline1.summary.final);
        // split products: the same numbers run after run (the halves are fixed), and within float32 rounding of the
        // unsplit products (the library's kernels may round an entry differently by where a block of C ends)
        const split2 = await runWith(true);
        for (const r of [split, split2]) {
          expect(r.summary.status, r.summary.error).toBe('completed');
          expect(r.helper!.failure).toBeNull();
          expect(r.helper!.chunks, JSON.stringify(r.helper)).toBeGreaterThan(0);
        }
        expect(split2.metrics).toEqual(split.metrics);
        for (const p of ['W1', 'b1', 'W2', 'b2'] as const) expect(Array.from(split2.weights[p])).toEqual(Array.from(split.weights[p]));
        for (const p of ['W1', 'b1', 'W2', 'b2'] as const) {
          const a = split.weights[p], b = inline1.weights[p];
          const scale = Math.max(...Array.from(b, Math.abs));
          expect(Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]))) / scale, p).toBeLessThan(1e-4);
        }
        expect(split.summary.final!.val.accuracy).toBe(inline1.summary.final!.val.accuracy);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('augmented batches are gathered ahead on the helper, exactly as the augment stage makes them inline (metrics, weights)', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cifar-blas-augment-'));
      try {
        const dataDir = writeSyntheticCifar(join(dir, 'data'), 200, 90);
        const config = trainSchema.parse({
          name: 'augment-ahead', seed: 5, model: { hidden: 16 }, train: { lambda: 0.001, batchSize: 40 }, augment: { flip: true, translate: 2 },
          schedule: { etaMin: 1e-4, etaMax: 5e-2, ns: 25, cycles: 1 }, eval: { pointsPerCycle: 5 },
        });
        const splits = loadSplits(config.data, dataDir);
        const runWith = async (gatherAhead: boolean, threads: number) => {
          const backend = await BlasBackend.create({ threads, gatherAhead, splitProducts: false });
          made.push(backend);
          const out = join(dir, `${gatherAhead}-${threads}`);
          const { summary, network } = await runTraining({ config, splits, backend, outDir: out });
          const metrics = readFileSync(join(out, 'metrics.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, -1).join(','));
          return { summary, metrics, weights: await network.snapshot(), helper: backend.gatherStats };
        };
        for (const threads of [2, 1]) {
          const ahead = await runWith(true, threads), inline = await runWith(false, threads);
          expect(ahead.summary.status, ahead.summary.error).toBe('completed');
          expect(ahead.summary.steps).toBe(50);
          expect(ahead.helper!.failure).toBeNull();
          expect(ahead.helper!.chunks, `${threads} threads`).toBeGreaterThan(0); // the helper gathered augmented batches
          expect(inline.helper).toBeNull();
          expect(ahead.metrics).toEqual(inline.metrics);
          for (const p of ['W1', 'b1', 'W2', 'b2'] as const) expect(Array.from(ahead.weights[p]), p).toEqual(Array.from(inline.weights[p]));
          expect(ahead.summary.final).toEqual(inline.summary.final);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('gathers augmented rows ahead as transformRows and gatherNormalized make them, on the helper and without one', async () => {
      const b = await create(2), alone = await BlasBackend.create({ threads: 1, gatherAhead: false });
      made.push(alone);
      const d = 3072, count = 37, rng = new Rng(8);
      const records = new Uint8Array(new SharedArrayBuffer(60 * d)); // shared: the helper reads it
      for (let i = 0; i < records.length; i++) records[i] = rng.int(0, 255);
      const rows = Int32Array.from({ length: count }, () => rng.int(0, 59));
      const codes = Int32Array.from({ length: count }, () => packTransform({ flip: rng.int(0, 1) === 1, dx: rng.int(-3, 3), dy: rng.int(-3, 3) }));
      const fill = new Uint8Array(d).map(() => rng.int(0, 255));
      const mean = new Float32Array(d).map(() => rng.uniform()), invStd = new Float32Array(d).map(() => 1 + rng.uniform());
      const images = new Uint8Array(count * d);
      transformRows(records, rows, 0, 0, count, codes, 0, fill, images);
      const expected = b.matrix(count, d);
      b.gatherNormalized(images, Int32Array.from({ length: count }, (_, i) => i), count, mean, invStd, expected);
      const want = b.read(expected);
      const ahead = b.matrix(count, d), inline = alone.matrix(count, d);
      b.gatherNormalizedAhead(records, rows, count, mean, invStd, ahead, { codes, fill })();
      alone.gatherNormalizedAhead(records, rows, count, mean, invStd, inline, { codes, fill })(); // no helper: made on this thread
      expect(b.gatherStats!.failure).toBeNull();
      expect(b.gatherStats!.chunks).toBe(Math.ceil(count / 8)); // it went to the helper
      expect(alone.gatherStats).toBeNull();
      const firstDifference = (x: Float64Array) => x.findIndex((v, i) => v !== want[i]); // -1: identical (a diff of 10⁵ values would take minutes)
      expect(firstDifference(b.read(ahead))).toBe(-1);
      expect(firstDifference(alone.read(inline))).toBe(-1);
    });

    it('releaseAll waits for a gather under way, so that new matrices start at zero', async () => {
      const b = await create(2);
      const d = 3072, records = new Uint8Array(new SharedArrayBuffer(50 * d)).fill(200);
      const out = b.matrix(50, d);
      b.gatherNormalizedAhead(records, Int32Array.from({ length: 50 }, (_, i) => i), 50, new Float32Array(d), new Float32Array(d).fill(1), out);
      b.releaseAll();
      const fresh = b.matrix(50, d);
      expect(b.read(fresh).every((v) => v === 0)).toBe(true);
      // and it gathers ahead again after that
      const again = b.matrix(2, d);
      const wait = b.gatherNormalizedAhead(records, Int32Array.of(3, 4), 2, new Float32Array(d), new Float32Array(d).fill(1), again);
      wait();
      expect(b.read(again).every((v) => Math.abs(v - 200 / 255) < 1e-6)).toBe(true);
    });

    it('a gather helper that is gone: the wait gathers what it left; one that died holding rows makes the wait throw, not hang', async () => {
      const b = await create(2);
      const d = 3072, rows = 400, records = new Uint8Array(new SharedArrayBuffer(rows * d)).fill(51);
      const ones = new Float32Array(d).fill(1), zeros = new Float32Array(d);
      type Helper = { pause(): void; ctrl: Int32Array; worker: { terminate(): Promise<number> } };
      const helper = (b as unknown as { helper: Helper }).helper;
      const out = b.matrix(rows, d);
      const wait = b.gatherNormalizedAhead(records, Int32Array.from({ length: rows }, (_, i) => i), rows, zeros, ones, out);
      helper.pause(); // it stops after its current chunk
      await helper.worker.terminate();
      wait(); // the calling thread gathers every chunk the helper did not
      expect(b.read(out).every((v) => Math.abs(v - 0.2) < 1e-6)).toBe(true);

      const again = b.matrix(8, d);
      const stuck = b.gatherNormalizedAhead(records, Int32Array.from({ length: 8 }, (_, i) => i), 8, zeros, ones, again);
      Atomics.add(helper.ctrl, 1, 1); // as if the (dead) helper had claimed a chunk: nobody will finish it
      expect(() => stuck()).toThrow(/gather worker thread (died|made no progress)/);

      // large products no longer go to it: they run whole on the calling thread
      expect(b.productThreads).toBe('library');
      const x = b.matrix(100, d), w = b.matrix(50, d), s = b.matrix(100, 50);
      b.write(x, new Float64Array(100 * d).fill(0.5));
      b.write(w, new Float64Array(50 * d).fill(0.25));
      b.gemm(x, false, w, true, s);
      expect(b.read(s).every((v) => v === 0.125 * d)).toBe(true);
    }, 30_000);

    it('a helper that cannot load the BLAS gathers only: the calling thread computes both halves of a product', async () => {
      const b = await BlasBackend.create({ threads: 2, library: { ...library!, path: '/nonexistent/libopenblas.so.0' } });
      made.push(b);
      const rng = new Rng(4), n = 100, m = 50, d = 3072;
      const [x, xr] = await pair(b, n, d, randomValues(rng, n * d));
      const [w, wr] = await pair(b, m, d, randomValues(rng, m * d));
      const [s, sr] = await pair(b, n, m, new Float64Array(n * m));
      const ref = new ReferenceBackend();
      ref.gemm(xr, false, wr, true, sr);
      for (let i = 0; i < 3; i++) {
        b.gemm(x, false, w, true, s);
        await expectClose(b, s, sr, 2e-5 * Math.sqrt(d), `product ${i}`);
      }
      expect(b.productThreads).toBe('library');
      expect(b.gatherStats!.failure).toBeNull(); // the helper itself lives on, for the gathers
    }, 30_000);

    // OpenBLAS reads OPENBLAS_THREAD_TIMEOUT once, when it loads: measured in fresh processes. Its idle threads
    // spin for about 2^28 cycles (~0.1 s) after a product by default; the backend loads it with 2^4 unless the
    // user set the variable, and leaves the environment as it was.
    it.runIf(library.flavour === 'openblas')('OpenBLAS\'s idle threads sleep right after a product, unless the user set OPENBLAS_THREAD_TIMEOUT', async () => {
      const dir = mkdtempSync(join(process.cwd(), 'node_modules', '.cifar-mlp-blas-idle-')); // where koffi resolves
      try {
        const script = join(dir, 'idle.mjs');
        await build({
          stdin: {
            contents: `
              import { BlasBackend } from ${JSON.stringify(join(process.cwd(), 'src/kernels/blas.ts'))};
              const b = await BlasBackend.create({ threads: 2, gatherAhead: false });
              const afterLoad = process.env.OPENBLAS_THREAD_TIMEOUT ?? null;
              const x = b.matrix(100, 3072), w = b.matrix(500, 3072), s = b.matrix(100, 500);
              for (let i = 0; i < 5; i++) b.gemm(x, false, w, true, s);
              const u0 = process.cpuUsage();
              await new Promise((r) => setTimeout(r, 300));
              const u = process.cpuUsage(u0);
              console.log(JSON.stringify({ afterLoad, idleCpuMs: (u.user + u.system) / 1000 }));
              await b.dispose();`,
            resolveDir: process.cwd(), loader: 'ts',
          },
          bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile: script, logLevel: 'silent',
        });
        const run = (env: NodeJS.ProcessEnv) => JSON.parse(execFileSync(process.execPath, [script], { env, encoding: 'utf8' })) as { afterLoad: string | null; idleCpuMs: number };
        const base = { ...process.env };
        delete base.OPENBLAS_THREAD_TIMEOUT;
        delete base.GOTO_THREAD_TIMEOUT;
        const ours = run(base);
        const users = run({ ...base, OPENBLAS_THREAD_TIMEOUT: '30' }); // 2^30 cycles: spins through the whole idle time
        expect(ours.afterLoad).toBeNull(); // set for the load only
        expect(users.afterLoad).toBe('30');
        expect(ours.idleCpuMs).toBeLessThan(60);
        // the user's spinning threads yield to other processes: on a loaded machine they get a small share of a core,
        // so the margin is relative (unloaded here: ~300 ms against ~4 ms; under a full CI run: 13 ms against 1.7 ms)
        expect(users.idleCpuMs).toBeGreaterThan(3 * ours.idleCpuMs + 5);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);

    it('beta = 0 overwrites NaN in the output (BLAS semantics, as the other backends)', async () => {
      const b = await create(1);
      const a = b.matrix(3, 4), w = b.matrix(4, 2), c = b.matrix(3, 2);
      b.write(a, new Float64Array(12).fill(1));
      b.write(w, new Float64Array(8).fill(0.5));
      b.write(c, new Float64Array(6).fill(NaN));
      b.gemm(a, false, w, false, c);
      expect(Array.from(b.read(c))).toEqual([2, 2, 2, 2, 2, 2]);
    });
  });
}

describe('BLAS discovery', () => {
  const saved = process.env.CIFAR_MLP_BLAS;
  afterEach(() => {
    if (saved === undefined) delete process.env.CIFAR_MLP_BLAS;
    else process.env.CIFAR_MLP_BLAS = saved;
  });

  it('CIFAR_MLP_BLAS naming a file that is not there: a one-line error naming the variable and the path', () => {
    const path = '/nonexistent/dir/libopenblas.so.0';
    expect(() => findBlas({ CIFAR_MLP_BLAS: path })).toThrow(BlasNotFoundError);
    try {
      findBlas({ CIFAR_MLP_BLAS: path });
    } catch (e) {
      const msg = (e as Error).message;
      expect(msg).toContain(`CIFAR_MLP_BLAS=${path}:`);
      expect(msg).toMatch(/no such file|cannot open|not found/i);
      expect(msg).not.toContain('\n');
    }
  });

  it.runIf(NOT_A_BLAS)('a library without cblas_sgemm: says so, by path', () => {
    expect(() => openBlas(NOT_A_BLAS!)).toThrow(`${NOT_A_BLAS}: loads, but has no cblas_sgemm`);
    expect(() => findBlas({ CIFAR_MLP_BLAS: NOT_A_BLAS })).toThrow(`CIFAR_MLP_BLAS=${NOT_A_BLAS}: loads, but has no cblas_sgemm`);
    // among the default candidates, a non-BLAS is named; missing files are only listed
    const e = (() => { try { findBlas({}, ['/nonexistent/libblis.so.4', NOT_A_BLAS!]); } catch (x) { return x as BlasNotFoundError; } })();
    expect(e).toBeInstanceOf(BlasNotFoundError);
    expect(e!.message).toMatch(new RegExp(`^no BLAS found: looked for libblis\\.so\\.4, ${NOT_A_BLAS!.split('/').pop()!.replace(/\./g, '\\.')} \\(${NOT_A_BLAS!.replace(/\./g, '\\.')}: loads, but has no cblas_sgemm`));
    expect(e!.message).toContain('CIFAR_MLP_BLAS');
    expect(e!.tried.map((t) => t.path)).toEqual(['/nonexistent/libblis.so.4', NOT_A_BLAS]);
    expect(e!.tried[0].reason).toMatch(/^\/nonexistent\/libblis\.so\.4: .*(no such file|cannot open)/i);
    // the default list names each library once, and says that folders were searched too
    const none = (() => { try { findBlas({}, blasCandidates('linux', 'x64').map((c) => c.replace(/^(\/?)/, '/nonexistent/'))); } catch (x) { return x as Error; } })();
    expect(none!.message).toMatch(/^no BLAS found: looked for libopenblas\.so\.0, libopenblasp\.so\.0, libopenblaso\.so\.0, libopenblas\.so, libmkl_rt\.so\.2, libmkl_rt\.so, libblis\.so\.4, libblis\.so in the system's library path and the usual folders; install one or set CIFAR_MLP_BLAS=\/path\/to\/library \(docs\/blas\.md\)$/);
  });

  it('auto falls back to wasm-simd and records why blas did not load; --backend blas fails with the reason', async () => {
    process.env.CIFAR_MLP_BLAS = '/nonexistent/libopenblas.so.0';
    const { backend, skipped } = await selectBackend('auto', 1);
    try {
      expect(['wasm-simd', 'gpujs-headlessgl', 'gpujs-webgpu']).toContain(backend.name);
      if (backend.name === 'wasm-simd') expect(skipped.find((s) => s.name === 'blas')?.reason).toContain('CIFAR_MLP_BLAS=/nonexistent/libopenblas.so.0');
    } finally {
      await backend.dispose();
    }
    await expect(selectBackend('blas', 1)).rejects.toThrow(/kernel backend blas is not available here: CIFAR_MLP_BLAS=\/nonexistent\/libopenblas\.so\.0/);
  });

  it.runIf(library)('auto picks blas ahead of wasm-simd when a BLAS loads', async () => {
    delete process.env.CIFAR_MLP_BLAS;
    const { backend, skipped } = await selectBackend('auto', 1);
    try {
      expect(skipped.map((s) => s.name)).not.toContain('blas');
      if (!/^gpujs-(headlessgl|webgpu)$/.test(backend.name)) expect(backend.name).toBe(`blas-${library!.flavour}`);
    } finally {
      await backend.dispose();
    }
  });
});

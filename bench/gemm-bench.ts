// The training step's products on wasm-simd, one at a time: µs per call and GFLOP/s, for one or more variants
// (kernel modules and backend options) measured interleaved, sample by sample, since the machine is shared.
//   node build.mjs && npx esbuild bench/gemm-bench.ts --bundle --platform=node --format=esm --packages=external --outfile=dist/gemm-bench.js
//   node dist/gemm-bench.js [--m 1000] [--n 100] [--threads 1] [--samples 9] [--only NT] \
//     [--variant 'label=path/to/kernels.wasm={json WasmSimdOptions}' ...]   (path and options may be empty)
// Reported: the minimum over samples of wall time and of process CPU time per call (all threads, spinning included;
// for one thread on a loaded machine the CPU time is the steadier figure), and each variant's ratio to the first.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Matrix } from '../src/kernels/backend.js';
import { WasmSimdBackend, wasmModule } from '../src/kernels/wasm-simd.js';
import { Rng } from '../src/util/rng.js';

const { values } = parseArgs({
  options: {
    m: { type: 'string', default: '1000' },
    n: { type: 'string', default: '100' },
    d: { type: 'string', default: '3072' },
    threads: { type: 'string', default: '1' },
    samples: { type: 'string', default: '9' },
    only: { type: 'string' },
    variant: { type: 'string', multiple: true, default: ['default=='] },
  },
});
const m = Number(values.m), n = Number(values.n), d = Number(values.d), k = 10, threads = Number(values.threads);
const samples = Number(values.samples);

interface Variant { label: string; b: WasmSimdBackend; ops: [string, number, () => void][] }

async function variant(spec: string): Promise<Variant> {
  const [label, path, json] = spec.split('=');
  const module = path ? await WebAssembly.compile(readFileSync(path)) : await wasmModule();
  const b = await WasmSimdBackend.create({ threads, module, ...JSON.parse(json || '{}') });
  const rng = new Rng(3);
  const filled = (rows: number, cols: number, scale: number): Matrix => {
    const x = b.matrix(rows, cols);
    x.data.set(Float32Array.from({ length: rows * cols }, () => (rng.uniform() * 2 - 1) * scale));
    return x;
  };
  const X = filled(n, d, 1), W1 = filled(m, d, 0.02), S1 = filled(n, m, 1), G1 = filled(n, m, 0.01);
  const W2 = filled(k, m, 0.1), G2 = filled(n, k, 0.1), S = filled(n, k, 1), G1t = filled(m, n, 0.01);
  const ops: Variant['ops'] = [
    [`NT X·W1ᵀ ${n}x${d}·(${m}x${d})ᵀ`, 2 * n * m * d, () => b.gemm(X, false, W1, true, S1)],
    [`TN G1ᵀ·X→W1 (${n}x${m})ᵀ·${n}x${d} β`, 2 * n * m * d, () => b.gemm(G1, true, X, false, W1, -1e-6, 1)],
    [`NN G1ᵀ·X→W1 (G1ᵀ stored) ${m}x${n}·${n}x${d} β`, 2 * n * m * d, () => b.gemm(G1t, false, X, false, W1, -1e-6, 1)],
    [`NT H·W2ᵀ ${n}x${m}·(${k}x${m})ᵀ`, 2 * n * m * k, () => b.gemm(S1, false, W2, true, S)],
    [`NN G2·W2 ${n}x${k}·${k}x${m}`, 2 * n * m * k, () => b.gemm(G2, false, W2, false, G1)],
    [`TN G2ᵀ·H→W2 (${n}x${k})ᵀ·${n}x${m} β`, 2 * n * m * k, () => b.gemm(G2, true, S1, false, W2, -1e-6, 1)],
  ];
  return { label, b, ops };
}

const variants: Variant[] = [];
for (const spec of values.variant!) variants.push(await variant(spec));
console.log(`wasm-simd gemm, ${threads} thread(s), m = ${m}, n = ${n}, d = ${d}; min of ${samples} samples; variants: ${values.variant!.join('  ')}`);
for (let o = 0; o < variants[0].ops.length; o++) {
  const [name, flops] = variants[0].ops[o];
  if (values.only && !name.includes(values.only)) continue;
  const calls = Math.max(3, Math.round(2e9 / 20 / flops)); // ≈ 50 ms per sample at 20 GFLOP/s
  const wall = variants.map(() => Infinity), cpu = variants.map(() => Infinity);
  for (const v of variants) for (let i = 0; i < calls; i++) v.ops[o][2](); // warm-up
  for (let s = 0; s < samples; s++) {
    variants.forEach((v, i) => {
      const run = v.ops[o][2];
      const t = performance.now(), c = process.cpuUsage();
      for (let r = 0; r < calls; r++) run();
      wall[i] = Math.min(wall[i], ((performance.now() - t) * 1000) / calls);
      const used = process.cpuUsage(c);
      cpu[i] = Math.min(cpu[i], (used.user + used.system) / calls);
    });
  }
  const gf = (us: number) => (flops / us / 1e3).toFixed(1).padStart(5);
  variants.forEach((v, i) => {
    const ratio = i === 0 ? '' : `  (wall ×${(wall[0] / wall[i]).toFixed(2)}, cpu ×${(cpu[0] / cpu[i]).toFixed(2)})`;
    console.log(`${name.padEnd(34)} ${v.label.padEnd(12)} wall ${wall[i].toFixed(0).padStart(7)} µs ${gf(wall[i])} GFLOP/s  cpu ${cpu[i].toFixed(0).padStart(7)} µs ${gf(cpu[i])}${ratio}`);
  });
}
await Promise.all(variants.map((v) => v.b.dispose()));

// Per-op time of a training step on wasm-simd (where the time goes): node build.mjs && node dist/profile-step.js [threads] [json options] [--quiet] [--m 50] [--no-gather]
// Built on demand: npx esbuild bench/profile-step.ts --bundle --platform=node --format=esm --packages=external --outfile=dist/profile-step.js
import type { KernelBackend, Matrix } from '../src/kernels/backend.js';
import { WasmSimdBackend } from '../src/kernels/wasm-simd.js';
import { Network } from '../src/model/network.js';
import { Rng } from '../src/util/rng.js';

const threads = Number(process.argv[2] ?? 1);
const opts = JSON.parse(process.argv[3] ?? '{}');
const quiet = process.argv.includes('--quiet');
const mAt = process.argv.indexOf('--m');
const hidden = mAt > 0 ? Number(process.argv[mAt + 1]) : 50;
const gather = !process.argv.includes('--no-gather'); // the peers' step timings leave the batch gather out
const b = await WasmSimdBackend.create({ threads, ...opts });
const totals = new Map<string, number>();
const wrapped = quiet ? b : new Proxy(b, {
  get(target, prop, recv) {
    const v = Reflect.get(target, prop, recv);
    if (typeof v !== 'function' || prop === 'matrix' || prop === 'read' || prop === 'write') return typeof v === 'function' ? v.bind(target) : v;
    return (...args: unknown[]) => {
      const t = performance.now();
      const r = v.apply(target, args);
      let key = String(prop);
      if (prop === 'gemm') { const [a, ta, bb, tb] = args as [Matrix, boolean, Matrix, boolean]; key += ` ${a.rows}x${a.cols}${ta ? 'T' : ''}·${bb.rows}x${bb.cols}${tb ? 'T' : ''}`; }
      totals.set(key, (totals.get(key) ?? 0) + performance.now() - t);
      return r;
    };
  },
}) as KernelBackend;
const net = new Network(wrapped, { d: 3072, m: hidden, k: 10 });
const rng = new Rng(1);
await net.initialise(rng);
const X = b.matrix(100, 3072);
b.write(X, Float64Array.from({ length: 100 * 3072 }, () => rng.normal()));
const labels = Uint8Array.from({ length: 100 }, () => rng.int(0, 9));
const records = Uint8Array.from({ length: 1000 * 3072 }, () => rng.int(0, 255));
const mean = new Float32Array(3072).fill(0.5), invStd = new Float32Array(3072).fill(4);
const rows = Int32Array.from({ length: 100 }, () => rng.int(0, 999));
const steps = Math.max(20, Math.round(490 * 50 / hidden));
for (let rep = 0; rep < (quiet ? 5 : 3); rep++) {
  totals.clear();
  const t = performance.now(), cpu0 = process.cpuUsage();
  for (let s = 0; s < steps; s++) {
    if (gather) wrapped.gatherNormalized(records, rows, 100, mean, invStd, X);
    await net.trainStep(X, labels, { eta: 0.01, lambda: 0.001 });
  }
  const wall = performance.now() - t, used = process.cpuUsage(cpu0), cpu = (used.user + used.system) / 1000;
  console.log(`m ${hidden} threads ${threads} ${JSON.stringify(opts)}: ${(wall / steps).toFixed(3)} ms/step (${((steps * 100) / wall * 1000).toFixed(0)} samples/s${gather ? ' incl. gather' : ', steps only'}; cpu ${(cpu / steps).toFixed(3)} ms/step = ${((steps * 100) / cpu * 1000).toFixed(0)} samples per cpu-second) ${b.simd}`);
  if (!quiet) for (const [k, v] of [...totals].sort((x, y) => y[1] - x[1])) console.log(`  ${(v / steps * 1000).toFixed(0).padStart(6)} us  ${k}`);
}
await b.dispose();

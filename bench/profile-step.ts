// Per-op time of a training step (where the time goes), as the minimum over many steps (on a loaded machine the
// minimum is what an op costs when it is not preempted) and the median:
//   npx esbuild bench/profile-step.ts --bundle --platform=node --format=esm --packages=external --outfile=dist/profile-step.js
//   node dist/profile-step.js [--backend wasm-simd|blas] [--threads T] [--m M] [--batch N] [--steps S] [--variant serial|ahead|none] [--options '{json}']
// (ahead: the next batch is gathered with gatherNormalizedAhead while the step runs, as the training stream does;
// none: no gather at all, the bare step)
import type { KernelBackend, Matrix } from '../src/kernels/backend.js';
import { BlasBackend } from '../src/kernels/blas.js';
import { WasmSimdBackend } from '../src/kernels/wasm-simd.js';
import { Network } from '../src/model/network.js';
import { Rng } from '../src/util/rng.js';
import { median } from './stats.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const threads = Number(arg('threads', '1')), M = Number(arg('m', '50')), N = Number(arg('batch', '100'));
const steps = Number(arg('steps', M > 200 ? '60' : '300'));
const opts = JSON.parse(arg('options', '{}'));
const variant = arg('variant', 'serial');
const b: KernelBackend & { matrix(r: number, c: number): Matrix } = arg('backend', 'wasm-simd') === 'blas'
  ? await BlasBackend.create({ threads, ...opts, gatherAhead: variant === 'ahead' })
  : await WasmSimdBackend.create({ threads, ...opts });
const times = new Map<string, number[]>();
let current: Map<string, number> = new Map();
const wrapped = new Proxy(b, {
  get(target, prop, recv) {
    const v = Reflect.get(target, prop, recv);
    if (typeof v !== 'function' || prop === 'matrix' || prop === 'read' || prop === 'write') return typeof v === 'function' ? v.bind(target) : v;
    return (...args: unknown[]) => {
      const t = performance.now();
      const r = v.apply(target, args);
      let key = String(prop);
      if (prop === 'gemm') { const [a, ta, bb, tb] = args as [Matrix, boolean, Matrix, boolean]; key += ` ${a.rows}x${a.cols}${ta ? 'T' : ''}·${bb.rows}x${bb.cols}${tb ? 'T' : ''}`; }
      if (prop === 'columnSums') key += ` ${(args[0] as Matrix).cols}`;
      current.set(key, (current.get(key) ?? 0) + performance.now() - t);
      return r;
    };
  },
}) as KernelBackend;
const net = new Network(wrapped, { d: 3072, m: M, k: 10 });
const rng = new Rng(1);
await net.initialise(rng);
const Xs = [b.matrix(N, 3072), b.matrix(N, 3072)];
const labels = Uint8Array.from({ length: N }, () => rng.int(0, 9));
const records = new Uint8Array(new SharedArrayBuffer(49000 * 3072));
for (let i = 0; i < records.length; i += 61) records[i] = i;
const mean = new Float32Array(3072).fill(0.5), invStd = new Float32Array(3072).fill(4);
const stepTimes: number[] = [];
const rowsOf = Array.from({ length: steps + 1 }, () => Int32Array.from({ length: N }, () => rng.int(0, 48999)));
let wait: (() => unknown) | null = variant === 'ahead' ? b.gatherNormalizedAhead!(records, rowsOf[0], N, mean, invStd, Xs[0]) : null;
for (let s = 0; s < steps; s++) {
  current = new Map();
  const X = Xs[s & 1], next = Xs[(s + 1) & 1];
  const t = performance.now();
  if (wait) {
    const j = performance.now();
    wait();
    current.set('join', performance.now() - j);
    wait = b.gatherNormalizedAhead!(records, rowsOf[s + 1], N, mean, invStd, next);
  } else if (variant !== 'none') wrapped.gatherNormalized(records, rowsOf[s], N, mean, invStd, X);
  await net.trainStep(X, labels, { eta: 0.01, lambda: 0.001 });
  stepTimes.push(performance.now() - t);
  if (s < 10) continue; // warm-up
  for (const [k, v] of current) (times.get(k) ?? times.set(k, []).get(k)!).push(v);
}
const rowsOut = [...times].map(([k, v]) => ({ k, min: Math.min(...v) * 1000, med: median(v) * 1000 })).sort((x, y) => y.min - x.min);
const sumMin = rowsOut.reduce((s, r) => s + r.min, 0);
console.log(`${b.name} ${variant} m=${M} n=${N} threads ${threads} ${JSON.stringify(opts)}: step incl. gather min ${(Math.min(...stepTimes) * 1000).toFixed(0)} us, median ${(median(stepTimes) * 1000).toFixed(0)} us; sum of per-op minima ${sumMin.toFixed(0)} us`);
for (const r of rowsOut) console.log(`  ${r.min.toFixed(1).padStart(8)} us min ${r.med.toFixed(1).padStart(8)} us median  ${r.k}`);
await b.dispose();

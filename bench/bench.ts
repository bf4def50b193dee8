/**
 * Training-step benchmark: samples/s of Network.trainStep on synthetic data of the real shapes
 * (batch n = 100, d = 3072, m = 50, k = 10; an epoch = 490 steps), for every backend that loads here,
 * one epoch through the whole training pipeline, and the numpy (and PyTorch) peers of
 * ../shared/peers/step_bench.py in the same run, with our/peer ratios.
 *
 *   npm run bench                      human-readable table
 *   node dist/bench.js --json          machine-readable
 *   options: --runs N (epochs per backend, median reported; default 5)  --quick (fewer runs and steps)
 *            --backends a,b,...        (wasm-simd-1t, wasm-simd, reference, gpujs-webasm, gpujs-cpu, gpujs-webgpu,
 *                                       gpujs-headlessgl, pipeline)
 * The GPU backends (gpujs-webgpu, gpujs-headlessgl: data kept on the device) run where they load: headlessgl needs an
 * X display (xvfb-run). On Mesa's software renderer (llvmpipe) they run on the CPU: there their speed is not the
 * point, and the table says so. Each runs in a process of its own (GLX and EGL contexts cannot share one).
 *            --no-peers                skip the Python peers     --peer-repeat N (default 3)
 *
 * Timings on a shared machine are noisy: compare ratios measured in the same run.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { KernelBackend, Matrix } from '../src/kernels/backend.js';
import { ReferenceBackend } from '../src/kernels/reference.js';
import { WasmSimdBackend } from '../src/kernels/wasm-simd.js';
import { Network } from '../src/model/network.js';
import { Rng } from '../src/util/rng.js';
import { median } from './stats.js';

const N = 100, D = 3072, M = 50, K = 10, EPOCH_STEPS = 490, LAMBDA = 1.5e-3, ETA = 0.05;

interface Row {
  backend: string; // what ran (backend.name plus a variant)
  threads: number; // threads in all
  steps: number; // steps per timed run
  runs: number;
  samplesPerSec: number; // median over runs
  min: number;
  max: number;
  msPerStep: number;
  note?: string;
  vsNumpyF64?: number;
  vsNumpyF32?: number;
}

interface Args {
  json: boolean;
  runs: number;
  quick: boolean;
  backends: string[] | null;
  peers: boolean;
  peerRepeat: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { json: false, runs: 5, quick: false, backends: null, peers: true, peerRepeat: 3 };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    if (x === '--json') a.json = true;
    else if (x === '--quick') { a.quick = true; a.runs = 2; a.peerRepeat = 1; }
    else if (x === '--runs') a.runs = Math.max(1, Number(argv[++i]));
    else if (x === '--backends') a.backends = argv[++i].split(',');
    else if (x === '--no-peers') a.peers = false;
    else if (x === '--peer-repeat') a.peerRepeat = Math.max(1, Number(argv[++i]));
    else if (x === '--help' || x === '-h') {
      console.log('usage: bench [--json] [--runs N] [--quick] [--backends list] [--no-peers] [--peer-repeat N]');
      process.exit(0);
    } else throw new Error(`bench: unknown option ${x}`);
  }
  return a;
}

/** Random batches (a pool cycled through, as the peers slice a random data set) and labels. */
async function syntheticBatches(b: KernelBackend, rng: Rng, count: number): Promise<{ X: Matrix; labels: Uint8Array }[]> {
  const batches: { X: Matrix; labels: Uint8Array }[] = [];
  for (let c = 0; c < count; c++) {
    const X = b.matrix(N, D);
    const v = new Float64Array(N * D);
    for (let i = 0; i < v.length; i++) v[i] = rng.normal();
    await b.write(X, v);
    batches.push({ X, labels: Uint8Array.from({ length: N }, () => rng.int(0, K - 1)) });
  }
  return batches;
}

/** Samples/s of `steps` training steps, `runs` times (after one warm-up run). */
async function benchSteps(b: KernelBackend, steps: number, runs: number, log: (s: string) => void): Promise<Omit<Row, 'backend' | 'threads'>> {
  const rng = new Rng(1);
  const net = new Network(b, { d: D, m: M, k: K });
  await net.initialise(rng);
  const batches = await syntheticBatches(b, rng, Math.min(steps, 16));
  const epoch = async (count: number) => {
    const t = performance.now();
    for (let s = 0; s < count; s++) {
      const { X, labels } = batches[s % batches.length];
      await net.trainStep(X, labels, { eta: ETA, lambda: LAMBDA });
    }
    return (count * N) / ((performance.now() - t) / 1000);
  };
  await epoch(Math.min(steps, 20)); // warm-up: JIT, page faults
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    rates.push(await epoch(steps));
    log(`    run ${r + 1}/${runs}: ${rates[r].toFixed(0)} samples/s`);
  }
  const med = median(rates);
  return { steps, runs, samplesPerSec: med, min: Math.min(...rates), max: Math.max(...rates), msPerStep: (N / med) * 1000 };
}

/**
 * One epoch (490 steps) through the whole training pipeline (src/pipeline/train.ts: shuffle → normalize from
 * uint8 records → train step → metrics), on a synthetic 49,000-record data set; evaluation only at the end.
 * Returns the pipeline's own samples/s (its summary.json figure: evaluation excluded) and the wall-clock samples/s
 * of the whole runTraining call (which also evaluates the whole training split once at the end).
 */
export async function benchPipelineEpoch(b: KernelBackend, runs: number, log: (s: string) => void): Promise<{ summaryRate: number[]; wallRate: number[] } | { skipped: string }> {
  let runTraining: any, trainSchema: any;
  try {
    ({ runTraining } = await import('../src/pipeline/train.js'));
    ({ trainSchema } = await import('../src/config/train-schema.js'));
  } catch (e) {
    return { skipped: `pipeline not loadable: ${(e as Error).message}` };
  }
  const rng = new Rng(3);
  const dataset = (count: number) => {
    const pixels = new Uint8Array(new SharedArrayBuffer(count * D));
    for (let i = 0; i < pixels.length; i += 4) { const r = rng.int(0, 2 ** 30); pixels[i] = r; pixels[i + 1] = r >> 8; pixels[i + 2] = r >> 16; pixels[i + 3] = r >> 24; }
    return { pixels, labels: Uint8Array.from({ length: count }, () => rng.int(0, K - 1)), count };
  };
  const splits = { train: dataset(EPOCH_STEPS * N), val: dataset(N), test: dataset(N) };
  // given, so the run does not spend its first second on statistics of random pixels
  const normalization = { mean: new Float32Array(D).fill(0.5), invStd: new Float32Array(D).fill(3.5) };
  const config = trainSchema.parse({ name: 'bench', schedule: { epochs: 1 }, eval: { every: EPOCH_STEPS, trainSubset: N }, train: { lambda: LAMBDA } });
  const summaryRate: number[] = [], wallRate: number[] = [];
  for (let r = 0; r < runs + 1; r++) {
    const outDir = mkdtempSync(join(tmpdir(), 'cifar-mlp-bench-'));
    try {
      const t = performance.now();
      const { summary } = await runTraining({ config, splits, backend: b, outDir, normalization });
      const wall = (EPOCH_STEPS * N) / ((performance.now() - t) / 1000);
      if (summary.status !== 'completed') return { skipped: `pipeline run ${summary.status}: ${summary.error ?? ''}` };
      if (r === 0) continue; // warm-up
      summaryRate.push(summary.samplesPerSecond);
      wallRate.push(wall);
      log(`    run ${r}/${runs}: ${summary.samplesPerSecond.toFixed(0)} samples/s (pipeline), ${wall.toFixed(0)} wall incl. setup and evaluation`);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }
  return { summaryRate, wallRate };
}

/** The Python peers, when /usr/bin/python3 has numpy: { 'numpy-f64': samples/s, … }. */
async function peers(repeat: number, log: (s: string) => void): Promise<Record<string, number> | { skipped: string }> {
  const python = '/usr/bin/python3';
  const script = fileURLToPath(new URL('../../shared/peers/step_bench.py', import.meta.url));
  const candidates = [script, join(process.cwd(), '..', 'shared', 'peers', 'step_bench.py')];
  const path = candidates.find((p) => existsSync(p));
  if (!existsSync(python) || !path) return { skipped: 'no /usr/bin/python3 or ../shared/peers/step_bench.py' };
  const run = promisify(execFile);
  try {
    await run(python, ['-c', 'import numpy']);
  } catch {
    return { skipped: 'numpy is not installed for /usr/bin/python3' };
  }
  log(`  peers: ${python} ${path} --repeat ${repeat}`);
  const { stdout } = await run(python, [path, '--repeat', String(repeat)], { maxBuffer: 1 << 20 });
  const out: Record<string, number> = {};
  for (const m of stdout.matchAll(/peer=(\S+) samples_per_s=([\d.]+)/g)) out[m[1]] = Number(m[2]);
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (s: string) => { if (!args.json) console.log(s); else process.stderr.write(s + '\n'); };
  const want = (name: string) => !args.backends || args.backends.includes(name);
  const cores = availableParallelism();
  const epochSteps = args.quick ? 100 : EPOCH_STEPS;
  log(`cifar-mlp training-step benchmark: n=${N} d=${D} m=${M} k=${K}; ${cores} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}`);
  const rows: Row[] = [];
  const skipped: { backend: string; reason: string }[] = [];

  const measure = async (label: string, threads: number, make: () => Promise<KernelBackend>, steps: number, runs: number, note?: string) => {
    let b: KernelBackend;
    try {
      b = await make();
    } catch (e) {
      skipped.push({ backend: label, reason: (e as Error).message });
      log(`  ${label}: skipped (${(e as Error).message})`);
      return;
    }
    try {
      log(`  ${label} (${threads} thread${threads > 1 ? 's' : ''}), ${runs} × ${steps} steps${note ? ` — ${note}` : ''}`);
      rows.push({ backend: label, threads, ...(await benchSteps(b, steps, runs, log)), ...(note ? { note } : {}) });
    } finally {
      await b.dispose();
    }
  };

  let peer: Record<string, number> | { skipped: string } = { skipped: 'not requested (--no-peers)' };
  if (args.peers) peer = await peers(args.peerRepeat, log);

  if (want('wasm-simd-1t')) await measure('wasm-simd', 1, () => WasmSimdBackend.create({ threads: 1 }), epochSteps, args.runs);
  if (want('wasm-simd') && cores > 1) await measure('wasm-simd', cores, () => WasmSimdBackend.create({ threads: cores }), epochSteps, args.runs);
  if (want('reference')) await measure('reference-f64', 1, async () => new ReferenceBackend(), 3, args.quick ? 1 : 2, 'slow: 3 steps per run, not an epoch');
  for (const mode of ['webasm', 'cpu'] as const) {
    if (!want(`gpujs-${mode}`)) continue;
    const steps = args.quick ? 3 : 10;
    await measure(`gpujs-${mode}`, mode === 'webasm' ? cores : 1, async () => {
      const { GpuJsBackend } = await import('../src/kernels/gpujs.js');
      return GpuJsBackend.create(mode, { threads: cores });
    }, steps, args.quick ? 1 : 2, `slow: ${steps} steps per run, not an epoch`);
  }

  const gpuModes = (['webgpu', 'headlessgl'] as const).filter((mode) => want(`gpujs-${mode}`));
  for (const mode of gpuModes) {
    const label = `gpujs-${mode}`, steps = args.quick ? 3 : 10, runs = args.quick ? 1 : 2;
    if (gpuModes.length > 1) { // one process per GPU backend
      const child = await gpuChild(label, args.quick, log);
      if ('skipped' in child) skipped.push({ backend: label, reason: child.skipped });
      else rows.push(...child.rows);
      continue;
    }
    let device = '';
    await measure(label, 1, async () => {
      const { GpuJsDeviceBackend } = await import('../src/kernels/gpujs-device.js');
      const b = await GpuJsDeviceBackend.create(mode);
      device = `on ${b.device.renderer}${b.device.software ? ` (software renderer ${b.device.software}: it runs on the CPU, its speed is not the point)` : ''}`;
      return b;
    }, steps, runs, `${steps} steps per run, not an epoch`);
    const row = rows.find((r) => r.backend === label);
    if (row) row.note = `${device}; ${row.note}`;
  }

  let pipeline: { backend: string; threads: number; samplesPerSec: number; wallSamplesPerSec: number; runs: number; epochTimeVsSteps?: number } | { skipped: string } | undefined;
  if (want('pipeline')) {
    log(`  pipeline: one epoch (${EPOCH_STEPS} steps) of runTraining on wasm-simd (${cores} threads), synthetic uint8 data`);
    const b = await WasmSimdBackend.create({ threads: cores });
    try {
      const r = await benchPipelineEpoch(b, args.quick ? 1 : Math.min(args.runs, 3), log);
      if ('skipped' in r) pipeline = r;
      else {
        const step = rows.find((x) => x.backend === 'wasm-simd' && x.threads === cores);
        const rate = median(r.summaryRate);
        pipeline = { backend: 'wasm-simd', threads: cores, samplesPerSec: rate, wallSamplesPerSec: median(r.wallRate), runs: r.summaryRate.length, ...(step ? { epochTimeVsSteps: step.samplesPerSec / rate } : {}) };
      }
    } finally {
      await b.dispose();
    }
  }

  if (!('skipped' in peer)) {
    for (const r of rows) {
      if (peer['numpy-f64']) r.vsNumpyF64 = r.samplesPerSec / peer['numpy-f64'];
      if (peer['numpy-f32']) r.vsNumpyF32 = r.samplesPerSec / peer['numpy-f32'];
    }
  }

  if (args.json) {
    console.log(JSON.stringify({ shape: { n: N, d: D, m: M, k: K, epochSteps: EPOCH_STEPS }, cores, node: process.version, rows, pipeline, peers: peer, skipped }, null, 2));
    return;
  }
  const fmt = (x: number | undefined, d = 0) => (x === undefined ? '' : x.toFixed(d));
  const table = [
    ['backend', 'threads', 'steps×runs', 'samples/s (median)', 'min', 'max', 'ms/step', '/numpy-f64', '/numpy-f32'],
    ...rows.map((r) => [r.backend, String(r.threads), `${r.steps}×${r.runs}`, fmt(r.samplesPerSec), fmt(r.min), fmt(r.max), fmt(r.msPerStep, 2), fmt(r.vsNumpyF64, 2), fmt(r.vsNumpyF32, 2)]),
  ];
  if (!('skipped' in peer)) for (const [k, v] of Object.entries(peer)) table.push([`peer ${k}`, '', '', fmt(v), '', '', fmt((N / v) * 1000, 2), '', '']);
  const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
  console.log('');
  for (const r of table) console.log(r.map((x, c) => (c === 0 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join('  '));
  if ('skipped' in peer) console.log(`peers: ${peer.skipped}`);
  if (pipeline) {
    if ('skipped' in pipeline) console.log(`pipeline epoch: skipped (${pipeline.skipped})`);
    else console.log(`pipeline epoch (runTraining, ${pipeline.backend} ${pipeline.threads} threads): ${fmt(pipeline.samplesPerSec)} samples/s (median of ${pipeline.runs})${pipeline.epochTimeVsSteps ? `: epoch time = ${fmt(pipeline.epochTimeVsSteps, 2)} × the bare steps' time` : ''}; ${fmt(pipeline.wallSamplesPerSec)} samples/s wall-clock incl. setup and the final evaluation of all 49,000 records`);
  }
  for (const r of rows) if (r.backend.startsWith('gpujs-') && r.note) console.log(`${r.backend}: ${r.note}`);
  for (const s of skipped) console.log(`skipped ${s.backend}: ${s.reason}`);
}

/** Runs this benchmark for one GPU backend in a child process and returns its rows. */
async function gpuChild(label: string, quick: boolean, log: (s: string) => void): Promise<{ rows: Row[] } | { skipped: string }> {
  log(`  ${label}: in a process of its own`);
  const argv = [fileURLToPath(import.meta.url), '--json', '--no-peers', '--backends', label, ...(quick ? ['--quick'] : [])];
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, argv, { maxBuffer: 1 << 22 });
    for (const line of stderr.split('\n')) if (line.startsWith('    ')) log(line);
    const out = JSON.parse(stdout) as { rows: Row[]; skipped: { backend: string; reason: string }[] };
    return out.rows.length ? { rows: out.rows } : { skipped: out.skipped[0]?.reason ?? 'did not run' };
  } catch (e) {
    return { skipped: (e as Error).message.split('\n')[0] };
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

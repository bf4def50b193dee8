/**
 * Training-step benchmark: samples/s of Network.trainStep at one network width, for every backend that loads here,
 * one epoch through the whole training pipeline (what `cifar-mlp run` reports as samplesPerSecond), and the numpy
 * (and PyTorch) peers of ../shared/peers/step_bench.py at the same shape, all in one run, interleaved: each round
 * runs the peers once, then one epoch of every backend, each followed by the pipeline epoch(s) on it. Figures are the best of the rounds
 * (as the peer script reports its own), with the median beside them.
 *
 *   npm run bench -- --m 1000 --batch 100       human-readable table
 *   node dist/bench.js --json                   machine-readable (progress on stderr)
 *   options: --m M (hidden units, default 50)  --batch N (default 100)  --rounds R (default 3)
 *            --steps S (steps per timed epoch; default a full epoch, 49,000 / N)  --quick (fewer steps, 1 round)
 *            --backends a,b,...  (blas, blas-1t, wasm-simd, wasm-simd-1t, gpujs-webasm, gpujs-cpu, gpujs-headlessgl,
 *                                 gpujs-webgpu, reference, pipeline, pipeline-inline, pipeline-1t)
 *            --no-peers  --peer PATH (another peer program: .py runs with /usr/bin/python3, .js/.mjs with node)
 *            --keep-blas-env (measure ours with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE when they are set)
 *
 * OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, where set, force old kernels on a current OpenBLAS; the peer script drops
 * them for itself, so this bench runs itself again without them too (and says so), unless --keep-blas-env.
 * Timings on a shared machine are noisy: compare ratios measured in the same run.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { KernelBackend } from '../src/kernels/backend.js';
import { ReferenceBackend } from '../src/kernels/reference.js';
import { selectBackend } from '../src/kernels/select.js';
import { WasmSimdBackend } from '../src/kernels/wasm-simd.js';
import { Network } from '../src/model/network.js';
import { Rng } from '../src/util/rng.js';
import { median } from './stats.js';

const D = 3072, K = 10, RECORDS = 49000, LAMBDA = 1.5e-3, ETA = 0.05;
const BLAS_ENV_VARS = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'] as const;
const STRIPPED_MARK = 'CIFAR_MLP_BENCH_STRIPPED';
const PYTHON = '/usr/bin/python3';

interface Args {
  json: boolean;
  m: number;
  batch: number;
  rounds: number;
  steps: number | null;
  quick: boolean;
  backends: string[] | null;
  peers: boolean;
  peer: string | null;
  keepBlasEnv: boolean;
}

class BenchUsageError extends Error {}

const USAGE = 'usage: bench [--m M] [--batch N] [--rounds R] [--steps S] [--quick] [--backends list] [--no-peers] [--peer PATH] [--keep-blas-env] [--json]';

function parseArgs(argv: string[]): Args {
  const a: Args = { json: false, m: 50, batch: 100, rounds: 3, steps: null, quick: false, backends: null, peers: true, peer: null, keepBlasEnv: false };
  const value = (flag: string, v: string | undefined) => {
    if (v === undefined || v.startsWith('--')) throw new BenchUsageError(`bench: ${flag} needs a value`);
    return v;
  };
  const int = (flag: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new BenchUsageError(`bench: ${flag} takes an integer ≥ ${min}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    if (x === '--json') a.json = true;
    else if (x === '--m') a.m = int(x, argv[++i], 1);
    else if (x === '--batch') a.batch = int(x, argv[++i], 1);
    else if (x === '--rounds' || x === '--runs') a.rounds = int(x, argv[++i], 1);
    else if (x === '--steps') a.steps = int(x, argv[++i], 1);
    else if (x === '--quick') a.quick = true;
    else if (x === '--backends') a.backends = value(x, argv[++i]).split(',');
    else if (x === '--no-peers') a.peers = false;
    else if (x === '--peer') a.peer = value(x, argv[++i]);
    else if (x === '--keep-blas-env') a.keepBlasEnv = true;
    else if (x === '--help' || x === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new BenchUsageError(`bench: unknown option ${x} (${USAGE})`);
  }
  if (a.quick && !argv.includes('--rounds') && !argv.includes('--runs')) a.rounds = 1;
  if (a.batch > RECORDS) throw new BenchUsageError(`bench: --batch ${a.batch} is larger than the ${RECORDS} records of an epoch`);
  return a;
}

// ------------------------------------------------------------------ our side

/** One backend under test: its row label, and a timed epoch of `steps` training steps (samples/s). */
interface Candidate {
  label: string;
  backend: KernelBackend;
  steps: number;
  note?: string;
  epoch: () => Promise<number>;
  rates: number[];
}

/** A training loop of `steps` steps on a few prepared random batches (as the peers slice a random data set). */
async function stepLoop(b: KernelBackend, m: number, n: number, steps: number): Promise<() => Promise<number>> {
  const rng = new Rng(1);
  const net = new Network(b, { d: D, m, k: K });
  await net.initialise(rng);
  const batches = await Promise.all(Array.from({ length: Math.min(steps, 8) }, async () => {
    const X = b.matrix(n, D);
    const v = new Float64Array(n * D);
    for (let i = 0; i < v.length; i++) v[i] = rng.normal();
    await b.write(X, v);
    return { X, labels: Uint8Array.from({ length: n }, () => rng.int(0, K - 1)) };
  }));
  const run = async (count: number) => {
    const t = performance.now();
    for (let s = 0; s < count; s++) {
      const { X, labels } = batches[s % batches.length];
      await net.trainStep(X, labels, { eta: ETA, lambda: LAMBDA });
    }
    return (count * n) / ((performance.now() - t) / 1000);
  };
  await run(Math.min(steps, 10)); // warm-up: JIT, page faults, the BLAS's thread start
  return () => run(steps);
}

/**
 * One epoch of `steps` steps through the whole training pipeline (src/pipeline/train.ts: shuffle → normalize from
 * uint8 records → train step → metrics → ledger) on synthetic records; evaluation only at the end. Returns the
 * run's summary.json samplesPerSecond (evaluation excluded, as `cifar-mlp run` reports it).
 */
async function pipelineLoop(b: KernelBackend, m: number, n: number, steps: number): Promise<() => Promise<number>> {
  const { runTraining } = await import('../src/pipeline/train.js');
  const { trainSchema } = await import('../src/config/train-schema.js');
  const rng = new Rng(3);
  const dataset = (count: number) => {
    const pixels = new Uint8Array(new SharedArrayBuffer(count * D));
    for (let i = 0; i < pixels.length; i += 4) {
      const r = rng.int(0, 2 ** 30);
      pixels[i] = r; pixels[i + 1] = r >> 8; pixels[i + 2] = r >> 16; pixels[i + 3] = r >> 24;
    }
    return { pixels, labels: Uint8Array.from({ length: count }, () => rng.int(0, K - 1)), count };
  };
  const splits = { train: dataset(steps * n), val: dataset(n), test: dataset(n) };
  // given, so that the run does not spend its first second on statistics of random pixels
  const normalization = { mean: new Float32Array(D).fill(0.5), invStd: new Float32Array(D).fill(3.5) };
  const configFor = (count: number) => trainSchema.parse({
    name: 'bench', model: { hidden: m }, schedule: { epochs: 1 }, eval: { every: count, trainSubset: n }, train: { lambda: LAMBDA, batchSize: n },
  });
  const epoch = async (config: ReturnType<typeof configFor>, train: typeof splits.train) => {
    const outDir = mkdtempSync(join(tmpdir(), 'cifar-mlp-bench-'));
    try {
      b.releaseAll();
      const { summary } = await runTraining({ config, splits: { ...splits, train }, backend: b, outDir, normalization });
      if (summary.status !== 'completed') throw new Error(`pipeline run ${summary.status}: ${summary.error ?? ''}`);
      return summary.samplesPerSecond;
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  };
  // warm-up (JIT, page faults) on the first few batches
  const warm = Math.min(steps, 10);
  await epoch(configFor(warm), { pixels: splits.train.pixels.subarray(0, warm * n * D), labels: splits.train.labels.subarray(0, warm * n), count: warm * n });
  const config = configFor(steps);
  return () => epoch(config, splits.train);
}

// ------------------------------------------------------------------ the peers

interface PeerRun {
  command: string[];
  torch: string | null; // why there is no PyTorch peer, when there is none
}

/** How to run the peers, or why they do not run here. */
async function findPeers(args: Args): Promise<PeerRun | { skipped: string }> {
  const run = promisify(execFile);
  const peerArgs = ['--m', String(args.m), '--batch', String(args.batch), '--repeat', '1'];
  if (args.peer) {
    if (!existsSync(args.peer)) return { skipped: `--peer ${args.peer}: no such file` };
    const runner = args.peer.endsWith('.py') ? [PYTHON] : /\.(c|m)?js$/.test(args.peer) ? [process.execPath] : [];
    return { command: [...runner, args.peer, ...peerArgs], torch: null };
  }
  // ../shared/peers/step_bench.py from the repository (a worktree may sit one folder deeper)
  const script = [fileURLToPath(new URL('..', import.meta.url)), process.cwd()]
    .flatMap((dir) => [join(dir, '..', 'shared'), join(dir, '..', '..', 'shared')])
    .map((dir) => join(dir, 'peers', 'step_bench.py'))
    .find((p) => existsSync(p));
  if (!existsSync(PYTHON) || !script) return { skipped: `no ${PYTHON} or ../shared/peers/step_bench.py` };
  try {
    await run(PYTHON, ['-c', 'import numpy']);
  } catch {
    return { skipped: `numpy is not installed for ${PYTHON} (Debian: apt-get install python3-numpy)` };
  }
  let torch: string | null = null;
  try {
    await run(PYTHON, ['-c', 'import torch']);
  } catch {
    torch = `PyTorch is not installed for ${PYTHON} (Debian 12 does not package it; \`pip install torch\` adds the torch-1t/torch-2t peers)`;
  }
  return { command: [PYTHON, script, ...peerArgs, ...(torch ? ['--no-torch'] : [])], torch };
}

/** One run of the peers: { 'numpy-f32': samples/s, … }. */
async function runPeers(p: PeerRun): Promise<Record<string, number>> {
  const { stdout } = await promisify(execFile)(p.command[0], p.command.slice(1), { maxBuffer: 1 << 20 });
  const out: Record<string, number> = {};
  for (const m of stdout.matchAll(/peer=(\S+) samples_per_s=([\d.]+)/g)) out[m[1]] = Number(m[2]);
  if (Object.keys(out).length === 0) throw new Error(`the peer printed no peer=NAME samples_per_s=N line: ${stdout.slice(0, 200)}`);
  return out;
}

// ------------------------------------------------------------------ the run

const best = (xs: number[]) => Math.max(...xs);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (s: string) => { if (!args.json) console.log(s); else process.stderr.write(s + '\n'); };

  // OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE: measured without them on both sides, in a child process (the library reads
  // them when it loads, so this process cannot drop them once it has).
  const setVars = BLAS_ENV_VARS.filter((v) => process.env[v]);
  if (setVars.length && !args.keepBlasEnv && !process.env[STRIPPED_MARK]) {
    const env: NodeJS.ProcessEnv = { ...process.env, [STRIPPED_MARK]: setVars.map((v) => `${v}=${process.env[v]}`).join(' ') };
    for (const v of setVars) delete env[v];
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { env, stdio: 'inherit' });
    process.exit(child.status ?? 1);
  }

  const cores = availableParallelism();
  const n = args.batch, m = args.m;
  const epochSteps = Math.floor(RECORDS / n);
  const steps = args.steps ?? (args.quick ? Math.max(1, Math.min(epochSteps, Math.round(20_000 / m))) : epochSteps);
  const want = (name: string) => !args.backends || args.backends.includes(name);
  log(`cifar-mlp training-step benchmark: m=${m} batch=${n} d=${D} k=${K}; ${steps} steps per timed epoch (a full epoch is ${epochSteps}); ` +
    `${args.rounds} round(s); ${cores} cores (${cpus()[0]?.model?.trim() ?? '?'}), node ${process.version}`);
  if (process.env[STRIPPED_MARK]) {
    log(`environment: ${process.env[STRIPPED_MARK]} is set here; both sides are measured WITHOUT it (the peer drops it itself, this bench ran itself again without it; --keep-blas-env keeps it for ours)`);
  } else if (setVars.length) {
    log(`environment: ${setVars.map((v) => `${v}=${process.env[v]}`).join(' ')} kept for ours (--keep-blas-env); the peer runs without it`);
  }

  const candidates: Candidate[] = [];
  const skipped: { backend: string; reason: string }[] = [];
  const add = async (label: string, make: () => Promise<KernelBackend>, stepCount: number, note?: string, loop = stepLoop) => {
    let backend: KernelBackend;
    try {
      backend = await make();
    } catch (e) {
      const reason = (e as Error).message.split('\n')[0];
      skipped.push({ backend: label, reason });
      log(`  ${label}: not loaded (${reason})`);
      return;
    }
    try {
      candidates.push({ label, backend, steps: stepCount, note, epoch: await loop(backend, m, n, stepCount), rates: [] });
    } catch (e) {
      await backend.dispose();
      throw e;
    }
  };

  const auto = await selectBackend('auto', availableParallelism());
  await auto.backend.dispose();
  const defaultName = auto.backend.name;
  const blasSkip = auto.skipped.find((s) => s.name === 'blas');
  log(`default backend (auto): ${defaultName} (${auto.backend.threads + 1} thread(s))${blasSkip ? `; ${blasSkip.reason}` : ''}`);

  const slow = Math.max(1, Math.round(500 / m)); // steps of the slow backends (seconds each at wide layers)
  if (want('blas') || want('blas-1t')) {
    const { BlasBackend } = await import('../src/kernels/blas.js');
    if (want('blas')) await add('blas', () => BlasBackend.create({ threads: cores }), steps);
    if (want('blas-1t') && cores > 1) await add('blas-1t', () => BlasBackend.create({ threads: 1 }), steps);
    const lib = candidates.find((c) => c.label === 'blas')?.backend as import('../src/kernels/blas.js').BlasBackend | undefined;
    if (lib) log(`BLAS: ${lib.library.description} (${lib.library.path})`);
  }
  if (want('wasm-simd')) await add('wasm-simd', () => WasmSimdBackend.create({ threads: cores }), steps);
  if (want('wasm-simd-1t') && cores > 1) await add('wasm-simd-1t', () => WasmSimdBackend.create({ threads: 1 }), steps);
  // The GPU modes keep their data on the device (gpujs-device.ts). GLX and EGL contexts cannot share a process, so
  // with both requested each runs in a child process of its own, after the rounds here.
  const gpuModes = (['headlessgl', 'webgpu'] as const).filter((mode) => want(`gpujs-${mode}`));
  const gpuInChild = gpuModes.length > 1;
  if (!gpuInChild) {
    for (const mode of gpuModes) {
      await add(`gpujs-${mode}`, async () => {
        const { GpuJsDeviceBackend } = await import('../src/kernels/gpujs-device.js');
        return GpuJsDeviceBackend.create(mode);
      }, Math.min(steps, slow * 4), 'a few steps, not an epoch');
    }
  }
  for (const mode of ['webasm', 'cpu'] as const) {
    if (!want(`gpujs-${mode}`)) continue;
    await add(`gpujs-${mode}`, async () => {
      const { GpuJsBackend } = await import('../src/kernels/gpujs.js');
      return GpuJsBackend.create(mode, { threads: cores });
    }, Math.min(steps, slow * 2), 'slow: a few steps, not an epoch');
  }
  if (want('reference')) await add('reference', async () => new ReferenceBackend(), Math.min(steps, slow), 'float64 JS loops: a few steps');
  if (want('pipeline')) {
    await add(`pipeline`, async () => (await selectBackend('auto', availableParallelism())).backend, steps, `runTraining, ${defaultName}`, pipelineLoop);
  }
  if (want('pipeline-1t') && defaultName.startsWith('blas-') && cores > 1) {
    // one BLAS thread, and the next batch gathered on the other core throughout the step (never paused)
    const { BlasBackend } = await import('../src/kernels/blas.js');
    await add('pipeline-1t', () => BlasBackend.create({ threads: 1, gatherAhead: true }), steps, `runTraining, ${defaultName}, 1 BLAS thread + gather thread`, pipelineLoop);
  }
  if (want('pipeline-inline') && defaultName.startsWith('blas-')) {
    // the same, with every batch gathered on the calling thread: what gathering ahead saves
    const { BlasBackend } = await import('../src/kernels/blas.js');
    await add('pipeline-inline', () => BlasBackend.create({ threads: cores, gatherAhead: false }), steps, `runTraining, ${defaultName}, gather inline`, pipelineLoop);
  }

  // Each pipeline epoch runs right after the bare steps of its backend: their ratio is taken as close in time as the
  // run allows (a shared or virtual machine drifts over seconds).
  const isPipeline = (c: Candidate) => c.label.startsWith('pipeline');
  const bareOf = (pipe: Candidate) => candidates.find((c) => !isPipeline(c) && c.backend.name === pipe.backend.name && c.backend.threads === pipe.backend.threads && c.steps === pipe.steps);
  const runOrder = candidates.filter((c) => !isPipeline(c)).flatMap((c) => [c, ...candidates.filter((p) => isPipeline(p) && bareOf(p) === c)]);
  runOrder.push(...candidates.filter((c) => !runOrder.includes(c)));

  let peer: PeerRun | { skipped: string } = { skipped: 'not requested (--no-peers)' };
  if (args.peers) peer = await findPeers(args);
  const peerRates: Record<string, number[]> = {};
  if ('command' in peer) log(`peers: ${peer.command.join(' ')}, once per round${peer.torch ? `; ${peer.torch}` : ''}`);
  else log(`peers: ${peer.skipped}`);

  const fmt = (x: number | undefined, d = 0) => (x === undefined || !Number.isFinite(x) ? '' : x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
  for (let r = 0; r < args.rounds; r++) {
    const parts: string[] = [];
    if ('command' in peer) {
      const got = await runPeers(peer);
      for (const [k, v] of Object.entries(got)) (peerRates[k] ??= []).push(v);
      parts.push(Object.entries(got).map(([k, v]) => `${k} ${fmt(v)}`).join(' '));
    }
    for (const c of runOrder) {
      const rate = await c.epoch();
      c.rates.push(rate);
      parts.push(`${c.label} ${fmt(rate)}`);
    }
    log(`round ${r + 1}/${args.rounds}: ${parts.join(' | ')}`);
  }
  const childRows: Row[] = [];
  if (gpuInChild) {
    for (const mode of gpuModes) {
      const got = await gpuChild(`gpujs-${mode}`, args, log);
      if ('skipped' in got) skipped.push({ backend: `gpujs-${mode}`, reason: got.skipped });
      else childRows.push(...got.rows);
    }
  }
  const pipeBackend = candidates.find((c) => c.label === 'pipeline')?.backend as { gatherStats?: { chunks: number; byCaller: number } | null } | undefined;
  const gatherAhead = pipeBackend?.gatherStats?.chunks ? pipeBackend.gatherStats : null;
  for (const c of candidates) await c.backend.dispose();

  // ---------------------------------------------------------------- report
  const peerBest = Object.fromEntries(Object.entries(peerRates).map(([k, v]) => [k, best(v)]));
  const f32 = peerBest['numpy-f32'], f64 = peerBest['numpy-f64'];
  const rows = candidates.filter((c) => !isPipeline(c)).map((c) => ({
    backend: c.label,
    runs: c.backend.name,
    threads: c.backend.threads + 1,
    steps: c.steps,
    rounds: c.rates.length,
    samplesPerSec: best(c.rates),
    median: median(c.rates),
    msPerStep: (n / best(c.rates)) * 1000,
    vsNumpyF32: f32 ? best(c.rates) / f32 : undefined,
    vsNumpyF64: f64 ? best(c.rates) / f64 : undefined,
    default: c.backend.name === defaultName && c.backend.threads + 1 === auto.backend.threads + 1,
    ...(c.note || deviceNote(c.backend) ? { note: [deviceNote(c.backend), c.note].filter(Boolean).join('; ') } : {}),
  }));
  for (const r of childRows) rows.push({ ...r, vsNumpyF32: f32 ? r.samplesPerSec / f32 : undefined, vsNumpyF64: f64 ? r.samplesPerSec / f64 : undefined, default: false });
  const pipelineFigures = (pipe: Candidate | undefined) => {
    if (!pipe) return undefined;
    const bare = bareOf(pipe);
    return {
      backend: pipe.backend.name,
      threads: pipe.backend.threads + 1,
      samplesPerSec: best(pipe.rates),
      median: median(pipe.rates),
      vsNumpyF32: f32 ? best(pipe.rates) / f32 : undefined,
      // epoch time / bare steps' time of the same backend, round by round (interleaved), then the median
      epochTimeVsSteps: bare ? median(pipe.rates.map((p, i) => bare.rates[i] / p)) : undefined,
      epochTimeVsStepsBest: bare ? best(bare.rates) / best(pipe.rates) : undefined,
    };
  };
  const pipeline = pipelineFigures(candidates.find((c) => c.label === 'pipeline'));
  const pipelineInline = pipelineFigures(candidates.find((c) => c.label === 'pipeline-inline'));
  const pipeline1t = pipelineFigures(candidates.find((c) => c.label === 'pipeline-1t'));

  if (args.json) {
    console.log(JSON.stringify({
      shape: { n, d: D, m, k: K, steps, epochSteps }, rounds: args.rounds, cores, node: process.version, defaultBackend: defaultName,
      environment: process.env[STRIPPED_MARK] ? { removed: process.env[STRIPPED_MARK] } : {},
      rows, pipeline, pipelineInline, pipeline1t, gatherAhead, peers: 'command' in peer ? { best: peerBest, rounds: peerRates, torch: peer.torch } : peer, skipped,
    }, null, 2));
    return;
  }
  const table = [
    ['backend', 'runs as', 'threads', 'steps', 'samples/s (best)', 'median', 'ms/step', '/numpy-f32', '/numpy-f64'],
    ...rows.map((r) => [`${r.backend}${r.default ? ' *' : ''}`, r.runs, String(r.threads), String(r.steps), fmt(r.samplesPerSec), fmt(r.median), fmt(r.msPerStep, 3), fmt(r.vsNumpyF32, 2), fmt(r.vsNumpyF64, 2)]),
    ...Object.entries(peerRates).map(([k, v]) => [`peer ${k}`, '', '', String(epochSteps), fmt(best(v)), fmt(median(v)), fmt((n / best(v)) * 1000, 3), '', '']),
  ];
  const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
  log('');
  for (const r of table) log(r.map((x, c) => (c < 2 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join('  '));
  log(`* the default backend (auto). Best of ${args.rounds} round(s) on both sides; ratios are best / best.`);
  for (const r of rows) if (r.note) log(`  ${r.backend}: ${r.note}`);
  if (pipeline) {
    log(`pipeline epoch (runTraining on ${pipeline.backend}, ${pipeline.threads} threads, ${steps} steps): ${fmt(pipeline.samplesPerSec)} samples/s (median ${fmt(pipeline.median)})` +
      (pipeline.epochTimeVsSteps !== undefined ? `: epoch time = ${fmt(pipeline.epochTimeVsSteps, 2)} × the bare steps' time (median of the rounds; best/best ${fmt(pipeline.epochTimeVsStepsBest, 2)})` : ''));
    log(`cifar-mlp run equivalent (summary.json samplesPerSecond): ${fmt(pipeline.samplesPerSec)} samples/s` + (pipeline.vsNumpyF32 ? ` = ${fmt(pipeline.vsNumpyF32, 2)} × numpy-f32` : ''));
    if (gatherAhead) log(`batches gathered ahead: the helper thread gathered ${fmt(100 * (1 - gatherAhead.byCaller / gatherAhead.chunks))}% of the rows, the training thread the rest at the wait`);
  }
  if (pipelineInline) {
    log(`pipeline epoch with every batch gathered inline (no helper thread): ${fmt(pipelineInline.samplesPerSec)} samples/s (median ${fmt(pipelineInline.median)})` +
      (pipelineInline.epochTimeVsSteps !== undefined ? `: ${fmt(pipelineInline.epochTimeVsSteps, 2)} × the bare steps' time (best/best ${fmt(pipelineInline.epochTimeVsStepsBest, 2)})` : ''));
  }
  if (pipeline1t) {
    log(`pipeline epoch on 1 BLAS thread with the gather thread beside it: ${fmt(pipeline1t.samplesPerSec)} samples/s (median ${fmt(pipeline1t.median)})` +
      (pipeline1t.vsNumpyF32 ? ` = ${fmt(pipeline1t.vsNumpyF32, 2)} × numpy-f32` : '') +
      (pipeline1t.epochTimeVsSteps !== undefined ? `: ${fmt(pipeline1t.epochTimeVsSteps, 2)} × blas-1t's bare steps' time (best/best ${fmt(pipeline1t.epochTimeVsStepsBest, 2)})` : ''));
  }
  if ('skipped' in peer) log(`peers: ${peer.skipped}`);
  else if (peer.torch) log(`peers: ${peer.torch}`);
  for (const s of skipped) log(`not loaded: ${s.backend}: ${s.reason}`);
}

type Row = {
  backend: string; runs: string; threads: number; steps: number; rounds: number; samplesPerSec: number; median: number; msPerStep: number;
  vsNumpyF32?: number; vsNumpyF64?: number; default: boolean; note?: string;
};

/** The device a GPU backend ran on; a software renderer runs on the CPU, where its speed is not the point. */
function deviceNote(b: KernelBackend): string {
  const device = (b as { device?: { renderer: string; software?: string | null } }).device;
  if (!device) return '';
  return `on ${device.renderer}${device.software ? ` (software renderer ${device.software}: it runs on the CPU, its speed is not the point)` : ''}`;
}

/** This benchmark for one GPU backend in a child process of its own (GLX and EGL cannot share one): its rows. */
async function gpuChild(label: string, args: Args, log: (s: string) => void): Promise<{ rows: Row[] } | { skipped: string }> {
  log(`  ${label}: in a process of its own`);
  const argv = [fileURLToPath(import.meta.url), '--json', '--no-peers', '--backends', label, '--m', String(args.m), '--batch', String(args.batch), '--rounds', String(args.rounds),
    ...(args.steps !== null ? ['--steps', String(args.steps)] : []), ...(args.quick ? ['--quick'] : [])];
  try {
    const { stdout } = await promisify(execFile)(process.execPath, argv, { maxBuffer: 1 << 22 });
    const out = JSON.parse(stdout) as { rows: Row[]; skipped: { backend: string; reason: string }[] };
    return out.rows.length ? { rows: out.rows } : { skipped: out.skipped[0]?.reason ?? 'did not run' };
  } catch (e) {
    return { skipped: (e as Error).message.split('\n')[0] };
  }
}

main().catch((e) => {
  console.error(e instanceof BenchUsageError ? e.message : e);
  process.exit(e instanceof BenchUsageError ? 2 : 1);
});

/**
 * Training-step benchmark: samples/s of Network.trainStep at one network width, for every backend that loads here,
 * beside the same step's matrix products alone on the same backend (the step's floor), one epoch through the whole
 * training pipeline, a real `cifar-mlp run` of the same shape (600 steps; its summary.json samplesPerSecond), forward-only
 * evaluation at batch 1000, and the numpy peer (bench/peers/step_bench.py) at the same shape, all in one run,
 * interleaved: each round runs the peer once, then one epoch of every backend (and its products alone), each followed
 * by the pipeline epoch(s) on it, then the CLI run. Figures are the best of the rounds (as the peer reports its own),
 * with the median beside them. The BLAS's sgemm peak (GFLOP/s at the step's first product and at 2000³) is measured
 * once, before the rounds.
 *
 *   npm run bench -- --m 1000 --batch 100       human-readable table
 *   node dist/bench.js --json                   machine-readable (progress on stderr)
 *   options: --m M (hidden units, default 50)  --batch N (default 100)  --rounds R (default 3)
 *            --steps S (steps per timed epoch; default a full epoch, 49,000 / N)  --quick (fewer steps, 1 round)
 *            --backends a,b,...  (blas, blas-1t, wasm-simd, wasm-simd-1t, gpujs-webasm, gpujs-cpu, gpujs-headlessgl,
 *                                 gpujs-webgpu, reference, pipeline, pipeline-inline, pipeline-1t; blas-nospin only
 *                                 when named)
 *            --no-peers  --peer PATH (another peer program: .py runs with /usr/bin/python3, .js/.mjs with node)
 *            --data DIR (CIFAR-10 for the CLI row; default $CIFAR10_DIR, then ./data/cifar-10-batches-bin)  --no-cli
 *            --keep-blas-env (measure ours with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE when they are set)
 *
 * OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, where set, force old kernels on a current OpenBLAS; the peer script drops
 * them for itself, so this bench runs itself again without them too (and says so), unless --keep-blas-env.
 * Timings on a shared machine are noisy: compare ratios measured in the same run.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { resolveDataDir } from '../src/data/locate.js';
import type { KernelBackend } from '../src/kernels/backend.js';
import { CBLAS, type BlasLibrary } from '../src/kernels/blas-library.js';
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
  data: string | null;
  cli: boolean;
}

class BenchUsageError extends Error {}

const USAGE = 'usage: bench [--m M] [--batch N] [--rounds R] [--steps S] [--quick] [--backends list] [--no-peers] [--peer PATH] [--data DIR] [--no-cli] [--keep-blas-env] [--json]';

function parseArgs(argv: string[]): Args {
  const a: Args = { json: false, m: 50, batch: 100, rounds: 3, steps: null, quick: false, backends: null, peers: true, peer: null, keepBlasEnv: false, data: null, cli: true };
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
    else if (x === '--data') a.data = value(x, argv[++i]);
    else if (x === '--no-cli') a.cli = false;
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
  /** The same steps' matrix products alone (samples/s as if a step were nothing else), measured right after the epoch. */
  products?: () => Promise<number>;
  productRates: number[];
  /** Forward-only evaluation at batch EVAL_BATCH (samples/s). */
  evaluation?: () => Promise<number>;
  evalRates: number[];
}

const EVAL_BATCH = 1000;

type GemmCall = Parameters<KernelBackend['gemm']>;

/** Random normalised-looking rows in a new n × D matrix of `b`, with random labels. */
async function randomBatch(b: KernelBackend, n: number, rng: Rng) {
  const X = b.matrix(n, D);
  const v = new Float64Array(n * D);
  for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  await b.write(X, v);
  return { X, labels: Uint8Array.from({ length: n }, () => rng.int(0, K - 1)) };
}

/**
 * The matrix products of one training step on `b`, recorded as Network.trainStep made them (a backend that records
 * its gemm calls), then replayed alone, `steps` times: the step's floor on this backend and its threads.
 */
async function productsLoop(b: KernelBackend, m: number, n: number, steps: number): Promise<() => Promise<number>> {
  const calls: GemmCall[] = [];
  const recorder = new Proxy(b, {
    get(target, p) {
      if (p === 'gemm') return (...a: GemmCall) => { calls.push(a); return target.gemm(...a); };
      const v = Reflect.get(target, p, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const rng = new Rng(2);
  const net = new Network(recorder, { d: D, m, k: K });
  await net.initialise(rng);
  const { X, labels } = await randomBatch(b, n, rng);
  await net.trainStep(X, labels, { eta: ETA, lambda: LAMBDA });
  const step = calls.splice(0);
  const run = async (count: number) => {
    const t = performance.now();
    for (let s = 0; s < count; s++) for (const c of step) await b.gemm(...c);
    return (count * n) / ((performance.now() - t) / 1000);
  };
  await run(Math.min(steps, 10));
  return () => run(steps);
}

/** Forward-only evaluation (Network.evaluate: scores, loss, argmax) of 10 batches of EVAL_BATCH rows. */
async function evaluationLoop(b: KernelBackend, m: number): Promise<() => Promise<number>> {
  const rng = new Rng(4);
  const net = new Network(b, { d: D, m, k: K });
  await net.initialise(rng);
  const { X, labels } = await randomBatch(b, EVAL_BATCH, rng);
  const run = async (batches: number) => {
    const t = performance.now();
    for (let i = 0; i < batches; i++) await net.evaluate(X, labels);
    return (batches * EVAL_BATCH) / ((performance.now() - t) / 1000);
  };
  await run(1);
  return () => run(10);
}

/** A training loop of `steps` steps on a few prepared random batches (as the peers slice a random data set). */
async function stepLoop(b: KernelBackend, m: number, n: number, steps: number): Promise<() => Promise<number>> {
  const rng = new Rng(1);
  const net = new Network(b, { d: D, m, k: K });
  await net.initialise(rng);
  const batches = await Promise.all(Array.from({ length: Math.min(steps, 8) }, () => randomBatch(b, n, rng)));
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
}

/** The repository's peer, bench/peers/step_bench.py (beside bench.ts, or one level up from dist/bench.js). */
function repositoryPeer(): string | undefined {
  return ['./peers/step_bench.py', '../bench/peers/step_bench.py'].map((c) => fileURLToPath(new URL(c, import.meta.url))).find((p) => existsSync(p));
}

/** How to run the peer, or why it does not run here. */
async function findPeers(args: Args): Promise<PeerRun | { skipped: string }> {
  const peerArgs = ['--m', String(args.m), '--batch', String(args.batch), '--repeat', '1'];
  if (args.peer) {
    if (!existsSync(args.peer)) return { skipped: `--peer ${args.peer}: no such file` };
    const runner = args.peer.endsWith('.py') ? [PYTHON] : /\.(c|m)?js$/.test(args.peer) ? [process.execPath] : [];
    return { command: [...runner, args.peer, ...peerArgs] };
  }
  const script = repositoryPeer();
  if (!existsSync(PYTHON) || !script) return { skipped: `no ${PYTHON} or bench/peers/step_bench.py` };
  try {
    await promisify(execFile)(PYTHON, ['-c', 'import numpy']);
  } catch {
    return { skipped: `numpy is not installed for ${PYTHON} (Debian: apt-get install python3-numpy)` };
  }
  return { command: [PYTHON, script, ...peerArgs, '--steps', String(Math.floor(RECORDS / args.batch)), '--peak'] };
}

/** One run of the peer: { rates: { 'numpy-f32': samples/s, … }, gflops: { '2000x2000x2000': …, … } }. */
async function runPeers(p: PeerRun): Promise<{ rates: Record<string, number>; gflops: Record<string, number> }> {
  const { stdout } = await promisify(execFile)(p.command[0], p.command.slice(1), { maxBuffer: 1 << 20 });
  const rates: Record<string, number> = {}, gflops: Record<string, number> = {};
  for (const m of stdout.matchAll(/peer=(\S+) samples_per_s=([\d.]+)/g)) rates[m[1]] = Number(m[2]);
  for (const m of stdout.matchAll(/gemm=(\S+) gflops=([\d.]+)/g)) gflops[m[1]] = Number(m[2]);
  if (Object.keys(rates).length === 0) throw new Error(`the peer printed no peer=NAME samples_per_s=N line: ${stdout.slice(0, 200)}`);
  return { rates, gflops };
}

// ------------------------------------------------------------------ the machine's limit and the CLI

/** GFLOP/s of the BLAS's sgemm, `threads` threads, C = A·Bᵀ with A p × q and B r × q (best of a few timed sets). */
function sgemmPeak(lib: BlasLibrary, threads: number, p: number, q: number, r: number): number {
  const A = new Float32Array(p * q).fill(0.5), B = new Float32Array(r * q).fill(0.25), C = new Float32Array(p * r);
  const flops = 2 * p * q * r, reps = Math.max(3, Math.round(1e9 / flops));
  lib.setThreads(threads);
  let bestSeconds = Infinity;
  for (let set = 0; set < 4; set++) {
    const t = performance.now();
    for (let i = 0; i < reps; i++) lib.sgemm(CBLAS.RowMajor, CBLAS.NoTrans, CBLAS.Trans, p, r, q, 1, A, q, B, q, 0, C, r);
    if (set > 0) bestSeconds = Math.min(bestSeconds, (performance.now() - t) / 1000); // the first warms up
  }
  return (flops * reps) / bestSeconds / 1e9;
}

/** The CLI's command line for a real run of the bench's shape: config/cycle1.yaml, 600 steps (one cycle of ns = 300). */
function cliCommand(args: Args, dataDir: string, outDir: string): string[] {
  // from dist/bench.js and from bench/bench.ts alike: the repository's dist/cli.js and config/
  const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url)), config = fileURLToPath(new URL('../config/cycle1.yaml', import.meta.url));
  return [cli, 'run', config, '--data', dataDir, '--out', outDir, '--force',
    '--set', `model.hidden=${args.m}`, '--set', `train.batchSize=${args.batch}`, '--set', 'schedule.ns=300', '--set', 'schedule.cycles=1'];
}

/** One real `cifar-mlp run` (a child process): its summary.json samplesPerSecond and backend. */
async function runCli(command: string[], outDir: string): Promise<{ samplesPerSecond: number; backend: string }> {
  await promisify(execFile)(process.execPath, command, { maxBuffer: 1 << 22 });
  const summary = JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8')) as { status: string; samplesPerSecond: number; backend: string };
  if (summary.status !== 'completed') throw new Error(`cifar-mlp run ended ${summary.status}`);
  return { samplesPerSecond: summary.samplesPerSecond, backend: summary.backend };
}

// ------------------------------------------------------------------ the run

const best = (xs: number[]) => Math.max(...xs);
const fmt = (x: number | undefined, d = 0) => (x === undefined || !Number.isFinite(x) ? '' : x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));

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
  const add = async (label: string, make: () => Promise<KernelBackend>, stepCount: number, note?: string, loop = stepLoop, evaluate = false) => {
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
      const bare = loop === stepLoop;
      candidates.push({
        label, backend, steps: stepCount, note, epoch: await loop(backend, m, n, stepCount), rates: [],
        products: bare ? await productsLoop(backend, m, n, stepCount) : undefined, productRates: [],
        evaluation: evaluate ? await evaluationLoop(backend, m) : undefined, evalRates: [],
      });
    } catch (e) {
      await backend.dispose();
      throw e;
    }
  };

  const auto = await selectBackend('auto', availableParallelism());
  await auto.backend.dispose();
  const defaultName = auto.backend.name;
  const blasSkip = auto.skipped.find((s) => s.name === 'blas');
  log(`default backend (auto): ${defaultName} (${auto.backend.threads} thread(s))${blasSkip ? `; ${blasSkip.reason}` : ''}`);

  const slow = Math.max(1, Math.round(500 / m)); // steps of the slow backends (seconds each at wide layers)
  let sgemm: ({ threads: number } & Record<string, number>) | null = null;
  if (want('blas') || want('blas-1t')) {
    const { BlasBackend } = await import('../src/kernels/blas.js');
    if (want('blas')) await add('blas', () => BlasBackend.create({ threads: cores }), steps, undefined, stepLoop, true);
    if (want('blas-1t') && cores > 1) await add('blas-1t', () => BlasBackend.create({ threads: 1 }), steps, undefined, stepLoop, true);
    // only when asked for: the helper sleeping as soon as it is idle (what its short spin saves)
    if (args.backends?.includes('blas-nospin')) await add('blas-nospin', () => BlasBackend.create({ threads: cores, helperSpinMicros: 0 }), steps, 'helper spin 0 µs');
    const lib = candidates.find((c) => c.label.startsWith('blas'))?.backend as import('../src/kernels/blas.js').BlasBackend | undefined;
    if (lib) {
      const core = /\(core ([^)]+)\)/.exec(lib.library.description)?.[1];
      log(`BLAS: ${lib.library.description} (${lib.library.path})${core ? `; OpenBLAS core: ${core}` : ''}`);
      const stepShape = `${n}x${D}x${m}`;
      sgemm = { threads: cores, [stepShape]: sgemmPeak(lib.library, cores, n, D, m), '2000x2000x2000': sgemmPeak(lib.library, cores, 2000, 2000, 2000) };
      log(`sgemm peak (${cores} BLAS threads): ${fmt(sgemm[stepShape], 1)} GFLOP/s at ${n}×${D}·(${m}×${D})ᵀ, ${fmt(sgemm['2000x2000x2000'], 1)} GFLOP/s at 2000³`);
    }
  }
  if (want('wasm-simd')) await add('wasm-simd', () => WasmSimdBackend.create({ threads: cores }), steps, undefined, stepLoop, true);
  if (want('wasm-simd-1t') && cores > 1) await add('wasm-simd-1t', () => WasmSimdBackend.create({ threads: 1 }), steps, undefined, stepLoop, true);
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
  const peerRates: Record<string, number[]> = {}, peerGflops: Record<string, number[]> = {};
  if ('command' in peer) log(`peers: ${peer.command.join(' ')}, once per round`);
  else log(`peers: ${peer.skipped}`);

  // the CLI's own path: a real `cifar-mlp run` of the same shape, once per round
  let cli: { command: string[]; outDir: string } | { skipped: string } = { skipped: 'not requested (--no-cli)' };
  if (args.cli) {
    try {
      const { dir } = resolveDataDir({ cliDir: args.data ?? undefined });
      const outDir = mkdtempSync(join(tmpdir(), 'cifar-mlp-bench-cli-'));
      cli = dir ? { command: cliCommand(args, dir, outDir), outDir } : { skipped: 'no CIFAR-10 data here (--data DIR, $CIFAR10_DIR or ./data/cifar-10-batches-bin)' };
    } catch (e) {
      cli = { skipped: (e as Error).message };
    }
  }
  if ('command' in cli) log(`cli: node ${cli.command.join(' ')}, once per round`);
  else log(`cli: ${cli.skipped}`);
  const cliRuns: { samplesPerSecond: number; backend: string }[] = [];

  for (let r = 0; r < args.rounds; r++) {
    const parts: string[] = [];
    if ('command' in peer) {
      const got = await runPeers(peer);
      for (const [k, v] of Object.entries(got.rates)) (peerRates[k] ??= []).push(v);
      for (const [k, v] of Object.entries(got.gflops)) (peerGflops[k] ??= []).push(v);
      parts.push(Object.entries(got.rates).map(([k, v]) => `${k} ${fmt(v)}`).join(' '));
    }
    for (const c of runOrder) {
      const rate = await c.epoch();
      c.rates.push(rate);
      parts.push(`${c.label} ${fmt(rate)}`);
      if (c.products) {
        c.productRates.push(await c.products());
        parts.push(`(products ${fmt(c.productRates.at(-1))})`);
      }
      if (c.evaluation) c.evalRates.push(await c.evaluation());
    }
    if ('command' in cli) {
      cliRuns.push(await runCli(cli.command, cli.outDir));
      parts.push(`cli ${fmt(cliRuns.at(-1)!.samplesPerSecond)}`);
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
  if ('outDir' in cli) rmSync(cli.outDir, { recursive: true, force: true });

  // ---------------------------------------------------------------- report
  const peerBest = Object.fromEntries(Object.entries(peerRates).map(([k, v]) => [k, best(v)]));
  const f32 = peerBest['numpy-f32'], f64 = peerBest['numpy-f64'];
  const rows = candidates.filter((c) => !isPipeline(c)).map((c) => ({
    backend: c.label,
    runs: c.backend.name,
    threads: c.backend.threads,
    steps: c.steps,
    rounds: c.rates.length,
    samplesPerSec: best(c.rates),
    median: median(c.rates),
    msPerStep: (n / best(c.rates)) * 1000,
    vsNumpyF32: f32 ? best(c.rates) / f32 : undefined,
    vsNumpyF64: f64 ? best(c.rates) / f64 : undefined,
    default: c.backend.name === defaultName && c.backend.threads === auto.backend.threads && c.label !== 'blas-nospin',
    ...(c.productRates.length ? {
      msProducts: (n / best(c.productRates)) * 1000,
      // step time / its products' time, round by round (each measured right after the other), then the median
      stepVsProducts: median(c.productRates.map((p, i) => p / c.rates[i])),
    } : {}),
    ...(c.evalRates.length ? { evalSamplesPerSec: best(c.evalRates), evalVsNumpyF32: peerBest['numpy-f32-eval'] ? best(c.evalRates) / peerBest['numpy-f32-eval'] : undefined } : {}),
    ...(c.note || deviceNote(c.backend) ? { note: [deviceNote(c.backend), c.note].filter(Boolean).join('; ') } : {}),
  }));
  for (const r of childRows) rows.push({ ...r, vsNumpyF32: f32 ? r.samplesPerSec / f32 : undefined, vsNumpyF64: f64 ? r.samplesPerSec / f64 : undefined, default: false });
  const pipelineFigures = (pipe: Candidate | undefined) => {
    if (!pipe) return undefined;
    const bare = bareOf(pipe);
    return {
      backend: pipe.backend.name,
      threads: pipe.backend.threads,
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
  const defaultRow = rows.find((r) => r.default);
  const cliFigures = cliRuns.length ? {
    backend: cliRuns[0].backend,
    steps: 600,
    samplesPerSec: best(cliRuns.map((r) => r.samplesPerSecond)),
    median: median(cliRuns.map((r) => r.samplesPerSecond)),
    vsNumpyF32: f32 ? best(cliRuns.map((r) => r.samplesPerSecond)) / f32 : undefined,
    vsBareSteps: defaultRow ? best(cliRuns.map((r) => r.samplesPerSecond)) / defaultRow.samplesPerSec : undefined,
  } : undefined;
  const limits = {
    sgemm,
    numpySgemm: Object.keys(peerGflops).length ? Object.fromEntries(Object.entries(peerGflops).map(([k, v]) => [k, best(v)])) : null,
    numpyStepVsProducts: peerBest['numpy-f32-products'] && f32 ? peerBest['numpy-f32-products'] / f32 : undefined,
  };

  if (args.json) {
    console.log(JSON.stringify({
      shape: { n, d: D, m, k: K, steps, epochSteps }, rounds: args.rounds, cores, node: process.version, defaultBackend: defaultName,
      environment: process.env[STRIPPED_MARK] ? { removed: process.env[STRIPPED_MARK] } : {},
      rows, pipeline, pipelineInline, pipeline1t, gatherAhead, limits, cli: cliFigures ?? cli,
      peers: 'command' in peer ? { best: peerBest, rounds: peerRates } : peer, skipped,
    }, null, 2));
    return;
  }
  const table = [
    ['backend', 'runs as', 'threads', 'steps', 'samples/s (best)', 'median', 'ms/step', '/numpy-f32', '/numpy-f64'],
    ...rows.map((r) => [`${r.backend}${r.default ? ' *' : ''}`, r.runs, String(r.threads), String(r.steps), fmt(r.samplesPerSec), fmt(r.median), fmt(r.msPerStep, 3), fmt(r.vsNumpyF32, 2), fmt(r.vsNumpyF64, 2)]),
    ...Object.entries(peerRates).filter(([k]) => /^numpy-f(32|64)$/.test(k) || !k.startsWith('numpy-'))
      .map(([k, v]) => [`peer ${k}`, '', '', String(epochSteps), fmt(best(v)), fmt(median(v)), fmt((n / best(v)) * 1000, 3), '', '']),
  ];
  const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
  log('');
  for (const r of table) log(r.map((x, c) => (c < 2 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join('  ').trimEnd());
  log(`* the default backend (auto). Best of ${args.rounds} round(s) on both sides; ratios are best / best.`);
  for (const r of rows) if (r.note) log(`  ${r.backend}: ${r.note}`);
  const evalPeer = peerBest['numpy-f32-eval'], productsPeer = peerBest['numpy-f32-products'];
  const limitTable = [
    ['the limit', 'ms/step', 'products ms', 'step/products', `eval samples/s (batch ${EVAL_BATCH})`, '/numpy-f32-eval'],
    ...rows.filter((r) => r.msProducts !== undefined).map((r) => [r.backend, fmt(r.msPerStep, 3), fmt(r.msProducts, 3), fmt(r.stepVsProducts, 2), fmt(r.evalSamplesPerSec), fmt(r.evalVsNumpyF32, 2)]),
    ...(f32 && productsPeer ? [['peer numpy-f32', fmt((n / f32) * 1000, 3), fmt((n / productsPeer) * 1000, 3), fmt(f32 ? productsPeer / f32 : undefined, 2), fmt(evalPeer), '']] : []),
  ];
  const limitWidths = limitTable[0].map((_, c) => Math.max(...limitTable.map((r) => r[c].length)));
  log('');
  for (const r of limitTable) log(r.map((x, c) => (c < 1 ? x.padEnd(limitWidths[c]) : x.padStart(limitWidths[c]))).join('  ').trimEnd());
  log(`products: the step's matrix products alone on the same backend (recorded from a step, replayed), right after each epoch; step/products: median of the rounds`);
  if (limits.numpySgemm) log(`numpy's sgemm (its BLAS, its threads): ${Object.entries(limits.numpySgemm).map(([k, v]) => `${fmt(v, 1)} GFLOP/s at ${k}`).join(', ')}`);
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
  if (cliFigures) {
    log(`cifar-mlp run (config/cycle1.yaml at m=${m}, batch ${n}, 600 steps, on ${cliFigures.backend}; summary.json samplesPerSecond): ${fmt(cliFigures.samplesPerSec)} samples/s (median ${fmt(cliFigures.median)})` +
      (cliFigures.vsNumpyF32 ? ` = ${fmt(cliFigures.vsNumpyF32, 2)} × numpy-f32` : '') + (cliFigures.vsBareSteps ? `, ${fmt(cliFigures.vsBareSteps, 2)} × the default backend's bare steps` : ''));
  } else if ('skipped' in cli) log(`cli: ${cli.skipped}`);
  if ('skipped' in peer) log(`peers: ${peer.skipped}`);
  for (const s of skipped) log(`not loaded: ${s.backend}: ${s.reason}`);
}

type Row = {
  backend: string; runs: string; threads: number; steps: number; rounds: number; samplesPerSec: number; median: number; msPerStep: number;
  vsNumpyF32?: number; vsNumpyF64?: number; default: boolean; note?: string;
  msProducts?: number; stepVsProducts?: number; evalSamplesPerSec?: number; evalVsNumpyF32?: number;
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

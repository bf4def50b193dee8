/**
 * What data augmentation costs (issue 16): per update step, the augment stage (mirror + shift of a batch of 100
 * uint8 images, src/stages/augment.ts) against the bare training step (Network.trainStep on a prepared batch), and
 * a stretch of the whole pipeline (runTraining without evaluation) with and without augmentation against the bare
 * steps, for m = 50 and m = 1000 on wasm-simd. The four measurements alternate within each round, so a machine
 * whose load changes meanwhile weighs on all of them alike; medians over the rounds.
 *
 *   npm run bench:augment [-- --rounds N] [--m 50,1000] [--threads T] [--json]
 *
 * Timings on a shared machine are noisy: compare ratios measured in the same run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, map, range } from 'rxjs';
import { trainSchema } from '../src/config/train-schema.js';
import { fillFromMean } from '../src/data/augmentation.js';
import { selectBackend } from '../src/kernels/select.js';
import { Network } from '../src/model/network.js';
import { runTraining } from '../src/pipeline/train.js';
import { augment } from '../src/stages/augment.js';
import { Rng } from '../src/util/rng.js';
import { median } from './stats.js';

const N = 100, D = 3072, K = 10, EPOCH_STEPS = 490;

function args(argv: string[]) {
  const a = { rounds: 5, ms: [50, 1000], threads: 0, json: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--rounds') a.rounds = Math.max(1, Number(argv[++i]));
    else if (argv[i] === '--m') a.ms = argv[++i].split(',').map(Number);
    else if (argv[i] === '--threads') a.threads = Number(argv[++i]);
    else if (argv[i] === '--json') a.json = true;
    else throw new Error(`augment-bench: unknown option ${argv[i]}`);
  }
  return a;
}

const rng = new Rng(3);
function dataset(count: number) {
  const pixels = new Uint8Array(new SharedArrayBuffer(count * D));
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.int(0, 255);
  return { pixels, labels: Uint8Array.from({ length: count }, () => rng.int(0, K - 1)), count };
}

async function main(): Promise<void> {
  const a = args(process.argv.slice(2));
  const { backend } = await selectBackend('wasm-simd', a.threads);
  const data = dataset(EPOCH_STEPS * N);
  const splits = { train: data, val: dataset(N), test: dataset(N) };
  const normalization = { mean: new Float32Array(D).fill(0.5), invStd: new Float32Array(D).fill(3.5) };
  const fill = fillFromMean(normalization.mean);
  const order = Int32Array.from({ length: data.count }, (_, i) => i);
  new Rng(1).shuffle(order);
  const log = (s: string) => { if (!a.json) console.log(s); };
  log(`augment bench: backend ${backend.name} (${backend.threads} threads), batch ${N}, ${a.rounds} rounds`);
  const out: Record<string, unknown>[] = [];
  for (const m of a.ms) {
    const steps = m >= 500 ? 40 : 245; // per measurement
    const inputs = Float64Array.from({ length: N * D }, () => rng.normal());
    const labels = Uint8Array.from({ length: N }, () => rng.int(0, K - 1));
    const bare = async () => {
      backend.releaseAll(); // the matrices of the round before (the pipeline runs allocate their own)
      const net = new Network(backend, { d: D, m, k: K });
      await net.initialise(new Rng(1));
      const X = backend.matrix(N, D);
      await backend.write(X, inputs);
      await net.trainStep(X, labels, { eta: 1e-3, lambda: 1e-3 });
      const t = performance.now();
      for (let i = 0; i < steps; i++) await net.trainStep(X, labels, { eta: 1e-3, lambda: 1e-3 });
      return (performance.now() - t) / steps;
    };
    const augmentOnly = async (flip: boolean, translate: number) => {
      const t = performance.now();
      await lastValueFrom(range(0, steps).pipe(
        map((step) => ({ step, epoch: 0, rows: order.subarray(step * N, step * N + N) })),
        augment(data, { flip, translate, seed: 7, fill }, N),
      ));
      return (performance.now() - t) / steps;
    };
    const pipeline = async (aug: { flip: boolean; translate: number }) => {
      const config = trainSchema.parse({ name: 'bench', model: { hidden: m }, schedule: { epochs: steps / EPOCH_STEPS }, eval: { every: 10 ** 9 }, augment: aug });
      const outDir = mkdtempSync(join(tmpdir(), 'cifar-mlp-augbench-'));
      try {
        const { summary } = await runTraining({ config, splits, backend, outDir, normalization, evaluate: false });
        return (N / summary.samplesPerSecond) * 1000;
      } finally {
        rmSync(outDir, { recursive: true, force: true });
      }
    };
    const r: Record<string, number[]> = { bare: [], flip: [], flipShift: [], pipeline: [], pipelineAugmented: [] };
    for (let round = 0; round <= a.rounds; round++) { // round 0 warms up
      const got = {
        bare: await bare(), flip: await augmentOnly(true, 0), flipShift: await augmentOnly(true, 1),
        pipeline: await pipeline({ flip: false, translate: 0 }), pipelineAugmented: await pipeline({ flip: true, translate: 1 }),
      };
      if (round > 0) for (const k of Object.keys(r)) r[k].push(got[k as keyof typeof got]);
    }
    const med = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, median(v)])) as Record<keyof typeof r, number>;
    const row = { m, ms: med, augmentVsStep: med.flipShift / med.bare, pipelineVsBare: med.pipeline / med.bare, pipelineAugmentedVsBare: med.pipelineAugmented / med.bare };
    out.push(row);
    log(`m = ${m}: bare step ${med.bare.toFixed(3)} ms; augment stage ${med.flip.toFixed(3)} ms (flips), ${med.flipShift.toFixed(3)} ms (flips + ±1 px) ` +
      `= ${(100 * row.augmentVsStep).toFixed(1)}% of a bare step; pipeline step ${med.pipeline.toFixed(3)} ms plain (${row.pipelineVsBare.toFixed(2)}× bare), ` +
      `${med.pipelineAugmented.toFixed(3)} ms with flips + ±1 px (${row.pipelineAugmentedVsBare.toFixed(2)}× bare)`);
  }
  if (a.json) console.log(JSON.stringify(out));
  await backend.dispose();
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });

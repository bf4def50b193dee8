/**
 * The gradient-check experiment of a gradcheck config: builds the checked batch (augmented when config.augment
 * says so) and network, runs the float64 numerical check for every lambda (under a fixed dropout mask when
 * check.dropout > 0, with check.labelSmoothing) and (optionally) the float32-vs-float64 comparison, and writes
 * gradcheck.csv (fast-csv), summary.json and config.yaml to the output folder.
 */
import { join } from 'node:path';
import type { GradcheckConfig } from '../config/schema.js';
import { toYaml } from '../config/load.js';
import { PIXELS, type Dataset } from '../data/cifar.js';
import { drawTransform, fillFromMean, transformImage } from '../data/augmentation.js';
import { computeNormalization } from '../data/normalization.js';
import { augmentRng } from '../stages/augment.js';
import type { KernelBackend, Matrix } from '../kernels/backend.js';
import { ReferenceBackend } from '../kernels/reference.js';
import { Network, type ParamName } from '../model/network.js';
import { configuredInit, configuredShape } from '../model/shape.js';
import { writeFileAtomic } from '../util/atomic.js';
import { GradcheckLog, writeGradcheckSummary, type CheckKind, type GradcheckRow, type GradcheckSummary } from '../formats/gradcheck.js';
import { makeDirs } from '../util/make-dirs.js';
import { cutAtSpace } from '../util/fit-line.js';
import { deriveSeed, Rng } from '../util/rng.js';
import { compareBackends, gradientCheck, sampleEntries, toFloat32Values } from './check.js';

/**
 * The first n records, standardised with `train`'s statistics, keeping the first d dimensions: n × d row-major float64.
 * With `augment`, the records as the augment stage gives them to training step 0 of a run with that seed (mirrored and
 * shifted, padded with the training mean) before they are standardised.
 */
export function checkBatch(train: Dataset, n: number, d: number, augment?: { flip: boolean; translate: number; seed: number }): { X: Float64Array; labels: Uint8Array } {
  if (n > train.count) throw new Error(`check.samples: ${n} samples asked, the training split holds ${train.count}`);
  if (d > PIXELS) throw new Error(`model.inputDims: at most ${PIXELS}`);
  const { mean, invStd } = computeNormalization(train);
  let pixels = train.pixels;
  if (augment && (augment.flip || augment.translate > 0)) {
    pixels = new Uint8Array(n * PIXELS);
    const rng = augmentRng(augment.seed, 0), fill = fillFromMean(mean);
    for (let i = 0; i < n; i++) transformImage(train.pixels, i * PIXELS, pixels, i * PIXELS, drawTransform(rng, augment.flip, augment.translate), fill);
  }
  const X = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) X[i * d + j] = (pixels[i * PIXELS + j] / 255 - mean[j]) * invStd[j];
  }
  return { X, labels: Uint8Array.from(train.labels.subarray(0, n)) };
}

export interface GradcheckOptions {
  config: GradcheckConfig;
  /** The training split (the checked samples are its first records; normalisation uses all of it). */
  train: Dataset;
  /** The training backend for the float32 comparison (null: skip it even when config.float32.enabled). */
  backend: KernelBackend | null;
  outDir: string;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

async function matrixOf(backend: KernelBackend, rows: number, cols: number, values: ArrayLike<number>): Promise<Matrix> {
  const m = backend.matrix(rows, cols);
  await backend.write(m, values);
  return m;
}

export async function runGradcheck(opts: GradcheckOptions): Promise<GradcheckSummary> {
  const { config, train, outDir } = opts;
  const log = opts.log ?? (() => {});
  const started = Date.now();
  makeDirs(outDir);
  writeFileAtomic(join(outDir, 'config.yaml'), toYaml(config));

  const n = config.check.samples, d = config.model.inputDims, shape = configuredShape(config.model, d), { m, k } = shape;
  const { X, labels } = checkBatch(train, n, d, { ...config.augment, seed: config.seed });
  const loss = {
    ...(config.check.dropout > 0 ? { dropout: { keep: 1 - config.check.dropout, seed: deriveSeed(config.seed, 'gradcheck-dropout') } } : {}),
    labelSmoothing: config.check.labelSmoothing,
  };
  const ref = new ReferenceBackend();
  const net = new Network(ref, shape);
  await net.initialise(new Rng(deriveSeed(config.seed, 'gradcheck-init')), configuredInit(config.model));
  const Xref = await matrixOf(ref, n, d, X);
  const entries = sampleEntries(net, config.check.entries, new Rng(deriveSeed(config.seed, 'gradcheck-entries')));

  const results: GradcheckRow[] = [];
  const csv = new GradcheckLog(outDir);
  const record = async (row: GradcheckRow) => {
    results.push(row);
    await csv.write(row);
  };
  let status: GradcheckSummary['status'] = 'passed';
  try {
    for (const lambda of config.check.lambdas) {
      const t0 = Date.now();
      const errors = await gradientCheck(net, Xref, labels, lambda, { h: config.check.h, eps: config.check.eps, entries, signal: opts.signal, loss });
      for (const e of errors) {
        await record({ ...e, check: 'numerical-f64', backend: ref.name, lambda, criterion: 'max_rel_error', threshold: config.check.threshold, passed: e.maxRelError <= config.check.threshold });
      }
      log(`gradcheck: float64 numerical check, lambda ${lambda}: ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    }

    if (opts.backend && config.float32.enabled) {
      // Both networks start from the same float32-representable weights and inputs, so the comparison
      // measures the backend's arithmetic, not the rounding of its inputs.
      const fast = new Network(opts.backend, shape);
      const reference = new Network(ref, shape);
      const values = await net.snapshot();
      const weights = {} as Record<ParamName, Float64Array>;
      for (const p of Object.keys(values)) weights[p] = toFloat32Values(values[p]);
      await fast.restore(weights);
      await reference.restore(weights);
      const X32 = toFloat32Values(X);
      const Xfast = await matrixOf(opts.backend, n, d, X32), Xref32 = await matrixOf(ref, n, d, X32);
      for (const lambda of config.check.lambdas) {
        if (opts.signal?.aborted) throw new Error('gradient check interrupted');
        const errors = await compareBackends(fast, Xfast, reference, Xref32, labels, lambda, config.check.eps, loss);
        for (const e of errors) {
          await record({ ...e, check: 'float32-vs-f64', backend: opts.backend.name, lambda, criterion: 'inf_rel_error', threshold: config.float32.threshold, passed: e.infRelError <= config.float32.threshold });
        }
      }
    }
  } catch (e) {
    if (!opts.signal?.aborted) throw e;
    status = 'interrupted';
  } finally {
    await csv.close();
  }
  if (status !== 'interrupted' && results.some((r) => !r.passed)) status = 'failed';

  const worst: GradcheckSummary['worst'] = {};
  for (const r of results) {
    const value = r.criterion === 'max_rel_error' ? r.maxRelError : r.infRelError;
    const w = (worst[r.check] ??= { value: 0, threshold: r.threshold, passed: true });
    if (!(value <= w.value)) w.value = value; // NaN sticks
    w.passed &&= r.passed;
  }
  const summary: GradcheckSummary = {
    kind: 'gradcheck',
    status, name: config.name, seed: config.seed, shape: { n, d, m, k }, results, worst,
    float32Backend: opts.backend && config.float32.enabled ? opts.backend.name : null,
    seconds: (Date.now() - started) / 1000,
    startedAt: new Date(started).toISOString(), finishedAt: new Date().toISOString(), config,
  };
  writeGradcheckSummary(outDir, summary);
  return summary;
}

const sci = (v: number) => (Number.isFinite(v) ? v.toExponential(3) : String(v));

const TABLE_WIDTH = 100;

/** A threshold as written in a config: 1e-6, 0.0001 → 1e-4, 0.5. */
const threshold = (v: number) => (v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential().replace(/\.?0*e/, 'e') : String(v));

const CHECK_TITLES: Record<CheckKind, (backend: string, t: number) => string> = {
  'numerical-f64': (b, t) => `numerical-f64 (${b}): analytic vs numerical gradients; pass when max rel err ≤ ${threshold(t)}`,
  'float32-vs-f64': (b, t) => `float32-vs-f64 (${b}): float32 vs float64 gradients; pass when inf-rel err ≤ ${threshold(t)}`,
};

/**
 * The results as plain-text tables within TABLE_WIDTH (100) columns: one table per check and backend (its title names them and
 * the pass criterion), one line per lambda and parameter. gradcheck.csv holds the same numbers and more.
 */
export function formatTable(rows: GradcheckRow[]): string {
  const head = ['lambda', 'param', 'checked', 'max abs diff', 'max rel err', 'inf-rel err', 'norm-rel err', 'pass'];
  const groups = new Map<string, GradcheckRow[]>();
  for (const r of rows) {
    const key = `${r.check}\u0000${r.backend}\u0000${r.threshold}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const tables = [...groups.values()].map((group) => {
    const body = group.map((r) => [
      String(r.lambda), r.param, `${r.checked}/${r.size}`,
      sci(r.maxAbsDiff), sci(r.maxRelError), sci(r.infRelError), sci(r.normRelError), r.passed ? 'yes' : 'NO',
    ]);
    const widths = head.map((h, c) => Math.max(h.length, ...body.map((row) => row[c].length)));
    const line = (cells: string[]) => cells.map((s, c) => s.padEnd(widths[c])).join('  ').trimEnd();
    const { check, backend, threshold: t } = group[0];
    return [cutAtSpace(CHECK_TITLES[check](backend, t), TABLE_WIDTH), line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
  });
  return tables.join('\n\n');
}

/**
 * Gradient checking (SPEC.md experiment 1), independent of configs and files:
 *
 *  - `gradientCheck`: the analytic gradient of J = mean cross-entropy + lambda Σ_l ‖W_l‖² (every parameter, γ and β
 *    of batch norm included; batch norm with the batch's statistics, as in training)
 *    (Network.backward + regularisedGradient) against the centered difference
 *    gn = (J(θ + h e_i) − J(θ − h e_i)) / 2h, entry by entry, both on the network's own backend
 *    (float64 ReferenceBackend for the real check).
 *  - `compareBackends`: the analytic gradients of two networks holding the same weights on the same
 *    batch (a float32 training backend against the float64 reference).
 *
 * Both may take the loss as training does: under a fixed dropout mask (a function of its seed: every evaluation of
 * J, and both backends, drop the same units) and with label smoothing.
 *
 * Per parameter it reports the max absolute difference, the max relative error
 * |ga − gn| / max(eps, |ga| + |gn|) of the report, and two scale-free norm-wise errors.
 */
import { hostData, type Labels, type Matrix } from '../kernels/backend.js';
import type { LossOptions, Network, ParamName } from '../model/network.js';
import { Rng } from '../util/rng.js';
import type { GradientError } from '../formats/gradcheck.js';

/** Default floor of the relative error's denominator: see `check.eps` in the gradcheck schema. */
export const DEFAULT_EPS = 1e-3;

export type Gradients = Record<ParamName, Float64Array>;
/** Flat indices of the entries to check per parameter; null = every entry. */
export type EntrySelection = Record<ParamName, Int32Array | null>;

/** One parameter's gradient against its reference (a row of gradcheck.csv without the check's fields). */
export type ParamError = GradientError;

export interface NumericalOptions {
  /** Centered-difference step (default 1e-5). */
  h?: number;
  /** The loss as training takes it: under a fixed dropout mask (the same in every evaluation of J), with label smoothing. */
  loss?: LossOptions;
  /** Entries to perturb; default every entry of every parameter. */
  entries?: EntrySelection;
  /** Checked between entries: stops the (possibly long) numerical loop. */
  signal?: AbortSignal;
  /** Called after each parameter with the entries done so far. */
  onProgress?: (param: ParamName, done: number, total: number) => void;
}

export interface CheckOptions extends NumericalOptions {
  /** Floor of the relative error's denominator (default 1e-3, see the gradcheck schema). */
  eps?: number;
}

/**
 * The two terms of J: the mean cross-entropy over the rows of X (under `loss`'s dropout mask; against the smoothed
 * targets (1 − eps) Y + eps / k with label smoothing, computed here in float64 from the probabilities) and
 * lambda (‖W1‖² + ‖W2‖²).
 */
export async function costTerms(net: Network, X: Matrix, labels: Labels, lambda: number, loss: LossOptions = {}): Promise<{ loss: number; penalty: number }> {
  const eps = loss.labelSmoothing ?? 0, n = X.rows;
  let sum: number;
  if (eps > 0) {
    const k = net.shape.k, p = await net.backend.read(await net.trainingProbabilities(X, loss.dropout));
    sum = 0;
    for (let i = 0; i < n; i++) {
      let logs = 0;
      for (let j = 0; j < k; j++) logs += Math.log(p[i * k + j]);
      sum -= (1 - eps) * Math.log(p[i * k + labels[i]]) + (eps / k) * logs;
    }
  } else {
    sum = (await net.trainingLoss(X, labels, loss.dropout)).lossSum;
  }
  return { loss: sum / n, penalty: await net.penalty(lambda) };
}

/** J = the mean (smoothed) cross-entropy over the rows of X (as `loss` says) + lambda (‖W1‖² + ‖W2‖²). */
export async function cost(net: Network, X: Matrix, labels: Labels, lambda: number, loss: LossOptions = {}): Promise<number> {
  const terms = await costTerms(net, X, labels, lambda, loss);
  return terms.loss + terms.penalty;
}

/**
 * ∂J/∂θ for every parameter: Network.backward (under `loss`'s dropout mask and label smoothing, as in a training
 * step), then regularisedGradient (adds 2 lambda W to the weights).
 */
export async function analyticGradients(net: Network, X: Matrix, labels: Labels, lambda: number, loss: LossOptions = {}): Promise<Gradients> {
  await net.backward(X, labels, loss);
  const out = {} as Gradients;
  for (const p of net.paramNames) out[p] = await net.regularisedGradient(p, lambda);
  return out;
}

/**
 * Centered differences (J(θ + h) − J(θ − h)) / 2h for the selected entries (NaN elsewhere), taken term by
 * term, ((L₊ − L₋) + (P₊ − P₋)) / 2h: the same number in exact arithmetic, but the loss L is never added
 * to a large penalty P before the subtraction, which would round away its low bits (with lambda = 1 that
 * alone raises the rounding error of gn tenfold). Perturbs the
 * parameters in place (their storage must be host memory, as for every backend here) and restores each
 * entry exactly afterwards.
 */
export async function numericalGradients(net: Network, X: Matrix, labels: Labels, lambda: number, opts: NumericalOptions = {}): Promise<Gradients> {
  const h = opts.h ?? 1e-5;
  const out = {} as Gradients;
  for (const p of net.paramNames) {
    const data = hostData(net.params[p]);
    const g = new Float64Array(data.length).fill(NaN);
    const selected = opts.entries?.[p] ?? null;
    const total = selected ? selected.length : data.length;
    for (let t = 0; t < total; t++) {
      if (opts.signal?.aborted) throw new Error('gradient check interrupted');
      const i = selected ? selected[t] : t;
      const original = data[i];
      data[i] = original + h;
      const plus = await costTerms(net, X, labels, lambda, opts.loss);
      data[i] = original - h;
      const minus = await costTerms(net, X, labels, lambda, opts.loss);
      data[i] = original;
      g[i] = (plus.loss - minus.loss + (plus.penalty - minus.penalty)) / (2 * h);
    }
    out[p] = g;
    opts.onProgress?.(p, total, total);
  }
  return out;
}

/** Errors of `a` against the reference `b` over the selected entries (all when null). */
export function compareGradients(param: ParamName, a: Float64Array, b: Float64Array, selected: ArrayLike<number> | null = null, eps = DEFAULT_EPS): ParamError {
  if (a.length !== b.length) throw new Error(`${param}: gradients of ${a.length} and ${b.length} entries`);
  const total = selected ? selected.length : a.length;
  let maxAbsDiff = 0, maxRelError = 0, maxAbsGrad = 0, diff2 = 0, ref2 = 0;
  for (let t = 0; t < total; t++) {
    const i = selected ? selected[t] : t;
    const d = Math.abs(a[i] - b[i]);
    // NaN (a backend that produced NaN) must fail the check, so NaN wins over every number here.
    if (!(d <= maxAbsDiff)) maxAbsDiff = d;
    const rel = d / Math.max(eps, Math.abs(a[i]) + Math.abs(b[i]));
    if (!(rel <= maxRelError)) maxRelError = rel;
    maxAbsGrad = Math.max(maxAbsGrad, Math.abs(b[i]));
    diff2 += d * d;
    ref2 += b[i] * b[i];
  }
  const ratio = (num: number, den: number) => (num === 0 ? 0 : num / den);
  return {
    param, size: a.length, checked: total, maxAbsDiff, maxRelError, maxAbsGrad,
    infRelError: ratio(maxAbsDiff, maxAbsGrad), normRelError: ratio(Math.sqrt(diff2), Math.sqrt(ref2)),
  };
}

/**
 * A seeded random subset of `count` distinct entries per parameter (sorted), or null (every entry)
 * for parameters with at most `count` entries, or when count is 0.
 */
export function sampleEntries(net: Network, count: number, rng: Rng): EntrySelection {
  const out = {} as EntrySelection;
  for (const p of net.paramNames) {
    const size = net.params[p].rows * net.params[p].cols;
    if (count === 0 || count >= size) { out[p] = null; continue; }
    // Partial Fisher–Yates over the index range: the first `count` slots are a uniform sample.
    const idx = Int32Array.from({ length: size }, (_, i) => i);
    for (let i = 0; i < count; i++) {
      const j = rng.int(i, size - 1);
      const t = idx[i]; idx[i] = idx[j]; idx[j] = t;
    }
    out[p] = idx.slice(0, count).sort();
  }
  return out;
}

/** Analytic against numerical gradients of J with this lambda, per parameter (W1, b1, W2, b2, …). */
export async function gradientCheck(net: Network, X: Matrix, labels: Labels, lambda: number, opts: CheckOptions = {}): Promise<ParamError[]> {
  const analytic = await analyticGradients(net, X, labels, lambda, opts.loss);
  const numerical = await numericalGradients(net, X, labels, lambda, opts);
  return net.paramNames.map((p) => compareGradients(p, analytic[p], numerical[p], opts.entries?.[p] ?? null, opts.eps));
}

/**
 * The analytic gradients of `net` against those of `reference` (same shape; the caller gives both the
 * same weights) on the same batch: `X` and `Xref` must hold the same values in each backend's storage.
 */
export async function compareBackends(
  net: Network, X: Matrix, reference: Network, Xref: Matrix, labels: Labels, lambda: number, eps = DEFAULT_EPS, loss: LossOptions = {},
): Promise<ParamError[]> {
  const got = await analyticGradients(net, X, labels, lambda, loss);
  const want = await analyticGradients(reference, Xref, labels, lambda, loss);
  return net.paramNames.map((p) => compareGradients(p, got[p], want[p], null, eps));
}

/** Rounds every value to float32 (so that a float32 and a float64 backend start from identical numbers). */
export function toFloat32Values(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values, (v) => Math.fround(v));
}

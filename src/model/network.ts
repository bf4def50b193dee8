/**
 * The k-layer network of SPEC.md (and of the course's next assignment), written against the kernel interface.
 * Samples are rows: X is n × d, layer l's weights W_l are m_l × m_{l−1} (m_0 = d, m_k = classes), biases row vectors.
 * The two-layer network of SPEC.md is hidden = [m].
 *
 *   forward, l < k: S_l = H_{l−1} W_lᵀ (n×m_l)   H_l = max(0, S_l + b_l) [⊙ mask / keep]
 *     with batch norm: Ŝ_l = (S_l − μ_l) / √(v_l + eps)   H_l = max(0, γ_l ⊙ Ŝ_l + β_l) [⊙ mask / keep]
 *       (μ_l, v_l: the batch's column means and variances while training, their running averages otherwise; b_l is
 *       left out, since the normalisation subtracts every constant: β_l is the shift)
 *   output:  S = H_{k−1} W_kᵀ + b_k (n×classes)   P = softmax(S)
 *   backward: G_k = P − Y [+ eps (Y − 1/classes)]   dW_l = G_lᵀ H_{l−1} / n   db_l = Σ_rows G_l / n
 *             G_{l−1} = (G_l W_l) ⊙ 1[H_{l−1} > 0] [/ keep]
 *     with batch norm: dγ = Σ_rows G ⊙ Ŝ / n   dβ = Σ_rows G / n   G = batchNormBackward(G ⊙ γ)
 *   update:  W −= eta (dW + 2 lambda W);  b, γ, β −= eta d·     (or with momentum or AdamW: KernelBackend.sgdUpdate, adamUpdate)
 *
 * One forward pass serves training, evaluation and prediction. Dropout's mask zeroes units of H, so the ReLU mask
 * 1[H > 0] of the backward pass also drops them; the kept units carry the factor 1 / keep both ways.
 */
import type { AdamState, KernelBackend, Labels, LossSums, Matrix } from '../kernels/backend.js';
import { Rng } from '../util/rng.js';

export interface NetworkShape {
  d: number; // input dimension (3072)
  m: number; // units of the first hidden layer (the two-layer network's m)
  k: number; // classes
  /** Widths of every hidden layer, input side first (default [m]): hidden.length + 1 layers. */
  hidden?: readonly number[];
  /** Batch normalisation on every hidden layer. */
  batchNorm?: boolean;
}

/** The widths of a shape's hidden layers. */
export const hiddenWidths = (shape: NetworkShape): readonly number[] => shape.hidden ?? [shape.m];

/**
 * The shape of a network with these hidden widths: the two-layer network without batch norm is {d, m, k} alone, as
 * model files have always written it.
 */
export function networkShape(d: number, hidden: readonly number[], k: number, batchNorm = false): NetworkShape {
  if (hidden.length === 0) throw new RangeError('a network needs at least one hidden layer');
  return hidden.length === 1 && !batchNorm ? { d, m: hidden[0], k } : { d, m: hidden[0], k, hidden: [...hidden], batchNorm };
}

/** The two-layer network's parameters (hidden = [m], no batch norm). */
export const PARAM_NAMES = ['W1', 'b1', 'W2', 'b2'] as const;
export type ParamName = string;
export type Params = Record<ParamName, Matrix>;
export type ParamValues = Record<ParamName, Float64Array>;

/** Added to the variance before its square root in batch normalisation. */
export const BATCH_NORM_EPS = 1e-5;

/** How weights are drawn: N(0, σ²) with σ = √(2 / fan-in) (he), 1 / √fan-in (xavier), or a fixed σ. */
export type InitScheme = 'he' | 'xavier' | { std: number };

/** Inverted dropout on the hidden layers for one step: keep probability and the step's mask seed. */
export interface DropoutStep {
  keep: number;
  seed: number;
}

export interface Momentum {
  mu: number;
  nesterov: boolean;
}

/** Adam's factors; `decoupled`: AdamW's weight decay beside the step instead of L2 in the gradient. */
export interface Adam {
  beta1: number;
  beta2: number;
  eps: number;
  decoupled: boolean;
}

/** How a step uses the gradients beyond plain SGD: momentum, or Adam (its moments kept per parameter). */
export type Optimizer = Momentum | Adam;
const isAdam = (o: Optimizer): o is Adam => 'beta1' in o;

/** How a training batch's loss is taken: under a dropout mask, against smoothed labels. */
export interface LossOptions {
  dropout?: DropoutStep;
  /**
   * Label smoothing eps: the targets are (1 − eps) Y + eps / k, so G2 = P − Y + eps (Y − 1/k). The loss reported is
   * still the cross-entropy with the true labels.
   */
  labelSmoothing?: number;
}

export interface StepOptions extends LossOptions {
  eta: number;
  lambda: number;
  /** The update's number from 1 (Adam's bias corrections need it; training passes step + 1). */
  t?: number;
}

/** One layer: its parameters' names and shape. */
interface Layer {
  readonly W: ParamName; // units × inputs
  readonly b: ParamName | null; // 1 × units (null with batch norm)
  readonly gamma: ParamName | null; // 1 × units, batch-normalised hidden layers only
  readonly beta: ParamName | null;
  readonly inputs: number;
  readonly units: number;
  readonly hidden: boolean;
}

/** A hidden layer's activations for a batch of n rows. */
interface HiddenWork {
  S: Matrix; // n×units: S_l; without batch norm, H_l in place
  Shat: Matrix | null; // n×units: Ŝ_l (batch norm)
  H: Matrix; // n×units: H_l (S itself without batch norm)
  G: Matrix; // n×units: the gradient with respect to H_l, then S_l
  mean: Matrix | null; // 1×units: the batch's statistics (batch norm)
  variance: Matrix | null;
}

/** Activations and gradients for a batch of n rows, allocated once per batch size. */
interface Workspace {
  n: number;
  hidden: HiddenWork[];
  SP: Matrix; // n×classes: S, then P, then G = P − Y in place
  smooth: Matrix | null; // n×classes: eps (Y − 1/k) of label smoothing, written per batch
  smoothValues: Float64Array | null;
}

export type BatchResult = LossSums;

/** What predicts class probabilities: a network, or an ensemble of networks (src/model/ensemble.ts). */
export interface ProbabilityModel {
  readonly backend: KernelBackend;
  readonly shape: NetworkShape;
  /** P (X.rows × k): valid until the model's next pass. */
  probabilities(X: Matrix): Promise<Matrix>;
}

function layersOf(shape: NetworkShape): Layer[] {
  const widths = [shape.d, ...hiddenWidths(shape), shape.k], bn = !!shape.batchNorm;
  return widths.slice(1).map((units, i) => {
    const l = i + 1, hidden = l < widths.length - 1, norm = hidden && bn;
    return { W: `W${l}`, b: norm ? null : `b${l}`, gamma: norm ? `gamma${l}` : null, beta: norm ? `beta${l}` : null, inputs: widths[i], units, hidden };
  });
}

/**
 * rows × cols of every parameter of a network of this shape, in order (W1, b1 or gamma1 and beta1, W2, …, Wk, bk),
 * and of batch norm's running averages (mean1, var1, …; none without batch norm).
 */
export function parameterShapes(shape: NetworkShape): { params: Record<ParamName, [number, number]>; running: Record<ParamName, [number, number]> } {
  const params: Record<ParamName, [number, number]> = {}, running: Record<ParamName, [number, number]> = {};
  layersOf(shape).forEach((L, i) => {
    params[L.W] = [L.units, L.inputs];
    for (const v of [L.b, L.gamma, L.beta]) if (v) params[v] = [1, L.units];
    if (L.gamma) {
      running[`mean${i + 1}`] = [1, L.units];
      running[`var${i + 1}`] = [1, L.units];
    }
  });
  return { params, running };
}

/** Dropout's mask seed for hidden layer l (1-based): the step's own seed for the first. */
const layerSeed = (seed: number, l: number) => (l === 1 ? seed : (seed ^ Math.imul(l, 0x9e3779b1)) >>> 0);

export class Network implements ProbabilityModel {
  readonly params: Params;
  readonly grads: Params;
  /** Velocities of the parameters when training with momentum; Adam's first moments. */
  readonly velocity: Params | null;
  /** Adam's second moments. */
  readonly secondMoment: Params | null;
  /** Batch norm's running averages of the hidden layers' means and variances (mean1, var1, …), for evaluation. */
  readonly running: Params;
  /** The parameters in order: W1, b1 (or gamma1, beta1), W2, …, Wk, bk. */
  readonly paramNames: readonly ParamName[];
  /** Running averages: running = bnMomentum · running + (1 − bnMomentum) · batch statistics. */
  bnMomentum = 0.9;
  private readonly layers: Layer[];
  private readonly workspaces = new Map<number, Workspace>();

  constructor(readonly backend: KernelBackend, readonly shape: NetworkShape, readonly optimizer: Optimizer | null = null) {
    this.layers = layersOf(shape);
    const { params, running } = parameterShapes(shape);
    this.paramNames = Object.keys(params);
    const alloc = (shapes: Record<ParamName, [number, number]>) =>
      Object.fromEntries(Object.entries(shapes).map(([p, [r, c]]) => [p, backend.matrix(r, c)])) as Params;
    this.params = alloc(params);
    this.grads = alloc(params);
    this.velocity = optimizer ? alloc(params) : null;
    this.secondMoment = optimizer && isAdam(optimizer) ? alloc(params) : null;
    this.running = alloc(running);
  }

  /** Names of the running averages (mean1, var1, …): empty without batch norm. */
  get runningNames(): ParamName[] {
    return Object.keys(this.running);
  }

  /**
   * Weights ~ N(0, σ²) as `init` says (default xavier: W1 ~ N(0, 1/d), W2 ~ N(0, 1/m), …), drawn layer by layer;
   * biases and β 0, γ 1, running means 0 and variances 1.
   */
  async initialise(rng: Rng, init: InitScheme = 'xavier'): Promise<void> {
    const b = this.backend;
    const gaussian = (count: number, std: number) => Float64Array.from({ length: count }, () => rng.normal() * std);
    for (const L of this.layers) {
      const std = init === 'he' ? Math.sqrt(2 / L.inputs) : init === 'xavier' ? 1 / Math.sqrt(L.inputs) : init.std;
      await b.write(this.params[L.W], gaussian(L.units * L.inputs, std));
    }
    for (const L of this.layers) {
      for (const v of [L.b, L.beta]) if (v) await b.write(this.params[v], new Float64Array(L.units));
      if (L.gamma) await b.write(this.params[L.gamma], new Float64Array(L.units).fill(1));
    }
    for (const name of this.runningNames) {
      await b.write(this.running[name], new Float64Array(this.running[name].cols).fill(name.startsWith('var') ? 1 : 0));
    }
  }

  private workspace(n: number): Workspace {
    let ws = this.workspaces.get(n);
    if (!ws) {
      const b = this.backend;
      const hidden = this.layers.filter((L) => L.hidden).map((L): HiddenWork => {
        const S = b.matrix(n, L.units), norm = !!L.gamma;
        return {
          S, Shat: norm ? b.matrix(n, L.units) : null, H: norm ? b.matrix(n, L.units) : S, G: b.matrix(n, L.units),
          mean: norm ? b.matrix(1, L.units) : null, variance: norm ? b.matrix(1, L.units) : null,
        };
      });
      ws = { n, hidden, SP: b.matrix(n, this.shape.k), smooth: null, smoothValues: null };
      this.workspaces.set(n, ws);
    }
    return ws;
  }

  /**
   * H_l for every hidden layer (under `dropout`'s mask when given) and S = H_{k−1} W_kᵀ, for the n rows of X; b_k
   * and softmax follow in the loss op. `training`: batch norm takes the batch's statistics, else its running averages.
   */
  private async forward(X: Matrix, training: boolean, dropout?: DropoutStep): Promise<Workspace> {
    const b = this.backend, p = this.params;
    const ws = this.workspace(X.rows);
    let input = X;
    for (let i = 0; i < ws.hidden.length; i++) {
      const L = this.layers[i], w = ws.hidden[i];
      await b.gemm(input, false, p[L.W], true, w.S); // S_l = H_{l−1} W_lᵀ
      if (L.gamma) {
        const [mean, variance] = training ? [w.mean!, w.variance!] : [this.running[`mean${i + 1}`], this.running[`var${i + 1}`]];
        if (training) await b.batchStatistics(w.S, mean, variance);
        await b.batchNormalize(w.S, mean, variance, BATCH_NORM_EPS, w.Shat!);
        await b.affineRelu(w.Shat!, p[L.gamma], p[L.beta!], w.H);
      } else {
        await b.biasRelu(w.S, p[L.b!]);
      }
      if (dropout) await b.dropout(w.H, dropout.keep, layerSeed(dropout.seed, i + 1));
      input = w.H;
    }
    await b.gemm(input, false, p[this.layers.at(-1)!.W], true, ws.SP); // S = H_{k−1} W_kᵀ
    return ws;
  }

  private get outputBias(): Matrix {
    return this.params[this.layers.at(-1)!.b!];
  }

  /**
   * Loss sum and correct count of the first `count` rows of X (rows beyond are padding), as evaluation sees the
   * network (batch norm with its running averages). With `dropout`, the loss under that step's mask.
   */
  async evaluate(X: Matrix, labels: Labels, count = X.rows, dropout?: DropoutStep): Promise<BatchResult> {
    const ws = await this.forward(X, false, dropout);
    return this.backend.softmaxLoss(ws.SP, this.outputBias, labels, count);
  }

  /**
   * The loss a training step minimises on this batch: batch norm with the batch's statistics, under `dropout`'s
   * mask (the gradient check perturbs it).
   */
  async trainingLoss(X: Matrix, labels: Labels, dropout?: DropoutStep): Promise<BatchResult> {
    const ws = await this.forward(X, true, dropout);
    return this.backend.softmaxLoss(ws.SP, this.outputBias, labels, X.rows);
  }

  /**
   * P = softmax(S) for the rows of X, as evaluation sees the network (under `dropout`'s mask when given): a matrix
   * of this network's workspace, valid until its next pass.
   */
  async probabilities(X: Matrix, dropout?: DropoutStep): Promise<Matrix> {
    const ws = await this.forward(X, false, dropout);
    await this.backend.softmax(ws.SP, this.outputBias);
    return ws.SP;
  }

  /** The training probabilities (batch statistics, `dropout`'s mask), for the gradient check's smoothed loss. */
  async trainingProbabilities(X: Matrix, dropout?: DropoutStep): Promise<Matrix> {
    const ws = await this.forward(X, true, dropout);
    await this.backend.softmax(ws.SP, this.outputBias);
    return ws.SP;
  }

  /** Forward in training mode, loss, and G_k = P − Y (+ eps (Y − 1/k) with label smoothing) in ws.SP. */
  private async outputGradient(X: Matrix, labels: Labels, loss: LossOptions): Promise<{ ws: Workspace; result: BatchResult }> {
    const b = this.backend, { dropout, labelSmoothing: eps = 0 } = loss;
    const ws = await this.forward(X, true, dropout);
    const result = await b.softmaxLoss(ws.SP, this.outputBias, labels, X.rows);
    await b.softmaxGradient(ws.SP, this.outputBias, labels); // SP = G_k
    if (eps > 0) await b.scaleAdd(ws.SP, await this.smoothingTerm(ws, labels, eps), 1, 1);
    return { ws, result };
  }

  /**
   * The backward pass from G_k in ws.SP, layer by layer from the output: each layer's gradient goes to `apply`
   * once the next G has been taken from its weights (so `apply` may update them: plain SGD folds its step into the
   * products). `apply(L, G, input)`: G (n × units) is the gradient with respect to the layer's S, `input` its H_{l−1}.
   */
  private async backwardPass(X: Matrix, ws: Workspace, dropout: DropoutStep | undefined, apply: (L: Layer, G: Matrix, input: Matrix) => Promise<void>): Promise<void> {
    const b = this.backend, p = this.params, n = X.rows;
    let G = ws.SP;
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const L = this.layers[i], below = i > 0 ? ws.hidden[i - 1] : null;
      if (below) {
        const Lb = this.layers[i - 1];
        await b.gemm(G, false, p[L.W], false, below.G); // G_{l−1} = G_l W_l
        await b.reluBackward(below.G, below.H, dropout ? 1 / dropout.keep : 1);
        if (Lb.gamma) {
          await b.columnDots(below.G, below.Shat!, this.grads[Lb.gamma], 1 / n); // dγ
          await b.columnSums(below.G, this.grads[Lb.beta!], 1 / n); // dβ
          await b.scaleColumns(below.G, p[Lb.gamma]);
          await b.batchNormBackward(below.G, below.Shat!, below.variance!, BATCH_NORM_EPS);
        }
      }
      await apply(L, G, below ? below.H : X);
      if (below) G = below.G;
    }
  }

  /** eps (Y − 1/k) for these labels, in the workspace's matrix. */
  private async smoothingTerm(ws: Workspace, labels: Labels, eps: number): Promise<Matrix> {
    const k = this.shape.k;
    ws.smooth ??= this.backend.matrix(ws.n, k);
    ws.smoothValues ??= new Float64Array(ws.n * k);
    const v = ws.smoothValues;
    v.fill(-eps / k);
    for (let i = 0; i < ws.n; i++) v[i * k + labels[i]] = eps - eps / k;
    await this.backend.write(ws.smooth, v);
    return ws.smooth;
  }

  /**
   * Fills this.grads with the gradient of the mean cross-entropy (without the L2 term; under `loss`'s dropout mask
   * and label smoothing; batch norm with the batch's statistics) and returns the batch's loss.
   */
  async backward(X: Matrix, labels: Labels, loss: LossOptions = {}): Promise<BatchResult> {
    const b = this.backend, g = this.grads, n = X.rows;
    const { ws, result } = await this.outputGradient(X, labels, loss);
    await this.backwardPass(X, ws, loss.dropout, async (L, G, input) => {
      await b.gemm(G, true, input, false, g[L.W], 1 / n); // dW_l = G_lᵀ H_{l−1} / n
      if (L.b) await b.columnSums(G, g[L.b], 1 / n);
    });
    return result;
  }

  /**
   * One step of mini-batch gradient descent; returns the batch's loss before the step. Plain SGD folds the update
   * into the products: W ← (1 − 2 eta lambda) W − (eta / n) Gᵀ A is one gemm with beta, so no weight gradient is
   * ever stored (each G is computed from the weights above it before they change). Momentum keeps the gradients and
   * the velocities. Batch norm's running averages take this batch's statistics.
   */
  async trainStep(X: Matrix, labels: Labels, step: StepOptions): Promise<BatchResult> {
    const { eta, lambda } = step, b = this.backend;
    const o = this.optimizer;
    if (o) {
      const result = await this.backward(X, labels, step);
      if (isAdam(o) && !(step.t !== undefined && step.t >= 1)) throw new Error('trainStep: Adam needs the update number t (from 1)');
      for (const p of this.paramNames) {
        const [w, g, l] = [this.params[p], this.grads[p], p[0] === 'W' ? lambda : 0];
        if (isAdam(o)) await b.adamUpdate(w, g, eta, l, this.adamOf(p, o, step.t!));
        else await b.sgdUpdate(w, g, eta, l, { v: this.velocity![p], mu: o.mu, nesterov: o.nesterov });
      }
      await this.updateRunning(X.rows);
      return result;
    }
    const p = this.params, g = this.grads, n = X.rows, decay = 1 - 2 * eta * lambda;
    const { ws, result } = await this.outputGradient(X, labels, step);
    await this.backwardPass(X, ws, step.dropout, async (L, G, input) => {
      await b.gemm(G, true, input, false, p[L.W], -eta / n, decay); // W_l −= eta (G_lᵀ H_{l−1} / n + 2 lambda W_l)
      if (L.b) await b.columnSums(G, p[L.b], -eta / n, 1);
    });
    for (const L of this.layers) {
      for (const v of [L.gamma, L.beta]) if (v) await b.scaleAdd(p[v], g[v], -eta, 1);
    }
    await this.updateRunning(n);
    return result;
  }

  /** running = bnMomentum · running + (1 − bnMomentum) · the last training batch's statistics. */
  private async updateRunning(n: number): Promise<void> {
    const ws = this.workspace(n), a = this.bnMomentum;
    for (let i = 0; i < ws.hidden.length; i++) {
      const w = ws.hidden[i];
      if (!w.mean) continue;
      await this.backend.scaleAdd(this.running[`mean${i + 1}`], w.mean, 1 - a, a);
      await this.backend.scaleAdd(this.running[`var${i + 1}`], w.variance!, 1 - a, a);
    }
  }

  private adamOf(p: ParamName, o: Adam, t: number): AdamState {
    return { m: this.velocity![p], v: this.secondMoment![p], beta1: o.beta1, beta2: o.beta2, eps: o.eps, t, decoupled: o.decoupled };
  }

  /** lambda Σ_l ‖W_l‖²: add to the mean loss to get the cost J. */
  async penalty(lambda: number): Promise<number> {
    if (lambda === 0) return 0;
    let sum = 0;
    for (const L of this.layers) sum += await this.backend.sumSquares(this.params[L.W]);
    return lambda * sum;
  }

  /** ∂J/∂param after backward(): the data gradient plus 2 lambda W for the weights. */
  async regularisedGradient(name: ParamName, lambda: number): Promise<Float64Array> {
    const g = await this.backend.read(this.grads[name]);
    if (name[0] === 'W') {
      const w = await this.backend.read(this.params[name]);
      for (let i = 0; i < g.length; i++) g[i] += 2 * lambda * w[i];
    }
    return g;
  }

  /**
   * Values as float64 arrays, for checkpoints and tests: the parameters and batch norm's running averages (what
   * evaluation needs), or those of `which` (the velocities).
   */
  async snapshot(which: Params = this.params): Promise<ParamValues> {
    const out: ParamValues = {};
    const all = which === this.params ? { ...this.params, ...this.running } : which;
    for (const p of Object.keys(all)) out[p] = await this.backend.read(all[p]);
    return out;
  }

  /** Restores a snapshot: every parameter and running average (or every entry of `which`) must be in `values`. */
  async restore(values: Record<ParamName, ArrayLike<number>>, which: Params = this.params): Promise<void> {
    const all = which === this.params ? { ...this.params, ...this.running } : which;
    for (const p of Object.keys(all)) {
      if (!values[p]) throw new Error(`restore: no values for ${p}`);
      await this.backend.write(all[p], values[p]);
    }
  }
}

/**
 * The two-layer network of SPEC.md, written against the kernel interface.
 * Samples are rows: X is n × d, W1 m × d, W2 k × m, biases are row vectors.
 *
 *   forward:  S1 = X W1ᵀ + b1 (n×m)   H = max(0, S1) [⊙ mask / keep]   S = H W2ᵀ + b2 (n×k)   P = softmax(S)
 *   backward: G2 = P − Y [+ eps (Y − 1/k)] (n×k)   dW2 = G2ᵀ H / n   db2 = Σ_rows G2 / n
 *             G1 = (G2 W2) ⊙ 1[H > 0] [/ keep] (n×m)    dW1 = G1ᵀ X / n   db1 = Σ_rows G1 / n
 *   update:   W −= eta (dW + 2 lambda W);  b −= eta db           (or with momentum, see KernelBackend.sgdUpdate)
 *
 * One forward pass serves training, evaluation and prediction. Dropout's mask zeroes units of H, so the ReLU mask
 * 1[H > 0] of the backward pass also drops them; the kept units carry the factor 1 / keep both ways.
 */
import type { KernelBackend, Labels, LossSums, Matrix, MomentumState } from '../kernels/backend.js';
import { Rng } from '../util/rng.js';

export interface NetworkShape {
  d: number; // input dimension (3072)
  m: number; // hidden units
  k: number; // classes
}

export const PARAM_NAMES = ['W1', 'b1', 'W2', 'b2'] as const;
export type ParamName = (typeof PARAM_NAMES)[number];
export type Params = Record<ParamName, Matrix>;
export type ParamValues = Record<ParamName, Float64Array>;

/** Inverted dropout on the hidden layer for one step: keep probability and the step's mask seed. */
export interface DropoutStep {
  keep: number;
  seed: number;
}

export interface Momentum {
  mu: number;
  nesterov: boolean;
}

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
}

/** Activations and gradients for a batch of n rows, allocated once per batch size. */
interface Workspace {
  n: number;
  S1H: Matrix; // n×m: S1, then H = relu(S1 + b1) in place
  SP: Matrix; // n×k: S, then P, then G2 = P − Y in place
  G1: Matrix; // n×m
  smooth: Matrix | null; // n×k: eps (Y − 1/k) of label smoothing, written per batch
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

export class Network implements ProbabilityModel {
  readonly params: Params;
  readonly grads: Params;
  /** Velocities of the parameters when training with momentum. */
  readonly velocity: Params | null;
  private readonly workspaces = new Map<number, Workspace>();

  constructor(readonly backend: KernelBackend, readonly shape: NetworkShape, readonly momentum: Momentum | null = null) {
    const alloc = () => {
      const { d, m, k } = shape, b = backend;
      return { W1: b.matrix(m, d), b1: b.matrix(1, m), W2: b.matrix(k, m), b2: b.matrix(1, k) };
    };
    this.params = alloc();
    this.grads = alloc();
    this.velocity = momentum ? alloc() : null;
  }

  /** W1 ~ N(0, 1/√d), W2 ~ N(0, 1/√m) (standard deviations), biases 0. */
  async initialise(rng: Rng): Promise<void> {
    const { d, m, k } = this.shape;
    const gaussian = (count: number, std: number) => Float64Array.from({ length: count }, () => rng.normal() * std);
    await this.backend.write(this.params.W1, gaussian(m * d, 1 / Math.sqrt(d)));
    await this.backend.write(this.params.W2, gaussian(k * m, 1 / Math.sqrt(m)));
    await this.backend.write(this.params.b1, new Float64Array(m));
    await this.backend.write(this.params.b2, new Float64Array(k));
  }

  private workspace(n: number): Workspace {
    let ws = this.workspaces.get(n);
    if (!ws) {
      const { m, k } = this.shape;
      ws = { n, S1H: this.backend.matrix(n, m), SP: this.backend.matrix(n, k), G1: this.backend.matrix(n, m), smooth: null, smoothValues: null };
      this.workspaces.set(n, ws);
    }
    return ws;
  }

  /** H = relu(X W1ᵀ + b1) (dropped out when training) and S = H W2ᵀ, for the n rows of X; b2 and softmax follow in the loss op. */
  private async forward(X: Matrix, dropout?: DropoutStep): Promise<Workspace> {
    const b = this.backend, { W1, b1, W2 } = this.params;
    const ws = this.workspace(X.rows);
    await b.gemm(X, false, W1, true, ws.S1H); // S1 = X W1ᵀ
    await b.biasRelu(ws.S1H, b1); // H
    if (dropout) await b.dropout(ws.S1H, dropout.keep, dropout.seed);
    await b.gemm(ws.S1H, false, W2, true, ws.SP); // S = H W2ᵀ
    return ws;
  }

  /**
   * Loss sum and correct count of the first `count` rows of X (rows beyond are padding). With `dropout`, the loss of
   * the network under that step's mask (what trainStep minimises; the gradient check perturbs it).
   */
  async evaluate(X: Matrix, labels: Labels, count = X.rows, dropout?: DropoutStep): Promise<BatchResult> {
    const ws = await this.forward(X, dropout);
    return this.backend.softmaxLoss(ws.SP, this.params.b2, labels, count);
  }

  /** P = softmax(S) for the rows of X (under `dropout`'s mask when given): a matrix of this network's workspace, valid until its next pass. */
  async probabilities(X: Matrix, dropout?: DropoutStep): Promise<Matrix> {
    const ws = await this.forward(X, dropout);
    await this.backend.softmax(ws.SP, this.params.b2);
    return ws.SP;
  }

  /**
   * Forward, loss, G2 = P − Y (+ eps (Y − 1/k) with label smoothing) and G1 = (G2 W2) ⊙ 1[H > 0] / keep: what both
   * backward() and trainStep() need.
   */
  private async backpropagate(X: Matrix, labels: Labels, loss: LossOptions): Promise<{ ws: Workspace; result: BatchResult }> {
    const b = this.backend, { dropout, labelSmoothing: eps = 0 } = loss;
    const ws = await this.forward(X, dropout);
    const result = await b.softmaxLoss(ws.SP, this.params.b2, labels, X.rows);
    await b.softmaxGradient(ws.SP, this.params.b2, labels); // SP = G2
    if (eps > 0) await b.scaleAdd(ws.SP, await this.smoothingTerm(ws, labels, eps), 1, 1);
    await b.gemm(ws.SP, false, this.params.W2, false, ws.G1); // G1 = G2 W2
    await b.reluBackward(ws.G1, ws.S1H, dropout ? 1 / dropout.keep : 1);
    return { ws, result };
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
   * and label smoothing) and returns the batch's loss.
   */
  async backward(X: Matrix, labels: Labels, loss: LossOptions = {}): Promise<BatchResult> {
    const b = this.backend, g = this.grads, n = X.rows;
    const { ws, result } = await this.backpropagate(X, labels, loss);
    await b.gemm(ws.SP, true, ws.S1H, false, g.W2, 1 / n); // dW2 = G2ᵀ H / n
    await b.columnSums(ws.SP, g.b2, 1 / n);
    await b.gemm(ws.G1, true, X, false, g.W1, 1 / n); // dW1 = G1ᵀ X / n
    await b.columnSums(ws.G1, g.b1, 1 / n);
    return result;
  }

  /**
   * One step of mini-batch gradient descent; returns the batch's loss before the step. Plain SGD folds the update
   * into the products: W ← (1 − 2 eta lambda) W − (eta / n) Gᵀ A is one gemm with beta, so no gradient of W1 is
   * ever stored (G1 is computed from W2 before W2 changes). Momentum keeps the gradients and the velocities.
   */
  async trainStep(X: Matrix, labels: Labels, step: StepOptions): Promise<BatchResult> {
    const { eta, lambda } = step;
    if (this.momentum) {
      const result = await this.backward(X, labels, step);
      for (const p of PARAM_NAMES) await this.backend.sgdUpdate(this.params[p], this.grads[p], eta, p[0] === 'W' ? lambda : 0, this.momentumOf(p));
      return result;
    }
    const b = this.backend, p = this.params, n = X.rows, decay = 1 - 2 * eta * lambda;
    const { ws, result } = await this.backpropagate(X, labels, step);
    await b.gemm(ws.SP, true, ws.S1H, false, p.W2, -eta / n, decay); // W2 −= eta (G2ᵀ H / n + 2 lambda W2)
    await b.columnSums(ws.SP, p.b2, -eta / n, 1);
    await b.gemm(ws.G1, true, X, false, p.W1, -eta / n, decay); // W1 −= eta (G1ᵀ X / n + 2 lambda W1)
    await b.columnSums(ws.G1, p.b1, -eta / n, 1);
    return result;
  }

  private momentumOf(p: ParamName): MomentumState {
    return { v: this.velocity![p], mu: this.momentum!.mu, nesterov: this.momentum!.nesterov };
  }

  /** lambda (‖W1‖² + ‖W2‖²): add to the mean loss to get the cost J. */
  async penalty(lambda: number): Promise<number> {
    if (lambda === 0) return 0;
    const b = this.backend;
    return lambda * ((await b.sumSquares(this.params.W1)) + (await b.sumSquares(this.params.W2)));
  }

  /** ∂J/∂param after backward(): the data gradient plus 2 lambda W for the weights. */
  async regularisedGradient(name: ParamName, lambda: number): Promise<Float64Array> {
    const g = await this.backend.read(this.grads[name]);
    if (name === 'W1' || name === 'W2') {
      const w = await this.backend.read(this.params[name]);
      for (let i = 0; i < g.length; i++) g[i] += 2 * lambda * w[i];
    }
    return g;
  }

  /** Parameter values as float64 arrays, for checkpoints and tests. */
  async snapshot(which: Params = this.params): Promise<ParamValues> {
    const out = {} as ParamValues;
    for (const p of PARAM_NAMES) out[p] = await this.backend.read(which[p]);
    return out;
  }

  async restore(values: Record<ParamName, ArrayLike<number>>, which: Params = this.params): Promise<void> {
    for (const p of PARAM_NAMES) await this.backend.write(which[p], values[p]);
  }
}

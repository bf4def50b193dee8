/**
 * The two-layer network of SPEC.md, written against the kernel interface.
 * Samples are rows: X is n × d, W1 m × d, W2 k × m, biases are row vectors.
 *
 *   forward:  S1 = X W1ᵀ + b1 (n×m)   H = max(0, S1)   S = H W2ᵀ + b2 (n×k)   P = softmax(S)
 *   backward: G2 = P − Y (n×k)        dW2 = G2ᵀ H / n   db2 = Σ_rows G2 / n
 *             G1 = (G2 W2) ⊙ 1[H > 0] (n×m)             dW1 = G1ᵀ X / n   db1 = Σ_rows G1 / n
 *   update:   W −= eta (dW + 2 lambda W);  b −= eta db
 */
import type { KernelBackend, Labels, Matrix } from '../kernels/backend.js';
import { Rng } from '../util/rng.js';

export interface NetworkShape {
  d: number; // input dimension (3072)
  m: number; // hidden units
  k: number; // classes
}

export const PARAM_NAMES = ['W1', 'b1', 'W2', 'b2'] as const;
export type ParamName = (typeof PARAM_NAMES)[number];
export type Params = Record<ParamName, Matrix>;

/** Activations and gradients for a batch of n rows, allocated once per batch size. */
interface Workspace {
  n: number;
  S1H: Matrix; // n×m: S1, then H = relu(S1) in place
  SP: Matrix; // n×k: S, then P, then G2 = P − Y in place
  G1: Matrix; // n×m
}

export interface BatchResult {
  lossSum: number; // Σ −log p_y over the batch
  correct: number;
}

export class Network {
  readonly params: Params;
  readonly grads: Params;
  private readonly workspaces = new Map<number, Workspace>();

  constructor(readonly backend: KernelBackend, readonly shape: NetworkShape) {
    const { d, m, k } = shape;
    const b = backend;
    this.params = { W1: b.matrix(m, d), b1: b.matrix(1, m), W2: b.matrix(k, m), b2: b.matrix(1, k) };
    this.grads = { W1: b.matrix(m, d), b1: b.matrix(1, m), W2: b.matrix(k, m), b2: b.matrix(1, k) };
  }

  /** W1 ~ N(0, 1/√d), W2 ~ N(0, 1/√m) (standard deviations), biases 0. */
  initialise(rng: Rng): void {
    const { d, m, k } = this.shape;
    const gaussian = (count: number, std: number) => Float64Array.from({ length: count }, () => rng.normal() * std);
    this.backend.write(this.params.W1, gaussian(m * d, 1 / Math.sqrt(d)));
    this.backend.write(this.params.W2, gaussian(k * m, 1 / Math.sqrt(m)));
    this.backend.write(this.params.b1, new Float64Array(m));
    this.backend.write(this.params.b2, new Float64Array(k));
  }

  private workspace(n: number): Workspace {
    let ws = this.workspaces.get(n);
    if (!ws) {
      const { m, k } = this.shape;
      ws = { n, S1H: this.backend.matrix(n, m), SP: this.backend.matrix(n, k), G1: this.backend.matrix(n, m) };
      this.workspaces.set(n, ws);
    }
    return ws;
  }

  /** P = softmax(W2 relu(W1 x + b1) + b2) for the n rows of X; returns the workspace holding H and P. */
  private async forward(X: Matrix): Promise<Workspace> {
    const b = this.backend, { W1, b1, W2, b2 } = this.params;
    const ws = this.workspace(X.rows);
    await b.gemm(X, false, W1, true, ws.S1H); // S1 = X W1ᵀ
    await b.addRowVector(ws.S1H, b1);
    await b.relu(ws.S1H, ws.S1H); // H
    await b.gemm(ws.S1H, false, W2, true, ws.SP); // S = H W2ᵀ
    await b.addRowVector(ws.SP, b2);
    await b.softmaxRows(ws.SP, ws.SP); // P
    return ws;
  }

  /** Loss sum and correct count of the first `count` rows of X (rows beyond are padding). */
  async evaluate(X: Matrix, labels: Labels, count = X.rows): Promise<BatchResult> {
    const ws = await this.forward(X);
    return this.backend.crossEntropy(ws.SP, labels, count);
  }

  /** Fills this.grads with the gradient of the mean cross-entropy (without the L2 term) and returns the batch's loss. */
  async backward(X: Matrix, labels: Labels): Promise<BatchResult> {
    const b = this.backend, { W2 } = this.params, g = this.grads;
    const ws = await this.forward(X);
    const n = X.rows;
    const result = await b.crossEntropy(ws.SP, labels);
    await b.subtractOneHot(ws.SP, labels); // G2 = P − Y
    await b.gemm(ws.SP, true, ws.S1H, false, g.W2, 1 / n); // dW2 = G2ᵀ H / n
    await b.columnSums(ws.SP, g.b2, 1 / n);
    await b.gemm(ws.SP, false, W2, false, ws.G1); // G1 = G2 W2
    await b.reluBackward(ws.G1, ws.S1H); // ⊙ 1[H > 0]
    await b.gemm(ws.G1, true, X, false, g.W1, 1 / n); // dW1 = G1ᵀ X / n
    await b.columnSums(ws.G1, g.b1, 1 / n);
    return result;
  }

  /** One step of mini-batch gradient descent with L2 strength lambda; returns the batch's loss before the step. */
  async trainStep(X: Matrix, labels: Labels, eta: number, lambda: number): Promise<BatchResult> {
    const result = await this.backward(X, labels);
    const b = this.backend, p = this.params, g = this.grads;
    await b.sgdUpdate(p.W1, g.W1, eta, lambda);
    await b.sgdUpdate(p.b1, g.b1, eta, 0);
    await b.sgdUpdate(p.W2, g.W2, eta, lambda);
    await b.sgdUpdate(p.b2, g.b2, eta, 0);
    return result;
  }

  /** lambda (‖W1‖² + ‖W2‖²): add to the mean loss to get the cost J. */
  async penalty(lambda: number): Promise<number> {
    if (lambda === 0) return 0;
    const b = this.backend;
    return lambda * ((await b.sumSquares(this.params.W1)) + (await b.sumSquares(this.params.W2)));
  }

  /** ∂J/∂param after backward(): the data gradient plus 2 lambda W for the weights. */
  regularisedGradient(name: ParamName, lambda: number): Float64Array {
    const g = this.backend.read(this.grads[name]);
    if (name === 'W1' || name === 'W2') {
      const w = this.backend.read(this.params[name]);
      for (let i = 0; i < g.length; i++) g[i] += 2 * lambda * w[i];
    }
    return g;
  }

  /** Parameter values as float64 arrays, for checkpoints and tests. */
  snapshot(): Record<ParamName, Float64Array> {
    return Object.fromEntries(PARAM_NAMES.map((p) => [p, this.backend.read(this.params[p])])) as Record<ParamName, Float64Array>;
  }

  restore(values: Record<ParamName, ArrayLike<number>>): void {
    for (const p of PARAM_NAMES) this.backend.write(this.params[p], values[p]);
  }
}

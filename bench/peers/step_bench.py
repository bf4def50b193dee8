#!/usr/bin/python3
"""The numpy peer of `npm run bench`: the same two-layer network (d=3072 inputs, m hidden ReLU units, k=10 softmax
outputs, cross-entropy + lambda (|W1|^2 + |W2|^2), plain mini-batch gradient descent) written in numpy, timed the way
bench/bench.ts times ours.

For each dtype (float32, float64) it prints one line per figure, `peer=NAME samples_per_s=N`:
  numpy-f32, numpy-f64      update steps (forward, backward, update) over a few prepared random batches, cycled
                            (as the bench's bare steps); samples/s of the best of --repeat epochs of --steps steps
  numpy-f32-products        the same steps' five matrix products alone, nothing else (the step's floor on this BLAS)
  numpy-f32-eval            forward-only evaluation (scores, argmax) at batch --eval-batch (default 1000)
and, with --peak, `gemm=SHAPE gflops=G` for float32 products at the step's shape (batch x 3072 times (m x 3072)^T)
and at 2000^3. numpy runs on the BLAS it was built against, with that BLAS's own thread count.

  /usr/bin/python3 bench/peers/step_bench.py --m 1000 --batch 100 [--steps 490] [--repeat 3] [--peak] [--f32-only]
"""
import argparse
import time

import numpy as np

D, K, LAMBDA, ETA = 3072, 10, 1.5e-3, 0.05


def parse():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--m', type=int, default=50, help='hidden units')
    p.add_argument('--batch', type=int, default=100)
    p.add_argument('--steps', type=int, default=490, help='steps per timed epoch (490: 49,000 samples at batch 100)')
    p.add_argument('--repeat', type=int, default=3, help='timed epochs; the best is reported')
    p.add_argument('--eval-batch', type=int, default=1000)
    p.add_argument('--peak', action='store_true', help='also sgemm GFLOP/s at the step shape and at 2000^3')
    p.add_argument('--f32-only', action='store_true', help='skip the float64 step')
    p.add_argument('--no-torch', action='store_true', help='accepted for compatibility: this peer never uses PyTorch')
    return p.parse_args()


class Net:
    def __init__(self, m, dtype, rng):
        self.W1 = (rng.standard_normal((m, D)) / np.sqrt(D)).astype(dtype)
        self.b1 = np.zeros(m, dtype)
        self.W2 = (rng.standard_normal((K, m)) / np.sqrt(m)).astype(dtype)
        self.b2 = np.zeros(K, dtype)

    def scores(self, X):
        H = X @ self.W1.T
        H += self.b1
        np.maximum(H, 0, out=H)
        S = H @ self.W2.T
        S += self.b2
        return H, S

    def step(self, X, Y):
        """One update step on batch X (n x D) with one-hot labels Y (n x K)."""
        n = X.shape[0]
        H, S = self.scores(X)
        S -= S.max(axis=1, keepdims=True)
        np.exp(S, out=S)
        S /= S.sum(axis=1, keepdims=True)
        G = S  # dL/dS = (P - Y) / n
        G -= Y
        G *= 1.0 / n
        dW2 = G.T @ H
        db2 = G.sum(axis=0)
        G1 = G @ self.W2
        G1 *= H > 0
        dW1 = G1.T @ X
        db1 = G1.sum(axis=0)
        decay = 1 - 2 * ETA * LAMBDA
        self.W1 *= decay
        self.W1 -= ETA * dW1
        self.W2 *= decay
        self.W2 -= ETA * dW2
        self.b1 -= ETA * db1
        self.b2 -= ETA * db2


def batches(n, dtype, rng, count=8):
    out = []
    for _ in range(count):
        X = rng.standard_normal((n, D)).astype(dtype)
        Y = np.zeros((n, K), dtype)
        Y[np.arange(n), rng.integers(0, K, n)] = 1
        out.append((X, Y))
    return out


def best_rate(run, samples, repeat):
    run(max(1, samples // 50))  # warm-up: the BLAS's threads, page faults
    best = 0.0
    for _ in range(repeat):
        t = time.perf_counter()
        run(samples)
        best = max(best, samples / (time.perf_counter() - t))
    return best


def report(name, rate):
    print(f'peer={name} samples_per_s={rate:.1f}', flush=True)


def main():
    a = parse()
    rng = np.random.default_rng(1)
    n, steps = a.batch, a.steps
    for dtype, tag in ((np.float32, 'f32'), (np.float64, 'f64')):
        if tag == 'f64' and a.f32_only:
            continue
        net, data = Net(a.m, dtype, rng), batches(n, dtype, rng)

        def train(samples):
            for s in range(samples // n):
                net.step(*data[s % len(data)])
        report(f'numpy-{tag}', best_rate(train, steps * n, a.repeat))
        if tag != 'f32':
            continue

        X, Y = data[0]
        H, S = net.scores(X)
        G, G1 = (S - Y).astype(dtype), np.ones((n, a.m), dtype)

        def products(samples):
            for _ in range(samples // n):
                X @ net.W1.T, H @ net.W2.T, G.T @ H, G @ net.W2, G1.T @ X
        report('numpy-f32-products', best_rate(products, steps * n, a.repeat))

        E = rng.standard_normal((a.eval_batch, D)).astype(dtype)

        def evaluate(samples):
            for _ in range(max(1, samples // a.eval_batch)):
                net.scores(E)[1].argmax(axis=1)
        report('numpy-f32-eval', best_rate(evaluate, 10 * a.eval_batch, a.repeat))

    if a.peak:
        for label, (p, q, r) in ((f'{n}x{D}x{a.m}', (n, D, a.m)), ('2000x2000x2000', (2000, 2000, 2000))):
            A = rng.standard_normal((p, q)).astype(np.float32)
            B = rng.standard_normal((r, q)).astype(np.float32)
            reps = max(3, int(2e9 / (2 * p * q * r)))
            A @ B.T
            t = time.perf_counter()
            for _ in range(reps):
                A @ B.T
            print(f'gemm={label} gflops={2 * p * q * r * reps / (time.perf_counter() - t) / 1e9:.1f}', flush=True)


if __name__ == '__main__':
    main()

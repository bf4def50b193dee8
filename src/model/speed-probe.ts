/**
 * The speed probe of `auto` (kernels/select.ts): how long a training step of the run's network takes on a backend,
 * at the run's shapes, so that a GPU is chosen only where it trains faster than the CPU pick.
 */
import type { KernelBackend } from '../kernels/backend.js';
import { selectBackend, type BackendName, type Selection, type StepShape } from '../kernels/select.js';
import { UsageError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { Network } from './network.js';

const probeCache = new Map<string, number>();

/** Median milliseconds per training step (random data, dropout off) after warm-up; cached per process. */
export async function stepMillis(backend: KernelBackend, shape: StepShape): Promise<number> {
  const key = `${backend.name}:${backend.threads}:${shape.n}:${shape.d}:${(shape.hidden ?? [shape.m]).join('-')}:${shape.k}:${!!shape.batchNorm}`;
  const cached = probeCache.get(key);
  if (cached !== undefined) return cached;
  const rng = new Rng(1);
  const net = new Network(backend, shape);
  await net.initialise(rng);
  const X = backend.matrix(shape.n, shape.d);
  await backend.write(X, Float64Array.from({ length: shape.n * shape.d }, () => rng.normal()));
  const labels = Uint8Array.from({ length: shape.n }, () => rng.int(0, shape.k - 1));
  const step = () => net.trainStep(X, labels, { eta: 1e-3, lambda: 1e-3 });
  for (let i = 0; i < 2; i++) await step(); // kernel builds, JIT
  const times: number[] = [];
  const started = performance.now();
  while (times.length < 3 || (times.length < 20 && performance.now() - started < 300)) {
    const t = performance.now();
    await step();
    times.push(performance.now() - t);
  }
  backend.releaseAll();
  times.sort((a, b) => a - b);
  const ms = times[times.length >> 1];
  probeCache.set(key, ms);
  return ms;
}


/** A backend for training at `shape` (auto timed with the speed probe above). */
export function selectTrainingBackend(name: BackendName, threads: number, shape?: StepShape): Promise<Selection> {
  return selectBackend(name, threads, { ...(shape ? { shape } : {}), environment: { stepMillis } });
}

/** selectTrainingBackend, or a one-line UsageError naming the backend when it does not load here. */
export async function selectBackendOrExplain(name: BackendName, threads: number, shape?: StepShape): Promise<Selection> {
  try {
    return await selectTrainingBackend(name, threads, shape);
  } catch (e) {
    throw new UsageError(`kernels.backend: ${(e as Error).message.split('\n')[0]}`);
  }
}

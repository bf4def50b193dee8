/**
 * Normalize stage: gathers a mini-batch's uint8 records into the backend's input matrix, scaled to
 * [0, 1] and standardised with the training split's statistics (the records transformed first when the augment stage
 * augments the batch). The matrix is reused every step.
 * A backend that can gather off the calling thread (gatherNormalizedAhead) assembles the next step's batch
 * (BatchPlan.next; transformed by the next step's transforms when augmenting) into a second matrix while the current
 * one trains; the two matrices take turns.
 */
import { concatMap, type OperatorFunction } from 'rxjs';
import type { KernelBackend, Matrix, MaybePromise } from '../kernels/backend.js';
import type { Dataset } from '../data/cifar.js';
import type { Normalization } from '../data/normalization.js';
import type { Batch, BatchPlan } from './types.js';

export function normalize(backend: KernelBackend, data: Dataset, norm: Normalization, X: Matrix): OperatorFunction<BatchPlan, Batch> {
  const labels = new Uint8Array(X.rows);
  const inOrder = Int32Array.from({ length: X.rows }, (_, i) => i);
  const ahead = backend.gatherNormalizedAhead?.bind(backend);
  const buffers = ahead ? [X, backend.matrix(X.rows, X.cols)] : [X];
  let pending: { step: number; X: Matrix; wait: () => MaybePromise<void> } | null = null;
  return concatMap(async (plan) => {
    let x: Matrix | null = null;
    if (pending) {
      await pending.wait();
      if (pending.step === plan.step) x = pending.X;
      pending = null;
    }
    if (!x) {
      x = buffers[0]; // not gathered ahead: the first step, or a backend without the capability
      if (plan.augment) await backend.gatherNormalized(plan.augment.images(), inOrder, plan.rows.length, norm.mean, norm.invStd, x);
      else await backend.gatherNormalized(data.pixels, plan.rows, plan.rows.length, norm.mean, norm.invStd, x);
    }
    for (let i = 0; i < plan.rows.length; i++) labels[i] = data.labels[plan.rows[i]];
    const { next, augment } = plan;
    if (ahead && next && (!augment || augment.next)) {
      const other = x === buffers[0] ? buffers[1] : buffers[0];
      const transforms = augment?.next ? { codes: augment.next, fill: augment.fill } : undefined;
      pending = { step: plan.step + 1, X: other, wait: ahead(data.pixels, next, next.length, norm.mean, norm.invStd, other, transforms) };
    }
    return { ...plan, X: x, labels };
  });
}

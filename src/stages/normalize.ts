/**
 * Normalize stage: gathers a mini-batch's uint8 records into the backend's input matrix, scaled to
 * [0, 1] and standardised with the training split's statistics (from the augmented images when the augment stage
 * made them). The matrix is reused every step.
 */
import { concatMap, type OperatorFunction } from 'rxjs';
import type { KernelBackend, Matrix } from '../kernels/backend.js';
import type { Dataset } from '../data/cifar.js';
import type { Normalization } from '../data/normalization.js';
import type { Batch, BatchPlan } from './types.js';

export function normalize(backend: KernelBackend, data: Dataset, norm: Normalization, X: Matrix): OperatorFunction<BatchPlan, Batch> {
  const labels = new Uint8Array(X.rows);
  const inOrder = Int32Array.from({ length: X.rows }, (_, i) => i);
  return concatMap(async (plan) => {
    if (plan.images) await backend.gatherNormalized(plan.images, inOrder, plan.rows.length, norm.mean, norm.invStd, X);
    else await backend.gatherNormalized(data.pixels, plan.rows, plan.rows.length, norm.mean, norm.invStd, X);
    for (let i = 0; i < plan.rows.length; i++) labels[i] = data.labels[plan.rows[i]];
    return { ...plan, X, labels };
  });
}

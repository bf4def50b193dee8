/** What flows between the training stages, one value per update step. */
import type { Matrix } from '../kernels/backend.js';
import type { StepMetrics } from '../formats/metrics-csv.js';

/** Which training records make up the mini-batch of one update step. */
export interface BatchPlan {
  step: number; // 0-based index of this update
  epoch: number; // 0-based
  rows: Int32Array; // record indices into the training split
  /** The batch's augmentation (the augment stage): normalize gathers the transformed records instead of the records `rows` name. */
  augment?: AugmentedRows;
  next?: Int32Array; // those of the step after this one (the normalize stage may gather it ahead)
}

/** The transforms of an augmented batch and of the next one, and the transformed images, made when asked for. */
export interface AugmentedRows {
  /** One packed transform (image-transform.ts packTransform) per row of the batch. */
  codes: Int32Array;
  /** Those of the next step's rows (BatchPlan.next). */
  next?: Int32Array;
  /** The padding image. */
  fill: Uint8Array;
  /** The batch's transformed images (uint8, row r at r · 3072), made on this thread on the first call. */
  images(): Uint8Array;
}

export interface Batch extends BatchPlan {
  X: Matrix; // n × d, normalised
  labels: Uint8Array; // n
}

export interface StepResult {
  step: number; // updates done after this one (1-based)
  epoch: number; // fractional epochs done
  eta: number;
  batchLoss: number; // mean cross-entropy of the batch before the update
}


export interface EvaluatedStep extends StepResult {
  metrics?: StepMetrics;
}

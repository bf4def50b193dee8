/** What flows between the training stages, one value per update step. */
import type { Matrix } from '../kernels/backend.js';
import type { StepMetrics } from '../formats/metrics-csv.js';

/** Which training records make up the mini-batch of one update step. */
export interface BatchPlan {
  step: number; // 0-based index of this update
  epoch: number; // 0-based
  rows: Int32Array; // record indices into the training split
  /** The batch's images when augmented (uint8, record r at r · 3072): normalize reads these instead of the records `rows` name. */
  images?: Uint8Array;
  next?: Int32Array; // those of the step after this one (the normalize stage may gather it ahead)
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

/** A model's loss, cost (loss + the L2 penalty) and accuracy on a split of the data. */
export interface SplitMetrics {
  loss: number;
  cost: number;
  accuracy: number;
}

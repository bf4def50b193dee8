/** Per-dimension mean and standard deviation of a split's pixels scaled to [0, 1]. */
import { PIXELS, type Dataset } from './cifar.js';

export interface Normalization {
  mean: Float32Array; // 3072
  invStd: Float32Array; // 1 / std (1 where std is 0)
}

export function computeNormalization(ds: Dataset): Normalization {
  const sum = new Float64Array(PIXELS), sq = new Float64Array(PIXELS);
  const { pixels, count } = ds;
  for (let i = 0; i < count; i++) {
    const o = i * PIXELS;
    for (let k = 0; k < PIXELS; k++) {
      const v = pixels[o + k];
      sum[k] += v;
      sq[k] += v * v;
    }
  }
  const mean = new Float32Array(PIXELS), invStd = new Float32Array(PIXELS);
  for (let k = 0; k < PIXELS; k++) {
    const mu = sum[k] / count;
    const variance = Math.max(0, sq[k] / count - mu * mu);
    mean[k] = mu / 255;
    const std = Math.sqrt(variance) / 255;
    invStd[k] = std > 1e-12 ? 1 / std : 1;
  }
  return { mean, invStd };
}

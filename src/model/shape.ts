/** A config's model section (config/train-schema.ts) as the network it describes: its shape and initialisation. */
import { CLASSES, PIXELS } from '../data/cifar.js';
import { BATCH_NORM_OPS, type KernelBackend } from '../kernels/backend.js';
import type { StepShape } from '../kernels/select.js';
import { networkShape, type InitScheme, type NetworkShape, type Optimizer } from './network.js';

/** The fields of a model section that describe the network. */
export interface ModelSection {
  hidden: number;
  layers?: readonly number[];
  batchNorm?: boolean;
  init?: InitScheme;
}

/** The hidden widths a model section asks for: `layers`, else [hidden]. */
export const configuredWidths = (model: ModelSection): readonly number[] => model.layers ?? [model.hidden];

/** The network a model section describes, on d inputs (default all pixels). */
export function configuredShape(model: ModelSection, d = PIXELS): NetworkShape {
  return networkShape(d, configuredWidths(model), CLASSES, model.batchNorm ?? false);
}

export const configuredInit = (model: ModelSection): InitScheme => model.init ?? 'xavier';

/** A training step's shapes for backend selection: batch rows, the first hidden layer, and the ops batch norm and Adam need. */
export function stepShapeOf(train: { batchSize: number; optimizer?: OptimizerSection['optimizer'] }, model: ModelSection): StepShape {
  const needs: (keyof KernelBackend)[] = [...(model.batchNorm ? BATCH_NORM_OPS : []), ...(train.optimizer === 'adamw' ? ['adamUpdate' as const] : [])];
  return { n: train.batchSize, d: PIXELS, m: configuredWidths(model)[0], k: CLASSES, ...(needs.length ? { needs } : {}) };
}

/** The fields of a train section that choose the optimiser. */
export interface OptimizerSection {
  momentum: number;
  nesterov: boolean;
  optimizer?: 'sgd' | 'momentum' | 'adamw';
  beta1?: number;
  beta2?: number;
  weightDecay?: 'l2' | 'decoupled';
}

/** Adam's eps: added to √v̂ in the step's denominator. */
export const ADAM_EPS = 1e-8;

/** The optimiser a train section asks for: null for plain SGD (folded into the products). */
export function configuredOptimizer(train: OptimizerSection): Optimizer | null {
  const kind = train.optimizer ?? (train.momentum > 0 ? 'momentum' : 'sgd');
  if (kind === 'sgd') return null;
  if (kind === 'momentum') return { mu: train.momentum, nesterov: train.nesterov };
  return { beta1: train.beta1 ?? 0.9, beta2: train.beta2 ?? 0.999, eps: ADAM_EPS, decoupled: (train.weightDecay ?? 'decoupled') === 'decoupled' };
}

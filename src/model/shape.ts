/** A config's model section (config/train-schema.ts) as the network it describes: its shape and initialisation. */
import { CLASSES, PIXELS } from '../data/cifar.js';
import { BATCH_NORM_OPS } from '../kernels/backend.js';
import type { StepShape } from '../kernels/select.js';
import { networkShape, type InitScheme, type NetworkShape } from './network.js';

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

/** A training step's shapes for backend selection: batch rows, the first hidden layer, and the ops batch norm needs. */
export function stepShapeOf(batchSize: number, model: ModelSection): StepShape {
  return { n: batchSize, d: PIXELS, m: configuredWidths(model)[0], k: CLASSES, ...(model.batchNorm ? { needs: BATCH_NORM_OPS } : {}) };
}

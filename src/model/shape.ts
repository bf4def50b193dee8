/** A config's model section (config/train-schema.ts) as the network it describes: its shape and initialisation. */
import { CLASSES, PIXELS } from '../data/cifar.js';
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

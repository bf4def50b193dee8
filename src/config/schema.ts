/** All config kinds, keyed by their `kind` field. */
import { gradcheckSchema, type GradcheckConfig } from './gradcheck-schema.js';
import { searchSchema, type SearchConfig } from './search-schema.js';
import { trainSchema, type TrainConfig } from './train-schema.js';

export const configSchemas = {
  train: trainSchema,
  gradcheck: gradcheckSchema,
  search: searchSchema,
} as const;

export type ConfigKind = keyof typeof configSchemas;
export type AnyConfig = TrainConfig | GradcheckConfig | SearchConfig;
export type { GradcheckConfig, SearchConfig, TrainConfig };

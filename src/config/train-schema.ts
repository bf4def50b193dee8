/**
 * The training config: the single source of truth for its types, validation, defaults and docs
 * (`cifar-mlp config-doc` renders the reference from these descriptions).
 */
import { z } from 'zod';
import { BACKEND_NAMES } from '../kernels/names.js';

export const OFFICIAL_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
export const OFFICIAL_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';

const batchName = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a batch file name such as data_batch_1');

export const dataSchema = z
  .strictObject({
    dir: z.string().min(1).optional().describe('Folder with the CIFAR-10 binary batches (else --data, $CIFAR10_DIR, ./data/cifar-10-batches-bin, then download).'),
    url: z.string().url().default(OFFICIAL_URL).describe('Where to download cifar-10-binary.tar.gz when no local copy exists.'),
    md5: z.string().regex(/^[0-9a-f]{32}$/).default(OFFICIAL_MD5).describe('md5 of the downloaded archive.'),
    train: z.array(batchName).min(1).default(['data_batch_1']).describe('Training batch files.'),
    validation: z.array(batchName).optional().describe('Validation batch files (default [data_batch_2] unless `holdout` is used).'),
    holdout: z.int().min(0).default(0).describe('Hold out the last N records of the training files for validation (instead of `validation`).'),
    test: z.array(batchName).default(['test_batch']).describe('Test batch files.'),
    trainLimit: z.int().positive().optional().describe('Use only the first N training records (e.g. 100 for the sanity check).'),
  })
  .prefault({})
  .refine((d) => !(d.holdout > 0 && d.validation?.length), {
    message: 'give data.validation (files) or data.holdout > 0, not both',
    path: ['holdout'],
  });

export const scheduleSchema = z
  .strictObject({
    etaMin: z.number().positive().default(1e-5).describe('Lowest learning rate of the cycle.'),
    etaMax: z.number().positive().default(1e-1).describe('Highest learning rate of the cycle.'),
    ns: z.int().positive().default(500).describe('Half-cycle length in update steps.'),
    cycles: z.number().positive().optional().describe('Run length in cycles of 2·ns steps (give this or `epochs`; default 1 cycle).'),
    epochs: z.number().positive().optional().describe('Run length in epochs (give this or `cycles`).'),
  })
  .prefault({})
  .refine((s) => s.etaMin <= s.etaMax, { message: 'etaMin must be ≤ etaMax', path: ['etaMin'] })
  .refine((s) => !(s.cycles !== undefined && s.epochs !== undefined), { message: 'give cycles or epochs, not both', path: ['epochs'] });

export const trainSchema = z.strictObject({
  kind: z.literal('train').default('train').describe('Config kind: train, gradcheck or search.'),
  name: z.string().min(1).default('run').describe('Run name, used in titles and output folder names.'),
  seed: z.int().min(0).max(2 ** 32 - 1).default(1).describe('Seed of every random choice (initialisation, shuffling).'),
  data: dataSchema,
  model: z
    .strictObject({ hidden: z.int().positive().max(4096).default(50).describe('Hidden units m.') })
    .prefault({}),
  train: z
    .strictObject({
      lambda: z.number().min(0).default(0.01).describe('L2 strength lambda.'),
      batchSize: z.int().positive().default(100).describe('Mini-batch size n_batch.'),
    })
    .prefault({}),
  schedule: scheduleSchema,
  eval: z
    .strictObject({
      pointsPerCycle: z.int().positive().default(10).describe('Evaluation points per cycle (metrics.csv rows).'),
      every: z.int().positive().optional().describe('Evaluate every N steps (overrides pointsPerCycle).'),
      trainSubset: z.int().positive().optional().describe('Evaluate training metrics on the first N training records only (default: all).'),
    })
    .prefault({}),
  kernels: z
    .strictObject({
      backend: z.enum(BACKEND_NAMES).default('auto').describe('Kernel backend; auto takes a gpu.js GPU backend (webgpu, headlessgl) only on GPU hardware where a short timed probe beats the CPU, else the first CPU backend that loads (the machine\'s BLAS, else wasm-simd; see docs/blas.md); summary.json backendChoice says why.'),
      threads: z.int().min(0).default(0).describe('Threads for the kernels; 0 = all available cores (divided among search workers).'),
    })
    .prefault({}),
  checkpoint: z
    .strictObject({ every: z.int().min(0).default(0).describe('Also save model.json every N steps (0 = only at the end).') })
    .prefault({}),
});

export type TrainConfig = z.output<typeof trainSchema>;

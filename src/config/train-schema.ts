/**
 * The training config: the single source of truth for its types, validation, defaults and docs
 * (`cifar-mlp config-doc` renders the reference from these descriptions).
 */
import { z } from 'zod';
import { BACKEND_NAMES } from '../kernels/names.js';
import { hasControlCharacters } from '../util/terminal-text.js';

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

export const augmentSchema = z
  .strictObject({
    flip: z.boolean().default(false).describe('Mirror each training image left–right with probability 1/2, drawn anew at every step.'),
    translate: z
      .int()
      .min(0)
      .max(8)
      .default(0)
      .describe(
        'Shift each training image by a random whole number of pixels in [−k, k], horizontally and vertically (independently, ' +
          'drawn anew at every step; 0 = off). Uncovered pixels take the training mean of their position (rounded to a byte), ' +
          'so they are ≈ 0 after normalisation.',
      ),
  })
  .prefault({})
  .describe('Data augmentation of the training batches, on the uint8 images before normalisation; seeded by (seed, step).');

export const ensembleSchema = z
  .strictObject({
    snapshots: z
      .int()
      .min(0)
      .max(64)
      .default(0)
      .describe(
        'Snapshot ensemble: keep the network at the ends of the last N learning-rate cycles (steps that are multiples of 2·ns, where eta is ' +
          'lowest) and deliver their average (see `average`). 0 = deliver the final network alone. The run must reach N cycle ends.',
      ),
    members: z
      .int()
      .min(1)
      .max(16)
      .default(1)
      .describe(
        'Train N independently seeded networks in this run, one after the other, each in its own folder member-<i> (member 1 uses `seed`, ' +
          'the others seeds derived from it), and deliver the average of all of them (each contributes its snapshots when snapshots > 0).',
      ),
    average: z
      .enum(['softmax', 'weights'])
      .default('softmax')
      .describe(
        'How the ensemble predicts: softmax = the mean of the members\' class probabilities; weights = one network whose weights are the ' +
          'mean of the members\' weights (for snapshots of one run; cheaper to use, members must lie in one basin).',
      ),
  })
  .prefault({})
  .refine((e) => !(e.average === 'weights' && e.members > 1), {
    message: 'average: weights needs members = 1 (independently seeded networks do not share a basin: average their softmax)',
    path: ['average'],
  })
  .describe('Ensembles: several networks whose predictions are averaged.');

export const lrFindSchema = z
  .strictObject({
    etaMin: z.number().positive().default(1e-6).describe('Learning rate of the first step of the range test.'),
    etaMax: z.number().positive().default(10).describe('Learning rate of the last step: eta grows exponentially from etaMin to etaMax.'),
    steps: z.int().min(10).max(100_000).default(500).describe('Update steps of the range test.'),
    smoothing: z.number().min(0).lt(1).default(0.95).describe('Smoothing of the batch loss: exponential moving average with this factor (bias-corrected).'),
    stopFactor: z.number().gt(1).default(4).describe('Stop once the smoothed loss exceeds this many times its lowest value (the loss has blown up).'),
    startDrop: z
      .number()
      .gt(0)
      .lt(1)
      .default(0.05)
      .describe('Suggested etaMin: the learning rate at which the smoothed loss has first fallen by this fraction of its whole fall (where learning starts).'),
    maxDivisor: z
      .number()
      .min(1)
      .default(1)
      .describe(
        'Suggested etaMax: the learning rate of the lowest smoothed loss (where the loss stops falling, Smith 2015) divided by this; ' +
          'raise it (3–10) for a safer margin below the blow-up.',
      ),
  })
  .prefault({})
  .refine((l) => l.etaMin < l.etaMax, { message: 'etaMin must be < etaMax', path: ['etaMin'] })
  .describe('The learning-rate range test, `cifar-mlp lr-find CONFIG` (ignored by `run`).');

/** Longest name of a run or search: it goes into titles, folder names and figures. */
export const MAX_NAME_LENGTH = 200;

/** The `name` of a config: plain text (no newlines, escape codes or other control characters) of at most 200 characters. */
export const configName = (fallback: string, what: string) => z.string().min(1).max(MAX_NAME_LENGTH)
  .refine((s) => !hasControlCharacters(s), 'a name is plain text: no newlines, tabs, escape codes or other control characters')
  .default(fallback).describe(what);

/** The network's architecture fields, shared with the gradcheck config. */
export const architectureFields = {
  layers: z
    .array(z.int().positive().max(4096))
    .min(1)
    .max(16)
    .optional()
    .describe(
      'Widths of the hidden layers, input side first, for a network of any depth: [50, 50] is a 3-layer network. Overrides `hidden` ' +
        '(`hidden: m` is the two-layer network [m]).',
    ),
  batchNorm: z
    .boolean()
    .optional()
    .describe(
      'Batch normalisation on every hidden layer (default false): S is normalised with the batch\'s column means and variances while ' +
        'training and with their running averages in evaluation and prediction, then scaled and shifted by learned γ and β (which ' +
        'replace the layer\'s bias), before the ReLU.',
    ),
  init: z
    .union([z.enum(['xavier', 'he']), z.strictObject({ std: z.number().positive().describe('Standard deviation σ of every weight.') })])
    .optional()
    .describe('Initial weights ~ N(0, σ²): xavier σ = 1/√fan-in (default), he σ = √(2/fan-in), or {std: σ} for every layer (biases and β 0, γ 1).'),
};

export const modelSchema = z
  .strictObject({
    hidden: z.int().positive().max(4096).default(50).describe('Hidden units m.'),
    ...architectureFields,
    bnMomentum: z
      .number()
      .min(0)
      .lt(1)
      .optional()
      .describe('Batch norm\'s running averages: running = bnMomentum · running + (1 − bnMomentum) · the batch\'s statistics, every step (default 0.9).'),
  })
  .prefault({});

export const trainSchema = z.strictObject({
  kind: z.literal('train').default('train').describe('Config kind: train, gradcheck or search.'),
  name: configName('run', 'Run name, used in titles and output folder names (at most 200 characters of plain text).'),
  seed: z.int().min(0).max(2 ** 32 - 1).default(1).describe('Seed of every random choice (initialisation, shuffling, dropout masks, augmentation).'),
  data: dataSchema,
  model: modelSchema,
  train: z
    .strictObject({
      lambda: z.number().min(0).default(0.01).describe('L2 strength lambda.'),
      batchSize: z.int().positive().default(100).describe('Mini-batch size n_batch.'),
      dropout: z
        .number()
        .min(0)
        .lt(1)
        .default(0)
        .describe(
          'Dropout on every hidden layer while training: the probability of DROPPING each hidden unit at each step (0 = off). ' +
            'Inverted dropout: kept units are scaled by 1 / (1 − dropout), so evaluation and prediction use the whole network unchanged. ' +
            'The masks depend only on (seed, step): runs stay reproducible and resumable.',
        ),
      labelSmoothing: z
        .number()
        .min(0)
        .lt(1)
        .default(0)
        .describe('Label smoothing eps (0 = off): train against the targets (1 − eps) Y + eps / k instead of one-hot Y. Metrics stay the plain cross-entropy.'),
      momentum: z.number().min(0).lt(1).default(0).describe('SGD momentum mu (0 = plain SGD): v = mu v + g, W −= eta v. The velocities are saved in model.json for --resume.'),
      nesterov: z.boolean().default(false).describe('Nesterov momentum (W −= eta (g + mu v) after v = mu v + g); needs momentum > 0.'),
      optimizer: z
        .enum(['sgd', 'momentum', 'adamw'])
        .optional()
        .describe(
          'How a step uses the gradient (default: momentum when momentum > 0, else sgd): sgd; momentum (with `momentum` and `nesterov`); ' +
            'adamw: Adam (Loshchilov & Hutter 2019) with `beta1`, `beta2`, its moments saved in model.json for --resume; eta is its step size.',
        ),
      beta1: z.number().min(0).lt(1).optional().describe('adamw: decay of the first moment (default 0.9).'),
      beta2: z.number().min(0).lt(1).optional().describe('adamw: decay of the second moment (default 0.999).'),
      weightDecay: z
        .enum(['l2', 'decoupled'])
        .optional()
        .describe(
          'How lambda acts (default: l2 for sgd and momentum, decoupled for adamw): l2 adds 2 lambda W to the gradient (the cost J\'s L2 term); ' +
            'decoupled (adamw only) takes W −= eta 2 lambda W beside Adam\'s step, outside its moments.',
        ),
    })
    .prefault({})
    .refine((t) => !(t.nesterov && t.momentum === 0), { message: 'nesterov needs momentum > 0', path: ['nesterov'] })
    .refine((t) => !(t.optimizer === 'momentum' && t.momentum === 0), { message: 'optimizer momentum needs momentum > 0', path: ['optimizer'] })
    .refine((t) => !((t.optimizer === 'sgd' || t.optimizer === 'adamw') && t.momentum > 0), {
      message: 'momentum > 0 needs optimizer momentum (adamw has beta1)',
      path: ['momentum'],
    })
    .refine((t) => t.optimizer === 'adamw' || (t.beta1 === undefined && t.beta2 === undefined), { message: 'beta1 and beta2 are adamw\'s', path: ['beta1'] })
    .refine((t) => !(t.weightDecay === 'decoupled' && t.optimizer !== 'adamw'), { message: 'weightDecay decoupled needs optimizer adamw', path: ['weightDecay'] }),
  augment: augmentSchema,
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
  ensemble: ensembleSchema,
  lrFind: lrFindSchema,
});

export type TrainConfig = z.output<typeof trainSchema>;

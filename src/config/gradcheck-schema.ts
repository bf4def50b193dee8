/**
 * The gradient-check config (kind: gradcheck), experiment 1 of the assignment: analytic gradients against
 * centered-difference numerical gradients in float64, and the training backend's float32 gradients
 * against the float64 reference.
 */
import { z } from 'zod';
import { architectureFields, augmentSchema, configName, dataSchema, trainSchema } from './train-schema.js';

export const gradcheckSchema = z.strictObject({
  kind: z.literal('gradcheck').describe('Config kind: gradcheck.'),
  name: configName('gradcheck', 'Run name, used in titles and output folder names (at most 200 characters of plain text).'),
  seed: z.int().min(0).max(2 ** 32 - 1).default(1).describe('Seed of the random weights and of the random subset of checked entries.'),
  data: dataSchema.describe(
    'Where the samples come from (same fields as a train config). Only the first `check.samples` training records are used, ' +
      'standardised with the statistics of the whole training split; set `validation: []` and `test: []` to skip reading those files.',
  ),
  model: z
    .strictObject({
      hidden: z.int().positive().max(4096).default(50).describe('Hidden units m of the checked network.'),
      ...architectureFields,
      inputDims: z
        .int()
        .positive()
        .max(3072)
        .default(10)
        .describe('Use the first N (standardised) input dimensions: the network has d = N inputs (the report uses 10; 3072 = all).'),
    })
    .prefault({}),
  check: z
    .strictObject({
      samples: z.int().positive().default(20).describe('Number of training samples (the first N records) in the checked batch.'),
      lambdas: z
        .array(z.number().min(0))
        .min(1)
        .default([0, 0.1])
        .describe('L2 strengths to check; the cost is J = mean cross-entropy + lambda Σ_l ‖W_l‖².'),
      h: z.number().positive().max(1).default(1e-5).describe('Step of the centered difference (J(θ+h) − J(θ−h)) / 2h, cost evaluated in float64.'),
      entries: z
        .int()
        .min(0)
        .default(0)
        .describe(
          'Entries checked numerically per parameter: 0 = every entry; N > 0 = a seeded random subset of N entries per parameter ' +
            '(all of a parameter with fewer). Use a subset with inputDims 3072, where W1 alone has 3072·m entries.',
        ),
      eps: z
        .number()
        .positive()
        .default(1e-3)
        .describe(
          'Floor of the denominator of the relative error |ga − gn| / max(eps, |ga| + |gn|). Rounding alone leaves |ga − gn| ≈ 1e-11 to ' +
            '2e-10 in float64 with h = 1e-5 (about ε·J/h), so a relative error is only meaningful for entries well above that: entries with ' +
            '|ga| + |gn| < eps (here below ~1% of the largest entry) are in effect judged by their absolute difference, ≤ threshold · eps = 1e-9.',
        ),
      threshold: z.number().positive().default(1e-6).describe('The float64 check fails (exit 1) when a parameter’s max relative error exceeds this.'),
      dropout: z
        .number()
        .min(0)
        .lt(1)
        .default(0)
        .describe(
          'Check the network under dropout on the hidden layer with this drop probability (0 = off): one fixed mask (drawn from `seed`), ' +
            'the same in every evaluation of J and on both backends, so J is a smooth function of the weights and the check is exact.',
        ),
      labelSmoothing: z.number().min(0).lt(1).default(0).describe('Check the loss with label smoothing eps (targets (1 − eps) Y + eps / k; 0 = off).'),
    })
    .prefault({}),
  float32: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Also compare the training backend’s (kernels.backend) gradients with the float64 reference.'),
      threshold: z
        .number()
        .positive()
        .default(1e-4)
        .describe(
          'The float32 comparison fails (exit 1) when, for a parameter, max_i |g32_i − g64_i| / max_i |g64_i| exceeds this ' +
            '(the largest error relative to the largest gradient entry, on the same float32-rounded data and weights). ' +
            'Rationale: float32 carries a unit roundoff of 6e-8; sums of up to 3072 products, the softmax and the cancellation in P − Y ' +
            'leave measured errors of 4e-8 to 8e-7 of the largest entry (wasm-simd, gpujs-webasm and gpujs-cpu; d = 10 and d = 3072, ' +
            'n = 2 to 100), so 1e-4 keeps a margin of over 100× above rounding while a kernel bug (a wrong index, a dropped term, ' +
            'a missing mask) gives errors of order 1. The element-wise relative error is reported but not judged: entries near zero ' +
            'push it to 5e-5 by rounding alone.',
        ),
    })
    .prefault({}),
  augment: augmentSchema.describe(
    'Check on an augmented batch: the checked records mirrored and shifted as the augment stage does at training step 0 of a run with ' +
      'this seed (same fields as a train config; use inputDims 3072 to check every pixel of the shifted images).',
  ),
  kernels: trainSchema.shape.kernels.describe('The backend whose float32 gradients are compared with the float64 reference (auto: the one training uses).'),
});

export type GradcheckConfig = z.output<typeof gradcheckSchema>;

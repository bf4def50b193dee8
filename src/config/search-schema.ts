/**
 * The lambda-search config (kind: search): a base training config, the search space of
 * l = log10(lambda), the number of trials and how many run at once.
 *
 * Every trial trains `base` (validated by the training schema, so every training field and default
 * applies) with train.lambda = 10^l; the trial's schedule (cycles, ns, eta range) is base.schedule.
 * The l values come from `seed` alone: the same config gives the same trial list, which is what
 * lets `--resume` continue an interrupted search.
 */
import { z } from 'zod';
import { trainSchema } from './train-schema.js';

export const fromSchema = z
  .strictObject({
    dir: z.string().min(1).describe('Output folder of a finished search (its summary.json ranking is read), e.g. runs/search-coarse; relative to the working directory.'),
    topK: z.int().positive().default(3).describe('Take the range around the best k completed trials of that search (by validation accuracy).'),
    margin: z.number().min(0).default(0.25).describe('Widen [min l, max l] of those k trials by this much on each side (in units of log10 lambda).'),
  })
  .describe('Take the range of l from a finished search: [min l of its top k − margin, max l + margin], clipped to space.lMin / space.lMax when given.');

export const spaceSchema = z
  .strictObject({
    sampling: z.enum(['random', 'grid']).default('random').describe('random: l uniform in [lMin, lMax] from the search seed; grid: `trials` evenly spaced values from lMin to lMax (both included).'),
    lMin: z.number().min(-20).max(5).optional().describe('Lowest l = log10(lambda). Required unless `from` is given (then it only clips the derived range).'),
    lMax: z.number().min(-20).max(5).optional().describe('Highest l = log10(lambda). Required unless `from` is given (then it only clips the derived range).'),
    from: fromSchema.optional(),
  })
  .prefault({})
  .describe('The search space of l = log10(lambda).');

export const searchSchema = z
  .strictObject({
    kind: z.literal('search').describe('Config kind: search.'),
    name: z.string().min(1).default('search').describe('Search name, used in titles, trial names and the default output folder runs/<name>.'),
    seed: z.int().min(0).max(2 ** 32 - 1).default(1).describe('Seed of the l values (same seed and space → same trial list). Each trial trains with base.seed.'),
    trials: z.int().min(1).max(10_000).default(8).describe('Number of trials (lambda values).'),
    workers: z.int().min(0).max(256).default(0).describe('Trials run at once in the worker pool; 0 = one per available core, 1 = one after the other. Kernel threads per trial default to max(1, floor(cores / workers)).'),
    space: spaceSchema,
    base: trainSchema
      .prefault({})
      .describe('The training config of every trial (all fields of a train config; train.lambda is replaced by each trial\'s 10^l, kernels.threads 0 = cores divided among the workers).'),
  })
  .superRefine((c, ctx) => {
    const { lMin, lMax, from } = c.space;
    if (!from && lMin === undefined) ctx.addIssue({ code: 'custom', message: 'give space.lMin and space.lMax, or space.from', path: ['space', 'lMin'], input: lMin });
    if (!from && lMax === undefined) ctx.addIssue({ code: 'custom', message: 'give space.lMin and space.lMax, or space.from', path: ['space', 'lMax'], input: lMax });
    if (lMin !== undefined && lMax !== undefined && !(lMin < lMax)) {
      ctx.addIssue({ code: 'custom', message: `lMin must be < lMax (${lMax})`, path: ['space', 'lMin'], input: lMin });
    }
    if (c.base.ensemble.members > 1) {
      ctx.addIssue({ code: 'custom', message: 'a search trial trains one network: ensemble.members must be 1 (snapshots are fine)', path: ['base', 'ensemble', 'members'], input: c.base.ensemble.members });
    }
    if (c.base.data.holdout === 0 && (c.base.data.validation?.length ?? 0) === 0 && c.base.data.validation !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'a search ranks trials by validation accuracy: give base.data.validation files or base.data.holdout > 0', path: ['base', 'data', 'validation'], input: c.base.data.validation });
    }
  });

export type SearchConfig = z.output<typeof searchSchema>;

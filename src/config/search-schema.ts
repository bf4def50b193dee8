/**
 * The search config (kind: search): a base training config, the search space (any numeric or categorical field of
 * the training config, named by its path under `base`), the sampler, the number of trials, how many run at once, and
 * the pruning of hopeless trials (asynchronous successive halving).
 *
 * Every trial trains `base` (validated by the training schema, so every training field and default applies) with
 * the trial's parameter values set at their paths. Random and grid trial lists come from `seed` alone: the same config
 * gives the same trials, which is what lets `--resume` continue an interrupted search.
 *
 * The lambda-only form of earlier versions (`space: { sampling, lMin, lMax, from }`, l = log10 lambda) is still
 * accepted: it means `sampler: <sampling>` and `params: { base.train.lambda: { dist: log-uniform, min: 10^lMin,
 * max: 10^lMax } }`, which draws exactly the same lambdas.
 */
import { z } from 'zod';
import { lookupField, withField } from './paths.js';
import { pow10 } from '../util/pow10.js';
import { configName, trainSchema } from './train-schema.js';

export const fromSchema = z
  .strictObject({
    dir: z.string().min(1).describe('Output folder of a finished search (its summary.json ranking is read), e.g. runs/search-coarse; relative to the working directory.'),
    topK: z.int().positive().default(3).describe('Take the ranges around the best k completed trials of that search (by validation accuracy).'),
    margin: z.number().min(0).default(0.25).describe('Log-scaled parameters (log-uniform, int with log): widen [min, max] of those k trials by this much on each side, in log10 units.'),
    linearMargin: z.number().min(0).default(0.1).describe('Linear parameters (uniform, int): widen [min, max] of those k trials on each side by this fraction of the configured range.'),
  })
  .describe('Narrow every parameter from a finished search: numeric ones to [min of its top k − margin, max + margin] clipped to the configured bounds, choices to the values its top k used.');

const gridPoints = z.int().min(1).max(10_000).optional().describe('Grid sampler: number of values of this parameter (evenly spaced in its scale, ends included).');

const logUniformSchema = z.strictObject({
  dist: z.literal('log-uniform'),
  min: z.number().positive(),
  max: z.number().positive(),
  points: gridPoints,
});
const uniformSchema = z.strictObject({
  dist: z.literal('uniform'),
  min: z.number(),
  max: z.number(),
  points: gridPoints,
});
const intSchema = z.strictObject({
  dist: z.literal('int'),
  min: z.int(),
  max: z.int(),
  log: z.boolean().default(false),
  points: gridPoints,
});
const choiceSchema = z.strictObject({
  dist: z.literal('choice'),
  values: z.array(z.union([z.number(), z.string(), z.boolean(), z.array(z.number())])).min(1),
});

export const paramSchema = z
  .discriminatedUnion('dist', [logUniformSchema, uniformSchema, intSchema, choiceSchema])
  .describe('One searched field: { dist: log-uniform, min, max } | { dist: uniform, min, max } | { dist: int, min, max, log? } | { dist: choice, values: [...] }.');

export type ParamSpec = z.output<typeof paramSchema>;
export type ParamValue = number | string | boolean | number[];

/** Where `v` stands among a choice's values (-1: not there); list values (e.g. model.layers) compare by their entries. */
export function choiceIndex(values: readonly ParamValue[], v: unknown): number {
  const key = JSON.stringify(v);
  return values.findIndex((x) => x === v || JSON.stringify(x) === key);
}
/** A trial's values of the searched fields, by config path (e.g. "base.train.lambda"). */
export type TrialParams = Record<string, ParamValue>;

export const tpeSchema = z
  .strictObject({
    startup: z.int().min(1).default(8).describe('Trials drawn at random (as the random sampler draws them) before the model takes over.'),
    candidates: z.int().min(1).max(10_000).default(24).describe('Candidates drawn from the model of the good trials per suggestion; the one with the best density ratio good/bad is run.'),
    gamma: z.number().gt(0).lt(1).default(0.25).describe('Fraction of the finished trials that form the "good" group.'),
  })
  .prefault({})
  .describe('The TPE sampler (tree-structured Parzen estimator).');

export const SAMPLERS = ['random', 'grid', 'tpe'] as const;
export type SamplerName = (typeof SAMPLERS)[number];

const spaceInputSchema = z
  .strictObject({
    sampler: z.enum(SAMPLERS).optional().describe(
      'random: every parameter drawn from its distribution (seeded); grid: every combination of `points` values per parameter ' +
      '(default: `trials` values for a single parameter, else floor(trials^(1/numeric parameters)); choices: all values), the trial count is the grid\'s size; ' +
      'tpe: a tree-structured Parzen estimator that proposes each trial from the results so far (random for the first `tpe.startup`). Default random.'),
    params: z.record(z.string(), paramSchema).optional().describe(
      'The searched fields, by config path under base, e.g. `base.train.lambda: { dist: log-uniform, min: 1.0e-5, max: 1.0e-1 }`, ' +
      '`base.model.hidden: { dist: int, min: 20, max: 200, log: true }`, `base.schedule.etaMax: { dist: uniform, min: 0.05, max: 0.2 }`, ' +
      '`base.train.batchSize: { dist: choice, values: [50, 100, 200] }`; a numeric one may add `points: N` (its values on a grid). ' +
      'Each must be a field of the training config, and its bounds (or choices) values the training schema accepts there.'),
    from: fromSchema.optional(),
    tpe: tpeSchema,
    sampling: z.enum(['random', 'grid']).optional().describe('Lambda-only form (earlier versions): same as sampler.'),
    lMin: z.number().min(-20).max(5).optional().describe('Lambda-only form: lowest l = log10(lambda); means params: { base.train.lambda: { dist: log-uniform, min: 10^lMin, ... } }.'),
    lMax: z.number().min(-20).max(5).optional().describe('Lambda-only form: highest l = log10(lambda).'),
  })
  .prefault({})
  .describe('The search space: which fields vary, how they are drawn, and from which earlier search they are narrowed.');

export const pruningSchema = z
  .strictObject({
    rule: z.enum(['none', 'asha']).default('none').describe('none: every trial runs to its end; asha: asynchronous successive halving.'),
    minSteps: z.int().positive().default(400).describe('ASHA: the first rung, in update steps (the minimum resource).'),
    eta: z.int().min(2).max(100).default(3).describe('ASHA: reduction factor; rung k is at minSteps × eta^k, and a trial continues past a rung when its validation accuracy there is at least the (1 − 1/eta) quantile of all accuracies reported at that rung so far (itself included).'),
    maxRungs: z.int().min(1).max(20).default(3).describe('ASHA: number of rungs (only those before a trial\'s last step apply).'),
    tolerance: z.number().min(0).max(10).default(0).describe(
      'ASHA: a trial still continues when its accuracy falls short of the cutoff by at most this many standard errors sqrt(p(1 − p)/n) of it (n: validation records); ' +
      '1.96 stops only trials whose 95% noise interval lies below the cutoff; 0 is plain ASHA.'),
  })
  .prefault({})
  .describe('Stopping hopeless trials early. A pruned trial ends with status pruned at its rung; the pool never waits for a rung to fill.');

const searchObjectSchema = z.strictObject({
  kind: z.literal('search').describe('Config kind: search.'),
  name: configName('search', 'Search name, used in titles, trial names and the default output folder runs/<name> (at most 200 characters of plain text).'),
  seed: z.int().min(0).max(2 ** 32 - 1).default(1).describe('Seed of the sampler (same seed and space → same trial list). Each trial trains with base.seed.'),
  trials: z.int().min(1).max(10_000).default(8).describe('Number of trials (random and tpe samplers; a grid has as many trials as combinations).'),
  workers: z.int().min(0).max(256).default(0).describe('Trials run at once in the worker pool; 0 = one per available core, 1 = one after the other. Kernel threads per trial default to max(1, floor(cores / workers)).'),
  space: spaceInputSchema,
  pruning: pruningSchema,
  keepModels: z.union([z.literal('all'), z.int().min(0)]).default(3).describe(
    'Trials whose model.json is kept: the best k completed trials by validation accuracy (k = 0: none), or all. The best one is needed for its test accuracy and for `cifar-mlp evaluate <search folder>`.'),
  base: trainSchema
    .prefault({})
    .describe('The training config of every trial (all fields of a train config; the searched fields are replaced by each trial\'s values, kernels.threads 0 = cores divided among the workers).'),
});

type SearchInput = z.output<typeof searchObjectSchema>;

/** The space as the search uses it: every form normalised to sampler + params. */
export interface SearchSpace {
  sampler: SamplerName;
  params: Record<string, ParamSpec>;
  from?: z.output<typeof fromSchema>;
  tpe: z.output<typeof tpeSchema>;
}

/** log10 bounds of the lambda-only form when only `from` is given (the old schema's limits). */
const LEGACY_L = { min: -20, max: 5 };

export const LAMBDA_PATH = 'base.train.lambda';

function normalizeSpace(s: SearchInput['space']): SearchSpace {
  const { sampler, params, from, tpe, sampling, lMin, lMax } = s;
  if (params === undefined && (sampling !== undefined || lMin !== undefined || lMax !== undefined || from !== undefined)) {
    return {
      sampler: sampler ?? sampling ?? 'random',
      params: { [LAMBDA_PATH]: { dist: 'log-uniform', min: pow10(lMin ?? LEGACY_L.min), max: pow10(lMax ?? LEGACY_L.max) } },
      ...(from ? { from } : {}),
      tpe,
    };
  }
  return { sampler: sampler ?? 'random', params: params ?? {}, ...(from ? { from } : {}), tpe };
}

type Ctx = z.core.$RefinementCtx<SearchInput>;
const issue = (ctx: Ctx, path: PropertyKey[], message: string, input: unknown) => ctx.addIssue({ code: 'custom', message, path, input });

/** A field value the training schema accepts at that path (else the schema's first message). */
function trainFieldProblem(base: unknown, path: string, value: unknown): string | null {
  const r = trainSchema.safeParse(withField(base, path.slice('base.'.length), value));
  if (r.success) return null;
  const i = r.error.issues[0];
  return `${['base', ...i.path.map(String)].join('.')}: ${i.message}`;
}

function checkSpace(c: SearchInput, ctx: Ctx): void {
  const s = c.space;
  const legacy = s.sampling !== undefined || s.lMin !== undefined || s.lMax !== undefined;
  if (legacy && s.params !== undefined) {
    issue(ctx, ['space', s.lMin !== undefined ? 'lMin' : s.lMax !== undefined ? 'lMax' : 'sampling'], 'the lambda-only form (sampling, lMin, lMax) cannot be combined with space.params: move lambda into params', s.lMin ?? s.lMax ?? s.sampling);
    return;
  }
  if (s.sampling !== undefined && s.sampler !== undefined && s.sampling !== s.sampler) {
    issue(ctx, ['space', 'sampling'], `contradicts space.sampler (${s.sampler}): give one of them`, s.sampling);
  }
  if (legacy || (s.params === undefined && s.from)) {
    if (!s.from && s.lMin === undefined) issue(ctx, ['space', 'lMin'], 'give space.lMin and space.lMax, or space.from', s.lMin);
    if (!s.from && s.lMax === undefined) issue(ctx, ['space', 'lMax'], 'give space.lMin and space.lMax, or space.from', s.lMax);
    if (s.lMin !== undefined && s.lMax !== undefined && !(s.lMin < s.lMax)) issue(ctx, ['space', 'lMin'], `lMin must be < lMax (${s.lMax})`, s.lMin);
    return;
  }
  if (s.params === undefined || Object.keys(s.params).length === 0) {
    issue(ctx, ['space', 'params'], 'give at least one parameter to search, e.g. params: { base.train.lambda: { dist: log-uniform, min: 1.0e-5, max: 1.0e-1 } }', s.params);
    return;
  }
  for (const [path, p] of Object.entries(s.params)) {
    const at = ['space', 'params', path];
    if (!path.startsWith('base.')) {
      issue(ctx, at, 'a searched field is named by its path under base, e.g. base.train.lambda', path);
      continue;
    }
    const field = lookupField(trainSchema, path.slice('base.'.length), 'base');
    if (!field.ok) {
      issue(ctx, at, field.reason, path);
      continue;
    }
    if (p.dist !== 'choice') {
      if (field.kind === 'other') {
        issue(ctx, [...at, 'dist'], `${path} is not a number field: search it with dist: choice`, p.dist);
        continue;
      }
      if (field.kind === 'int' && p.dist !== 'int') {
        issue(ctx, [...at, 'dist'], `${path} takes whole numbers: search it with dist: int`, p.dist);
        continue;
      }
      if (!(p.min < p.max)) {
        issue(ctx, [...at, 'min'], `min must be < max (${p.max})`, p.min);
        continue;
      }
      if (p.dist === 'int' && p.log && p.min < 1) {
        issue(ctx, [...at, 'min'], 'an int parameter with log: true needs min ≥ 1', p.min);
        continue;
      }
    }
    // The bounds (or every choice) must be values the training schema accepts there: no trial can then fail on them.
    const values: Array<[string, unknown]> = p.dist === 'choice' ? p.values.map((v, i) => [`values.${i}`, v]) : [['min', p.min], ['max', p.max]];
    for (const [key, v] of values) {
      const problem = trainFieldProblem(c.base, path, v);
      if (problem) issue(ctx, [...at, ...key.split('.')], problem, v);
    }
  }
}

export const searchSchema = searchObjectSchema
  .superRefine((c, ctx) => {
    checkSpace(c, ctx);
    if (c.base.ensemble.members > 1) {
      issue(ctx, ['base', 'ensemble', 'members'], 'a search trial trains one network: ensemble.members must be 1 (snapshots are fine)', c.base.ensemble.members);
    }
    if (c.base.data.holdout === 0 && (c.base.data.validation?.length ?? 0) === 0 && c.base.data.validation !== undefined) {
      issue(ctx, ['base', 'data', 'validation'], 'a search ranks trials by validation accuracy: give base.data.validation files or base.data.holdout > 0', c.base.data.validation);
    }
  })
  .transform((c) => ({ ...c, space: normalizeSpace(c.space) }));

export type SearchConfig = z.output<typeof searchSchema>;

/**
 * plan.json of a search: the space as sampled and every trial's values so far (all of them for random and grid; tpe
 * adds each proposal as it makes it), rewritten atomically as it grows. A resumed search runs exactly this plan.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { paramSchema, SAMPLERS, type ParamSpec, type SamplerName, type TrialParams } from '../config/search-schema.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { parseJsonBounded } from '../util/bounded-json.js';
import { UsageError } from '../util/errors.js';
import { FileReadError, readRegularText } from '../util/read-file.js';

export const PLAN_FILE = 'plan.json';
/** Version 2: spaces of several parameters (version 1 searched lambda only and is not read). */
export const PLAN_VERSION = 2;

/** Largest plan.json read (10,000 trials take about 1 MB). */
const MAX_PLAN_BYTES = 64 * 2 ** 20;

export interface PlannedTrial {
  trial: number;
  /** The searched fields' values by config path. */
  params: TrialParams;
}

export interface SearchPlan {
  version: typeof PLAN_VERSION;
  name: string;
  seed: number;
  sampler: SamplerName;
  /** The space as sampled (after `space.from`). */
  space: Record<string, ParamSpec>;
  /** How its ranges were chosen. */
  spaceSource: string;
  /** Trials of the search when done. */
  total: number;
  /** Every trial planned so far. */
  trials: PlannedTrial[];
  /** What must not change for --resume to continue this search (search/study.ts resumeKey). */
  key: unknown;
  createdAt: string;
}

const planSchema = z.object({
  version: z.literal(PLAN_VERSION),
  name: z.string(),
  seed: z.number(),
  sampler: z.enum(SAMPLERS),
  space: z.record(z.string(), paramSchema),
  spaceSource: z.string(),
  total: z.int().min(0),
  trials: z.array(z.object({ trial: z.int().min(1), params: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])) })),
  key: z.unknown(),
  createdAt: z.string(),
});

/** The folder of each trial's run: trials/01 … trials/08 (at least 2 digits). */
export const TRIALS_DIR = 'trials';
export const trialId = (trial: number, total: number) => String(trial).padStart(Math.max(2, String(total).length), '0');
export const trialDir = (dir: string, trial: number, total: number) => join(dir, TRIALS_DIR, trialId(trial, total));

export const isSearchFolder = (dir: string) => existsSync(join(dir, PLAN_FILE));

export function writeSearchPlan(dir: string, plan: SearchPlan): void {
  writeJsonAtomic(join(dir, PLAN_FILE), plan);
}

/** The plan of the search in `dir`, for --resume; null when there is none. Every problem is a one-line UsageError. */
export function readSearchPlan(dir: string): SearchPlan | null {
  const path = join(dir, PLAN_FILE);
  let raw: unknown;
  try {
    raw = parseJsonBounded(readRegularText(path, { maxBytes: MAX_PLAN_BYTES, expected: 'a search plan' }));
  } catch (e) {
    if (e instanceof FileReadError && e.code === 'ENOENT') return null;
    const why = e instanceof FileReadError ? e.reason : (e as Error).message;
    throw new UsageError(`--resume: ${path}: unreadable (${why}); start a new search with --force or another --out`);
  }
  if (raw !== null && typeof raw === 'object' && (raw as { version?: unknown }).version !== PLAN_VERSION && Array.isArray((raw as { trials?: unknown }).trials)) {
    throw new UsageError(`--resume: ${path} was written by an earlier version of cifar-mlp (lambda-only search); start a new search with --force or another --out`);
  }
  const parsed = planSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new UsageError(`--resume: ${path}: unreadable (${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}); start a new search with --force or another --out`);
  }
  return parsed.data as SearchPlan;
}

/**
 * A run's summary.json: where the run stands or how it ended (status, steps, timing, backend) and what it delivers
 * (final metrics, the ensemble's members). Written atomically when the run starts, as it ends, and on a forced exit
 * (pipeline/ledger.ts); read tolerantly (every field optional, unknown ones kept), so that files of earlier versions,
 * of interrupted runs or cut short while being written still serve: a file that is not a run summary reads as null.
 */
import { join } from 'node:path';
import { z } from 'zod';
import type { TrainConfig } from '../config/schema.js';
import type { BackendChoice } from '../kernels/select.js';
import type { SplitMetrics } from '../model/split-metrics.js';
import type { StepMetrics } from './metrics-csv.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { redactStrings } from '../util/redact.js';
import { parseJsonBounded } from '../util/bounded-json.js';
import { FileReadError, readRegularText } from '../util/read-file.js';

export const SUMMARY_FILE = 'summary.json';
/** Version 1: `kind` and `version` added; files without them are read as version 1 too. */
export const RUN_SUMMARY_VERSION = 1;
/** Largest summary.json read (a search of 10,000 trials writes about 10 MB). */
export const MAX_SUMMARY_BYTES = 64 * 2 ** 20;

export type RunStatus = 'running' | 'completed' | 'diverged' | 'pruned' | 'interrupted' | 'failed';
const RUN_STATUSES = ['running', 'completed', 'diverged', 'pruned', 'interrupted', 'failed'] as const;

export interface FinalMetrics {
  train: SplitMetrics;
  val: SplitMetrics;
  /** null where the run was not tested (search trials: only the chosen one is). */
  test: SplitMetrics | null;
}

/** One network of a run's ensemble and its own final metrics. */
export interface MemberResult {
  name: string;
  step: number;
  final: FinalMetrics;
}

/** One member run of an ensemble run (config.ensemble.members > 1), in its folder. */
export interface MemberRun {
  dir: string;
  seed: number;
  status: RunStatus;
  steps: number;
  seconds: number;
}

/** The ensemble a run delivers (config.ensemble): how it averages, and each of its networks alone. */
export interface EnsembleResult {
  average: 'softmax' | 'weights';
  members: MemberResult[];
}

export interface Summary {
  kind: 'run';
  version: number;
  status: RunStatus;
  name: string;
  backend: string;
  threads: number;
  /** Which backend was asked for, the device it ran on, and why each other one was passed over. */
  backendChoice?: BackendChoice;
  seed: number;
  /** Update steps done. */
  steps: number;
  totalSteps: number;
  epochs: number;
  /** The step model.json holds (where --resume continues), when the run saves checkpoints. */
  checkpointStep?: number;
  /** Wall time of the run, every session of a resumed run included. */
  seconds: number;
  /** A resumed run: the wall time since its last resume. */
  secondsSinceResume?: number;
  samplesPerSecond: number;
  /** Records of each split (the noise of an accuracy p on n records is about ±1.96·sqrt(p(1 − p)/n)). */
  data?: { train: number; val: number; test: number };
  /** Set when the run does not end on a cycle end of its schedule: where it ends, and the setting that would. */
  cycleEndNote?: string;
  divergedAtStep?: number;
  /** Pruned runs (search trials stopped at a rung): the step and the validation accuracy there. */
  pruned?: { step: number; valAccuracy: number };
  error?: string;
  startedAt: string;
  finishedAt: string;
  config: TrainConfig;
  /** What the run delivers, measured at its end: the ensemble where the config builds one, else the trained network. */
  final: FinalMetrics | null;
  /** The ensemble's networks, each alone (runs that build an ensemble). */
  ensemble?: EnsembleResult;
  /** The member runs of an ensemble run, in order. */
  memberRuns?: MemberRun[];
  lastMetrics: StepMetrics | null;
}

export function writeRunSummary(dir: string, summary: Summary): void {
  writeJsonAtomic(join(dir, SUMMARY_FILE), summary, redactStrings);
}

/** A field that reads as absent when it has the wrong type (one bad field does not hide the others). */
const optional = <T extends z.ZodType>(t: T) => t.optional().catch(undefined);
const numberOrNull = z.number().nullable().catch(null);
const splitMetrics = z.looseObject({ loss: numberOrNull, cost: numberOrNull, accuracy: numberOrNull });
const finalMetrics = z.looseObject({ train: splitMetrics.optional(), val: splitMetrics.optional(), test: splitMetrics.nullable().optional() });

/** What a reader can rely on in a run's summary.json: each field of the right type when present. */
const storedRunSummary = z.looseObject({
  kind: optional(z.literal('run')),
  version: optional(z.number().int()),
  status: optional(z.enum(RUN_STATUSES)),
  name: optional(z.string()),
  backend: optional(z.string()),
  threads: optional(z.number()),
  seed: optional(z.number()),
  steps: optional(z.number()),
  totalSteps: optional(z.number()),
  epochs: optional(z.number()),
  seconds: optional(z.number()),
  samplesPerSecond: optional(z.number()),
  error: optional(z.string()),
  startedAt: optional(z.string()),
  finishedAt: optional(z.string()),
  config: optional(z.record(z.string(), z.unknown())),
  final: finalMetrics.nullable().optional().catch(null),
  memberRuns: optional(z.array(z.looseObject({ dir: z.string() }))),
  backendChoice: optional(z.looseObject({ earlier: optional(z.array(z.object({ backend: z.string(), untilStep: z.number() })).max(1000)) })),
});

/** A run summary as read back: every field optional (see the module comment). */
export type StoredRunSummary = z.infer<typeof storedRunSummary>;

/** The run summary of a summary.json's text; null when it is cut short, not JSON, or not a run's. */
export function parseRunSummary(text: string): StoredRunSummary | null {
  let raw: unknown;
  try {
    raw = parseJsonBounded(text);
  } catch {
    return null; // cut short while being written, or not JSON: absent
  }
  if (raw !== null && typeof raw === 'object' && ((raw as { kind?: unknown }).kind ?? 'run') !== 'run') return null;
  const parsed = storedRunSummary.safeParse(raw);
  return parsed.success ? parsed.data : null;
}

/**
 * `<dir>/summary.json` as a run summary; null when absent or unusable (see parseRunSummary). Throws a FileReadError
 * when it is not a regular file or too large.
 */
export function readRunSummary(dir: string): StoredRunSummary | null {
  let text: string;
  try {
    text = readRegularText(join(dir, SUMMARY_FILE), { maxBytes: MAX_SUMMARY_BYTES, expected: 'a summary.json file' });
  } catch (e) {
    if (e instanceof FileReadError && e.code === 'ENOENT') return null;
    throw e;
  }
  return parseRunSummary(text);
}

/**
 * What crosses the job queue between a search (the coordinator) and `cifar-mlp worker` processes, and the
 * names it lives under in Redis. Everything read from the queue is untrusted input: it is parsed with these
 * schemas (the trial's config with the training config schema itself) before it is used.
 *
 *   registry   hash  cifar-mlp:searches        search id → descriptor (which queue, which version): how workers find work
 *   queue      BullMQ cifar-mlp:trials-<id>    one job per trial, id trial-<n>:
 *     data        TrialJobData   the trial (its searched values, its config validated by trainSchema, its rungs, whether
 *                                to keep its model), the data fingerprint, the thread count,
 *                                and `control`: the coordinator's stop request (job.updateData)
 *     progress    JobProgress  the worker's name, steps done, and a rung report waiting for its decision (a hint for
 *                                the coordinator's event listener: a later progress update replaces it)
 *   rung reports   hash  cifar-mlp:rungs-<id>        <trial>:<step> → RungReport, written by the worker, removed when decided
 *   rung decisions hash  cifar-mlp:decisions-<id>    <trial>:<step> → continue | prune, written by the coordinator once
 *   coordinator    string cifar-mlp:coordinator-<id> the coordinator's name, with a TTL it renews while it runs
 *   Nothing later overwrites a report or a decision, so a coordinator that missed an event (or was resumed) still
 *   decides, and a trial that runs again (another worker) finds its rungs decided.
 *     returnvalue TrialJobResult the TrialResult and the files the trial left in its folder (metrics.csv, summary.json,
 *                                config.yaml, model.json when the task says saveModel): inline (gzip, base64) when they are
 *                                small, else the list of files of an artifact store's folder or of a chunked transfer
 *   transfers      hash  cifar-mlp:transfers-<id>    <trial> → TransferAnnouncement (queue-transfer.ts), and its chunk list
 */
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import pkg from '../../package.json' with { type: 'json' };
import { UsageError } from '../util/errors.js';
import { trainSchema } from '../config/train-schema.js';
import type { RungDecision } from '../formats/rungs-csv.js';
import type { TrialResult, TrialTask } from './types.js';

/** Key prefix of every BullMQ key (and of the registry). */
export const QUEUE_PREFIX = 'cifar-mlp';
/** Version of the job layout below; a change that old workers cannot read bumps it. */
export const PROTOCOL = 2;
export const REGISTRY_KEY = `${QUEUE_PREFIX}:searches`;
/** A trial whose worker stops renewing its lock goes back to the queue this many times before it fails. */
export const MAX_STALLED = 2;

/** Who is talking: a coordinator and a worker must agree on all three. */
export interface Identity {
  protocol: number;
  version: string;
  /** sha256 (12 hex digits) of the training config's JSON schema: fields, types, defaults. */
  schema: string;
}

let identity: Identity | undefined;
export function localIdentity(): Identity {
  identity ??= {
    protocol: PROTOCOL,
    version: pkg.version,
    schema: createHash('sha256').update(JSON.stringify(z.toJSONSchema(trainSchema, { io: 'input', unrepresentable: 'any' }))).digest('hex').slice(0, 12),
  };
  return identity;
}

export const identityText = (i: Partial<Identity>) =>
  `cifar-mlp ${i.version ?? '?'} (queue protocol ${i.protocol ?? '?'}, config schema ${i.schema ?? '?'})`;

/** Why two sides cannot work together, or null when they can. */
export function handshakeProblem(theirs: Partial<Identity>, ours: Identity, they: 'coordinator' | 'worker'): string | null {
  if (theirs.protocol === ours.protocol && theirs.version === ours.version && theirs.schema === ours.schema) return null;
  const we = they === 'worker' ? 'coordinator' : 'worker';
  return `version mismatch: the ${they} runs ${identityText(theirs)}, this ${we} ${identityText(ours)}; ` +
    'run the same cifar-mlp version on the coordinator and every worker';
}

const SEARCH_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** An artifact store's id (queue-artifacts.ts). */
export const STORE_ID = /^[0-9a-f]{16}$/;

/** A new search's id: its name (as far as it is safe in a key) and 8 random hex digits. */
export function newSearchId(name: string): string {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'search';
  return `${slug}-${randomBytes(4).toString('hex')}`;
}
export const isSearchId = (id: string) => SEARCH_ID.test(id);
export const trialQueueName = (searchId: string) => `trials-${searchId}`;
export const trialJobId = (trial: number) => `trial-${trial}`;

/** A search in the registry: what a worker needs to serve it. */
export const descriptorSchema = z.object({
  id: z.string().regex(SEARCH_ID),
  name: z.string().max(200),
  queue: z.string().max(100),
  protocol: z.number(),
  version: z.string().max(50),
  schema: z.string().max(50),
  host: z.string().max(200),
  createdAt: z.string().max(50),
}).refine((d) => d.queue === trialQueueName(d.id), 'the queue of a search is trials-<its id>');
export type SearchDescriptor = z.infer<typeof descriptorSchema>;

export const rungDecisionSchema = z.enum(['continue', 'prune']);
export const controlSchema = z.strictObject({
  /** The coordinator stopped the search: stop the trial after its current step. */
  stop: z.boolean().optional(),
});

export const rungReportsKey = (searchId: string) => `${QUEUE_PREFIX}:rungs-${searchId}`;
export const rungDecisionsKey = (searchId: string) => `${QUEUE_PREFIX}:decisions-${searchId}`;
export const coordinatorKey = (searchId: string) => `${QUEUE_PREFIX}:coordinator-${searchId}`;
/** The field of a trial's rung in the reports and decisions hashes. */
export const rungField = (trial: number, step: number) => `${trial}:${step}`;
export function parseRungField(field: string): { trial: number; step: number } | null {
  const m = /^(\d{1,7}):(\d{1,9})$/.exec(field);
  return m ? { trial: Number(m[1]), step: Number(m[2]) } : null;
}
/** A worker's rung report (the hash value; untrusted like everything read from Redis). */
export const rungReportSchema = z.strictObject({ valAccuracy: z.number().min(0).max(1), worker: z.string().max(200) });
/** How long a coordinator's heartbeat key lives without renewal; it renews it every third of that. */
export const COORDINATOR_TTL_MS = 10_000;
export type TrialControl = z.infer<typeof controlSchema>;

/** A job's data. The task's outDir and dataDir are the coordinator's paths: they are not sent. */
export interface TrialJobData extends Identity {
  search: string;
  task: Omit<TrialTask, 'outDir' | 'dataDir'>;
  /** dataFingerprint() of the splits the coordinator reads for this task. */
  fingerprint: string;
  /** Kernel threads (the same on every worker: results depend on it). */
  threads: number;
  control: TrialControl;
  /** The trial's files go through this artifact store (queue-artifacts.ts), not through Redis. */
  artifacts?: { store: string };
}

/** The parts of a job read before anything else: who sent it. */
export const identityFields = z.object({ protocol: z.unknown(), version: z.unknown(), schema: z.unknown() })
  .transform((i): Partial<Identity> => ({
    protocol: typeof i.protocol === 'number' ? i.protocol : undefined,
    version: typeof i.version === 'string' ? i.version.slice(0, 50) : undefined,
    schema: typeof i.schema === 'string' ? i.schema.slice(0, 50) : undefined,
  }));

/** A searched field's path under base (e.g. base.train.lambda) and its value: a finite number, a string or a boolean. */
const paramsSchema = z.record(
  z.string().max(200).regex(/^base(\.[A-Za-z0-9_]+)+$/, 'a config path under base, e.g. base.train.lambda'),
  z.union([z.number(), z.string().max(200), z.boolean()]),
).refine((p) => Object.keys(p).length <= 100, 'at most 100 searched fields');

const noFolder = z.never({ error: 'a task from the queue names no folders' }).optional();

/** A TrialTask without its folders (the worker sets its own); the config is checked by the training schema. */
const taskSchema = z.strictObject({
  trial: z.int().min(1).max(1_000_000),
  params: paramsSchema,
  config: trainSchema,
  rungs: z.array(z.int().positive()).max(1000).optional(),
  saveModel: z.boolean().optional(),
  outDir: noFolder,
  dataDir: noFolder,
});

export const jobDataSchema = z.strictObject({
  protocol: z.number(),
  version: z.string(),
  schema: z.string(),
  search: z.string().regex(SEARCH_ID),
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  threads: z.int().min(1).max(256),
  task: taskSchema,
  control: controlSchema.prefault({}),
  artifacts: z.strictObject({ store: z.string().regex(STORE_ID) }).optional(),
});

/** Job progress: who runs the trial, how far it is, and a rung report waiting for its decision. */
export const progressSchema = z.object({
  worker: z.string().max(200),
  stepsDone: z.number().optional(),
  totalSteps: z.number().optional(),
  valAccuracy: z.number().min(0).max(1).optional(),
  rung: z.object({ step: z.int().positive(), valAccuracy: z.number() }).optional(),
});
export type JobProgress = z.infer<typeof progressSchema>;

/** Non-finite numbers as strings: JSON (what BullMQ stores) has no NaN or Infinity. */
export function encodeNumbers<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)));
}
const num = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity']).transform(Number), z.null().transform(() => NaN)]);
const split = z.object({ loss: num, cost: num, accuracy: num });

export const trialResultSchema = z.looseObject({
  trial: z.int(),
  status: z.enum(['completed', 'diverged', 'pruned', 'failed', 'interrupted']),
  final: z.object({ train: split, val: split, test: split.nullable() }).nullable(),
  steps: num,
  totalSteps: num.optional(),
  seconds: num,
  backend: z.string().max(100),
  threads: num,
  reason: z.string().max(20_000).optional(),
  pruned: z.object({ step: num, valAccuracy: num }).optional(),
});

/** A relative path inside a trial folder: plain names, no `.` or `..` segments. */
export const relativeFilePath = z.string().max(200).regex(/^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/, 'a relative path of plain names')
  .refine((p) => p.split('/').every((s) => s !== '.' && s !== '..'), 'no . or .. segments');

/** A file of a trial in the artifact store: its path inside the trial folder, size and sha256. */
export const storedFileSchema = z.strictObject({ path: relativeFilePath, size: z.int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) });
export type StoredFile = z.infer<typeof storedFileSchema>;
/** Where an attempt's files lie in the store: <search id>/trial-<n>-<attempt>-<8 hex>. */
export const storeLocation = z.string().max(200).regex(/^[a-z0-9][a-z0-9-]{0,62}\/trial-\d{1,7}-\d{1,4}-[0-9a-f]{8}$/);

/** Where the worker streams a trial's files in chunks (queue-transfer.ts), and what they are. */
export const transfersKey = (searchId: string) => `${QUEUE_PREFIX}:transfers-${searchId}`;
export const transferAnnouncement = z.strictObject({
  key: z.string().max(200).regex(/^cifar-mlp:transfer-[a-z0-9][a-z0-9-]{0,62}:\d{1,7}-\d{1,4}-[0-9a-f]{8}$/),
  files: z.array(storedFileSchema).max(256),
});
export type TransferAnnouncement = z.infer<typeof transferAnnouncement>;

export const resultEnvelopeSchema = z.strictObject({
  protocol: z.number(),
  version: z.string(),
  schema: z.string(),
  worker: z.string().max(200),
  result: trialResultSchema,
  files: z.array(z.strictObject({ path: relativeFilePath, gz: z.string() })).max(256),
  /** With an artifact store: where the files lie there, and what they are (then `files` is empty). */
  stored: z.strictObject({ location: storeLocation, files: z.array(storedFileSchema).max(256) }).optional(),
  /** Without one, for a folder larger than a small message: the transfer its files came in (then `files` is empty). */
  streamed: transferAnnouncement.optional(),
});
export type TrialJobResult = z.input<typeof resultEnvelopeSchema>;

export type { RungDecision, TrialResult };

/** A Redis URL as it may be printed: the password replaced by ***. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable url)';
  }
}

/** Checks a queue URL; returns it as it may be printed. */
export function checkQueueUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--queue ${JSON.stringify(redactUrl(url))}: not a URL; expected redis://[user:password@]host:port[/db] or rediss://…`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new UsageError(`--queue ${redactUrl(url)}: unsupported scheme ${u.protocol.replace(/:$/, '')}; expected redis:// or rediss:// (TLS)`);
  }
  if (!u.hostname) throw new UsageError(`--queue ${redactUrl(url)}: no host`);
  for (const [part, text] of [['user name', u.username], ['password', u.password]] as const) {
    try {
      decodeURIComponent(text);
    } catch {
      throw new UsageError(`--queue ${redactUrl(url)}: the ${part} holds a malformed %-escape; write a % in it as %25 (and @ : / # ? as %40 %3A %2F %23 %3F)`);
    }
  }
  if (u.pathname && u.pathname !== '/' && !/^\/\d{1,2}$/.test(u.pathname)) {
    throw new UsageError(`--queue ${redactUrl(url)}: the path must be a database number such as /0`);
  }
  return redactUrl(url);
}

/** One line per zod problem, naming the field. */
export function zodProblems(e: z.ZodError): string {
  return e.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ');
}

/**
 * model.json: the trained model on disk, one line of JSON written atomically (temporary file, then rename), holding
 * everything needed to evaluate, predict and resume:
 *
 *   { format: "cifar-mlp-model", version: 2 or 3, createdAt, step, totalSteps, shape: {d, m, k[, hidden, batchNorm]},
 *     classes: [10 names], data: { dir, train, val, test } (record counts, for resume checks),
 *     config: <the resolved training config>,
 *     normalization: { mean: <f32le base64>, invStd: <f32le base64> },
 *     params: { W1: {rows, cols, dtype: "f64le", data: <base64>}, b1, W2, b2 },    the network trained so far (at `step`)
 *       (a k-layer network: W1, b1, …, Wk, bk; with batch norm, gamma_l and beta_l instead of b_l and batch norm's
 *       running averages mean_l, var_l of every hidden layer l)
 *     velocity: { W1, b1, W2, b2 },            its momentum velocities (only when config.train.momentum > 0), or
 *                                              Adam's first moments (train.optimizer adamw, version 3)
 *     secondMoment: { W1, b1, W2, b2 },        Adam's second moments (train.optimizer adamw, version 3)
 *     members: [ { name, step, params: {W1, b1, W2, b2} } ],     the ensemble (only when the config builds one)
 *     sha256: <hex sha256 of the compact JSON of every other field, in this order> }
 *
 * `params` (and `velocity`) are what --resume continues. `members` are the networks the model predicts with, their
 * softmax outputs averaged (or their weights, config.ensemble.average): the cycle-end snapshots kept so far, or the
 * networks of an ensemble run (member-<i> folders), whose model.json holds members only, no `params`. Without
 * members (or with none yet), the model is `params` alone. Version 3 is written for networks that version 2 cannot
 * describe (more than one hidden layer, batch norm); the two-layer network is still written as version 2, and
 * version 1 files (params only) are still read.
 *
 * Weights are stored as little-endian float64 whatever the backend, so that a resumed run continues from exactly the
 * same numbers. Reading checks everything (JSON, format, version, checksum, the structure against the schema below,
 * config, shapes, sizes, finite values) and turns every problem into a one-line CheckpointError (exit code 2).
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { formatIssues } from '../config/load.js';
import { trainSchema, type TrainConfig } from '../config/train-schema.js';
import { CLASSES, PIXELS } from '../data/cifar.js';
import { DEFAULT_CLASS_NAMES, isClassName } from '../data/class-names.js';
import type { Normalization } from '../data/normalization.js';
import type { KernelBackend } from '../kernels/backend.js';
import { Ensemble, type Member } from '../model/ensemble.js';
import { hiddenWidths, Network, parameterShapes, type NetworkShape, type ParamName, type ParamValues } from '../model/network.js';
import { configuredShape } from '../model/shape.js';
import { writeFileAtomic } from '../util/atomic.js';
import { jsonDepth, MAX_JSON_DEPTH } from '../util/bounded-json.js';
import { UsageError } from '../util/errors.js';
import { FileReadError, readRegularText } from '../util/read-file.js';

export const MODEL_FORMAT = 'cifar-mlp-model';
export const MODEL_VERSION = 3;
/** The version written for the two-layer network without batch norm (all that version 2 describes). */
const TWO_LAYER_VERSION = 2;
/** Versions this code reads. */
const READABLE_VERSIONS = [1, 2, 3];
/** Most networks one model file may hold as members. */
export const MAX_MEMBERS = 256;
export const MODEL_FILE = 'model.json';

/** Largest model file we agree to read and write (one network of hidden 4096 takes ~135 MB). */
export const MAX_MODEL_BYTES = 512 * 2 ** 20;

/** A model file that cannot be used: one line naming the file and the problem; exit code 2. */
export class CheckpointError extends UsageError {
  override name = 'CheckpointError';
  constructor(message: string) {
    super(message.replace(/[\r\n]+/g, ' '));
  }
}

export interface DataCounts {
  train: number;
  val: number;
  test: number;
}

/** A loaded, verified model file. */
export interface Checkpoint {
  path: string;
  version: number;
  step: number;
  totalSteps: number;
  createdAt: string;
  shape: NetworkShape;
  classes: string[];
  data: DataCounts & { dir?: string };
  config: TrainConfig;
  normalization: Normalization;
  /** The network trained so far (null in an ensemble file, which holds members only). */
  params: ParamValues | null;
  /** Momentum velocities of `params` (null without momentum), or Adam's first moments. */
  velocity: ParamValues | null;
  /** Adam's second moments of `params` (null unless train.optimizer is adamw). */
  secondMoment: ParamValues | null;
  /** The ensemble's networks (empty: the model is `params`). */
  members: Member[];
}

export interface SaveOptions {
  config: TrainConfig;
  step: number;
  totalSteps: number;
  normalization: Normalization;
  data: DataCounts & { dir?: string };
  classes?: string[];
  /** The ensemble's networks so far (snapshots, or an ensemble run's members). */
  members?: readonly Member[];
}

// ---------------------------------------------------------------------------------------------------------
// The document's structure

const count = z.number().int().nonnegative();
const matrixEntry = z.object({ rows: z.unknown(), cols: z.unknown(), dtype: z.unknown(), data: z.unknown() });
const paramsEntry = z.record(z.string(), matrixEntry);

/** The model file's fields (what the checksum covers); the values inside them are checked as they are decoded. */
const documentSchema = z.object({
  format: z.literal(MODEL_FORMAT),
  version: z.number().refine((v) => READABLE_VERSIONS.includes(v)),
  createdAt: z.string().optional(),
  step: count,
  totalSteps: count,
  shape: z.unknown(),
  classes: z.unknown(),
  data: z.object({ train: count, val: count, test: count, dir: z.string().optional() }),
  config: z.unknown(),
  normalization: z.object({ mean: z.unknown(), invStd: z.unknown() }),
  params: paramsEntry.optional(),
  velocity: paramsEntry.optional(),
  secondMoment: paramsEntry.optional(),
  members: z.array(z.object({ name: z.string().min(1), step: count, params: z.unknown() })).max(MAX_MEMBERS).optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
type ModelDocument = z.infer<typeof documentSchema>;

/** The one-line message of the first problem zod found in a model document. */
function structureProblem(issue: z.core.$ZodIssue, doc: Record<string, unknown>): string {
  const [top, i, field] = issue.path;
  switch (top) {
    case 'format': return `not a cifar-mlp model file (no "format": "${MODEL_FORMAT}")`;
    case 'version': return `model file version ${JSON.stringify(doc.version)} is not supported (expected ${READABLE_VERSIONS.join(' or ')})`;
    case 'sha256': return 'the model file has no sha256 checksum';
    case 'step': case 'totalSteps': return `bad step ${JSON.stringify(doc.step)} of ${JSON.stringify(doc.totalSteps)}`;
    case 'data': return 'bad data record counts in the model file';
    case 'normalization': return 'no normalisation statistics in the model file';
    case 'params': case 'velocity': case 'secondMoment': {
      const what = top === 'params' ? 'weights' : top === 'velocity' ? 'velocity' : 'second moments';
      return i === undefined ? `${what} are missing` : `${what} ${String(i)} are missing`;
    }
    case 'members':
      if (typeof i !== 'number') return `"members" must be a list of at most ${MAX_MEMBERS} networks`;
      if (field === 'name') return `members[${i}] has no name`;
      return `members[${i}] has a bad step ${JSON.stringify((doc.members as Record<string, unknown>[])[i]?.step)} of ${JSON.stringify(doc.totalSteps)}`;
    default: return `${issue.path.join('.')}: ${issue.message}`;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Encoding

function encodeF64(values: ArrayLike<number>): string {
  const buf = Buffer.allocUnsafe(values.length * 8);
  for (let i = 0; i < values.length; i++) buf.writeDoubleLE(values[i], i * 8);
  return buf.toString('base64');
}

function encodeF32(values: Float32Array): string {
  const buf = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) buf.writeFloatLE(values[i], i * 4);
  return buf.toString('base64');
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64(s: unknown, bytes: number, what: string, file: string): Buffer {
  if (typeof s !== 'string' || !BASE64.test(s)) throw new CheckpointError(`${file}: ${what} is not base64 data`);
  const buf = Buffer.from(s, 'base64');
  if (buf.length !== bytes) throw new CheckpointError(`${file}: ${what} holds ${buf.length} bytes, expected ${bytes} (truncated or wrong shape)`);
  return buf;
}

/** sha256 (hex) of the compact JSON of a model body (everything but `sha256`). */
export function checksumOf(body: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex');
}

function encodeParams(values: ParamValues, dims: Record<ParamName, [number, number]>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(dims).map(([p, [rows, cols]]) => [p, { rows, cols, dtype: 'f64le', data: encodeF64(values[p]) }]));
}

/** rows × cols of each entry of `params` (the parameters and batch norm's running averages) of a network of this shape. */
export function paramShapes(shape: NetworkShape): Record<ParamName, [number, number]> {
  const { params, running } = parameterShapes(shape);
  return { ...params, ...running };
}

/** rows × cols of each velocity (one per parameter). */
const velocityShapes = (shape: NetworkShape) => parameterShapes(shape).params;

const fileVersion = (shape: NetworkShape, net: Network | null) => (shape.hidden || net?.secondMoment ? MODEL_VERSION : TWO_LAYER_VERSION);

/**
 * The model file's JSON text: the network's current parameters (and momentum velocities) when `net` is given, and
 * the ensemble's members. `net` null: an ensemble file (members only).
 */
export async function serializeModel(net: Network | null, opts: SaveOptions): Promise<string> {
  const shape = net?.shape ?? configuredShape(opts.config.model);
  if (!net && !opts.members?.length) throw new Error('serializeModel: neither a network nor ensemble members to save');
  const body: Record<string, unknown> = {
    format: MODEL_FORMAT,
    version: fileVersion(shape, net),
    createdAt: new Date().toISOString(),
    step: opts.step,
    totalSteps: opts.totalSteps,
    shape: { ...shape },
    classes: opts.classes ?? DEFAULT_CLASS_NAMES,
    data: opts.data,
    config: opts.config,
    normalization: { mean: encodeF32(opts.normalization.mean), invStd: encodeF32(opts.normalization.invStd) },
  };
  if (net) {
    body.params = encodeParams(await net.snapshot(), paramShapes(shape));
    if (net.velocity) body.velocity = encodeParams(await net.snapshot(net.velocity), velocityShapes(shape));
    if (net.secondMoment) body.secondMoment = encodeParams(await net.snapshot(net.secondMoment), velocityShapes(shape));
  }
  if (opts.members?.length) body.members = opts.members.map((m) => ({ name: m.name, step: m.step, params: encodeParams(m.params, paramShapes(shape)) }));
  return `${JSON.stringify({ ...body, sha256: checksumOf(body) })}\n`;
}

/** About how many bytes a model file of `networks` networks of this shape takes (base64 float64 weights). */
export function modelFileBytes(shape: NetworkShape, networks: number): number {
  const values = Object.values(paramShapes(shape)).reduce((sum, [rows, cols]) => sum + rows * cols, 0);
  return networks * Math.ceil((values * 8) / 3) * 4 + 64 * 1024;
}

/** Writes the model file atomically: a reader never sees half a model, a crash keeps the previous one. */
export async function saveCheckpoint(path: string, net: Network, opts: SaveOptions): Promise<void> {
  writeFileAtomic(path, await serializeModel(net, opts));
}

/** Writes an ensemble's model file (members only, no training state) atomically. */
export async function saveEnsembleModel(path: string, opts: SaveOptions & { members: readonly Member[] }): Promise<void> {
  writeFileAtomic(path, await serializeModel(null, opts));
}

// ---------------------------------------------------------------------------------------------------------
// Reading

/** A model path may name the file or a run folder holding model.json. */
export function resolveModelPath(path: string): string {
  try {
    if (statSync(path).isDirectory()) return join(path, MODEL_FILE);
  } catch {
    /* reported by loadCheckpoint */
  }
  return path;
}

export function readCheckpointText(path: string): string {
  let text: string;
  try {
    text = readRegularText(path, { maxBytes: MAX_MODEL_BYTES, expected: 'a model file' });
  } catch (e) {
    if (!(e instanceof FileReadError)) throw e;
    if (e.code === 'ENOENT') throw new CheckpointError(`${path}: model file not found`);
    if (e.code === 'EFBIG') throw new CheckpointError(`${path}: larger than ${MAX_MODEL_BYTES} bytes, too large for a model file`);
    if (e.code === 'ENOTREG') {
      throw new CheckpointError(`${path}: ${/is a directory/.test(e.reason) ? `is a directory without ${MODEL_FILE}, expected a model file` : e.reason}`);
    }
    throw new CheckpointError(`${path}: cannot read the model file (${e.code ?? e.reason})`);
  }
  if (text.length === 0) throw new CheckpointError(`${path}: the model file is empty`);
  return text;
}

/** The model document of a file's text, its structure and checksum verified. */
function parseDocument(text: string, path: string): ModelDocument {
  if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new CheckpointError(`${path}: not a cifar-mlp model file (JSON nested deeper than ${MAX_JSON_DEPTH} levels)`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${path}: not valid JSON, the model file is truncated or corrupt (${(e as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || (raw as Record<string, unknown>).format !== MODEL_FORMAT) {
    throw new CheckpointError(`${path}: not a cifar-mlp model file (no "format": "${MODEL_FORMAT}")`);
  }
  const doc = raw as Record<string, unknown>;
  // The envelope first: a file of another version is named as such before its checksum is looked at.
  const envelope = documentSchema.pick({ version: true, sha256: true }).safeParse(doc);
  if (!envelope.success) throw new CheckpointError(`${path}: ${structureProblem(envelope.error.issues[0], doc)}`);
  const { sha256, ...body } = doc;
  if (checksumOf(body) !== sha256) throw new CheckpointError(`${path}: checksum mismatch: the model file is corrupt or was modified`);
  // The checksum only proves the file is what some writer wrote: check the structure too.
  const parsed = documentSchema.safeParse(doc);
  if (!parsed.success) throw new CheckpointError(`${path}: ${structureProblem(parsed.error.issues[0], doc)}`);
  return parsed.data;
}

/** Parses and verifies a model file's text; `path` names it in messages. */
export function parseCheckpoint(text: string, path: string): Checkpoint {
  const doc = parseDocument(text, path);
  const config = trainSchema.safeParse(doc.config, { reportInput: true });
  if (!config.success) {
    const first = formatIssues(`${path}: config`, config.error.issues);
    throw new CheckpointError(`${first[0]}${first.length > 1 ? ` (and ${first.length - 1} more problems)` : ''}`);
  }
  const shape = configuredShape(config.data.model);
  if (!sameShape(doc.shape, shape)) {
    throw new CheckpointError(`${path}: shape ${showShape(doc.shape)} does not fit this network (expected ${showShape(shape)})`);
  }
  const { step, totalSteps, version } = doc;
  if (step > totalSteps) throw new CheckpointError(`${path}: bad step ${step} of ${totalSteps}`);
  const members = version >= 2 ? doc.members : undefined;
  if (doc.params === undefined && members === undefined) throw new CheckpointError(`${path}: no weights ("params") in the model file`);
  const params = doc.params === undefined ? null : decodeParams(doc.params, 'weights', paramShapes(shape), path);
  let velocity: ParamValues | null = null;
  if (version >= 2 && doc.velocity !== undefined) {
    if (!params) throw new CheckpointError(`${path}: momentum velocities without the weights they belong to ("params")`);
    velocity = decodeParams(doc.velocity, 'velocity', velocityShapes(shape), path);
  }
  let secondMoment: ParamValues | null = null;
  if (version >= 3 && doc.secondMoment !== undefined) {
    if (!velocity) throw new CheckpointError(`${path}: Adam's second moments without the first ("velocity")`);
    secondMoment = decodeParams(doc.secondMoment, 'second moments', velocityShapes(shape), path);
  }
  if (members && !params && members.length === 0) {
    throw new CheckpointError(`${path}: "members" must be a list of at most ${MAX_MEMBERS} networks (at least one without "params")`);
  }
  const networks = (members ?? []).map((e, i) => {
    if (e.step > totalSteps) throw new CheckpointError(`${path}: members[${i}] has a bad step ${e.step} of ${totalSteps}`);
    return { name: e.name, step: e.step, params: decodeParams(e.params, `members[${i}] weights`, paramShapes(shape), path) };
  });
  const stats = (key: 'mean' | 'invStd') => {
    const buf = decodeBase64(doc.normalization[key], PIXELS * 4, `normalization.${key}`, path);
    const out = new Float32Array(PIXELS);
    for (let i = 0; i < PIXELS; i++) {
      out[i] = buf.readFloatLE(i * 4);
      if (!Number.isFinite(out[i])) throw new CheckpointError(`${path}: normalization.${key} holds a non-finite value at index ${i}`);
    }
    return out;
  };
  const classes = z.array(z.string().refine(isClassName)).length(CLASSES).safeParse(doc.classes);
  return {
    path,
    version,
    step,
    totalSteps,
    createdAt: doc.createdAt ?? '',
    shape,
    classes: classes.success ? classes.data : DEFAULT_CLASS_NAMES,
    data: doc.data,
    config: config.data,
    normalization: { mean: stats('mean'), invStd: stats('invStd') },
    params,
    velocity,
    secondMoment,
    members: networks,
  };
}

const sameShape = (s: unknown, want: NetworkShape) => {
  if (s === null || typeof s !== 'object') return false;
  const o = s as Record<string, unknown>, hidden = Array.isArray(o.hidden) ? o.hidden : [o.m];
  return (['d', 'm', 'k'] as const).every((key) => o[key] === want[key]) && hidden.join() === hiddenWidths(want).join() && !!o.batchNorm === !!want.batchNorm;
};

/** The entries `expected` names (parameters, running averages or velocities) from their JSON entries, checked (`what` names them in messages). */
function decodeParams(raw: unknown, what: string, expected: Record<ParamName, [number, number]>, path: string): ParamValues {
  const entries = paramsEntry.safeParse(raw);
  if (!entries.success) {
    const p = entries.error.issues[0].path[0];
    throw new CheckpointError(`${path}: ${what}${p === undefined ? '' : ` ${String(p)}`} are missing`);
  }
  const out = {} as ParamValues;
  for (const [p, [rows, cols]] of Object.entries(expected)) {
    const e = entries.data[p];
    if (!e) throw new CheckpointError(`${path}: ${what} ${p} are missing`);
    if (e.rows !== rows || e.cols !== cols) {
      throw new CheckpointError(`${path}: ${what} ${p} are ${String(e.rows)}×${String(e.cols)}, expected ${rows}×${cols}`);
    }
    if (e.dtype !== 'f64le') throw new CheckpointError(`${path}: ${what} ${p} have dtype ${JSON.stringify(e.dtype)}, expected "f64le"`);
    const buf = decodeBase64(e.data, rows * cols * 8, `${what} ${p}`, path);
    const values = new Float64Array(rows * cols);
    for (let i = 0; i < values.length; i++) {
      const v = buf.readDoubleLE(i * 8);
      if (!Number.isFinite(v)) throw new CheckpointError(`${path}: ${what} ${p} hold a non-finite value (${v}) at index ${i}`);
      values[i] = v;
    }
    out[p] = values;
  }
  return out;
}

function showShape(s: unknown): string {
  if (s === null || typeof s !== 'object') return JSON.stringify(s) ?? String(s);
  const o = s as Record<string, unknown>;
  const deep = o.hidden === undefined ? '' : `, hidden: [${Array.isArray(o.hidden) ? o.hidden.join(', ') : String(o.hidden)}], batchNorm: ${String(o.batchNorm)}`;
  return `{d: ${String(o.d)}, m: ${String(o.m)}, k: ${String(o.k)}${deep}}`;
}

/** Reads and verifies a model file (or a run folder's model.json). */
export function loadCheckpoint(path: string): Checkpoint {
  const file = resolveModelPath(path);
  return parseCheckpoint(readCheckpointText(file), file);
}

// ---------------------------------------------------------------------------------------------------------
// What a model file delivers

/** A network on `backend` holding a checkpoint's trained weights (`params`). */
export async function networkFromCheckpoint(cp: Checkpoint, backend: KernelBackend): Promise<Network> {
  if (!cp.params) throw new CheckpointError(`${cp.path}: holds an ensemble's members only, no single trained network`);
  const net = new Network(backend, cp.shape);
  await net.restore(cp.params);
  return net;
}

/** The networks a checkpoint predicts with: its members, else its trained network. */
export function deliveredMembers(cp: Checkpoint): Member[] {
  return cp.members.length ? cp.members : [{ name: 'final', step: cp.step, params: cp.params! }];
}

/** The model a checkpoint delivers on `backend`: its ensemble (averaged as its config says) or its one network. */
export async function modelFromCheckpoint(cp: Checkpoint, backend: KernelBackend): Promise<Ensemble> {
  return Ensemble.of(backend, cp.shape, deliveredMembers(cp), cp.config.ensemble.average);
}

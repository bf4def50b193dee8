/**
 * The trained model on disk: `<out>/model.json`, one line of JSON written atomically (temporary file, then
 * rename), holding everything needed to evaluate, predict and resume:
 *
 *   { format: "cifar-mlp-model", version: 2, createdAt, step, totalSteps, shape: {d, m, k},
 *     classes: [10 names], data: { dir, train, val, test } (record counts, for resume checks),
 *     config: <the resolved training config>,
 *     normalization: { mean: <f32le base64>, invStd: <f32le base64> },
 *     params: { W1: {rows, cols, dtype: "f64le", data: <base64>}, b1, W2, b2 },    the network trained so far (at `step`)
 *     velocity: { W1, b1, W2, b2 },            its momentum velocities (only when config.train.momentum > 0)
 *     members: [ { name, step, params: {W1, b1, W2, b2} } ],     the ensemble (only when the config builds one)
 *     sha256: <hex sha256 of the compact JSON of every other field, in this order> }
 *
 * `params` (and `velocity`) are what --resume continues. `members` are the networks the model predicts with, their
 * softmax outputs averaged (or their weights, config.ensemble.average): the cycle-end snapshots kept so far, or the
 * networks of an ensemble run (member-<i> folders), whose model.json holds members only, no `params`. Without
 * members (or with none yet), the model is `params` alone. Version 1 files (params only) are still read.
 *
 * Weights are stored as little-endian float64 whatever the backend, so that a resumed run continues from
 * exactly the same numbers. Loading checks everything (JSON, format, version, checksum, config, shapes, sizes,
 * finite values) and turns every problem into a one-line CheckpointError (exit code 2).
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, ConfigError } from '../util/errors.js';
import { trainSchema, type TrainConfig } from '../config/train-schema.js';
import { formatIssues } from '../config/load.js';
import { CLASSES, PIXELS, type Dataset } from '../data/cifar.js';
import type { Normalization } from '../data/normalization.js';
import type { KernelBackend, Matrix } from '../kernels/backend.js';
import { writeFileAtomic } from '../util/atomic.js';
import { Ensemble, type Member } from './ensemble.js';
import { Network, PARAM_NAMES, type NetworkShape, type ParamName, type ParamValues, type ProbabilityModel } from './network.js';
import { jsonDepth, MAX_JSON_DEPTH } from '../util/bounded-json.js';
import { FileReadError, readRegularText } from '../util/read-file.js';

export const MODEL_FORMAT = 'cifar-mlp-model';
export const MODEL_VERSION = 2;
/** Versions this code reads. */
const READABLE_VERSIONS = [1, 2];
/** Most networks one model file may hold as members. */
export const MAX_MEMBERS = 256;
export const MODEL_FILE = 'model.json';
export const DEFAULT_CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

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
  /** Momentum velocities of `params` (null without momentum). */
  velocity: ParamValues | null;
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

function encodeParams(values: ParamValues, shape: NetworkShape): Record<string, unknown> {
  const dims = paramShapes(shape);
  return Object.fromEntries(PARAM_NAMES.map((p) => [p, { rows: dims[p][0], cols: dims[p][1], dtype: 'f64le', data: encodeF64(values[p]) }]));
}

/** rows × cols of each parameter of a network of this shape. */
export function paramShapes({ d, m, k }: NetworkShape): Record<ParamName, [number, number]> {
  return { W1: [m, d], b1: [1, m], W2: [k, m], b2: [1, k] };
}

/**
 * The model file's JSON text: the network's current parameters (and momentum velocities) when `net` is given, and
 * the ensemble's members. `net` null: an ensemble file (members only).
 */
export async function serializeModel(net: Network | null, opts: SaveOptions): Promise<string> {
  const shape = net?.shape ?? { d: PIXELS, m: opts.config.model.hidden, k: CLASSES };
  if (!net && !opts.members?.length) throw new Error('serializeModel: neither a network nor ensemble members to save');
  const body: Record<string, unknown> = {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
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
    body.params = encodeParams(await net.snapshot(), shape);
    if (net.velocity) body.velocity = encodeParams(await net.snapshot(net.velocity), shape);
  }
  if (opts.members?.length) body.members = opts.members.map((m) => ({ name: m.name, step: m.step, params: encodeParams(m.params, shape) }));
  return `${JSON.stringify({ ...body, sha256: checksumOf(body) })}\n`;
}

/** About how many bytes a model file of `networks` networks of width m takes (base64 float64 weights). */
export function modelFileBytes(m: number, networks: number): number {
  const values = m * PIXELS + m + CLASSES * m + CLASSES;
  return networks * Math.ceil((values * 8) / 3) * 4 + 64 * 1024;
}

/** Writes the model file atomically: a reader never sees half a model, a crash keeps the previous one. */
export async function saveCheckpoint(path: string, net: Network, opts: SaveOptions): Promise<void> {
  writeFileAtomic(path, await serializeModel(net, opts));
}

// ---------------------------------------------------------------------------------------------------------
// Loading

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

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

/** Parses and verifies a model file's text; `path` names it in messages. */
export function parseCheckpoint(text: string, path: string): Checkpoint {
  if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new CheckpointError(`${path}: not a cifar-mlp model file (JSON nested deeper than ${MAX_JSON_DEPTH} levels)`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${path}: not valid JSON, the model file is truncated or corrupt (${(e as Error).message})`);
  }
  if (!isObject(doc) || doc.format !== MODEL_FORMAT) throw new CheckpointError(`${path}: not a cifar-mlp model file (no "format": "${MODEL_FORMAT}")`);
  if (!READABLE_VERSIONS.includes(doc.version as number)) {
    throw new CheckpointError(`${path}: model file version ${JSON.stringify(doc.version)} is not supported (expected ${READABLE_VERSIONS.join(' or ')})`);
  }
  const version = doc.version as number;
  const { sha256, ...body } = doc;
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) throw new CheckpointError(`${path}: the model file has no sha256 checksum`);
  if (checksumOf(body) !== sha256) throw new CheckpointError(`${path}: checksum mismatch: the model file is corrupt or was modified`);

  // The checksum only proves the file is what some writer wrote: check the structure too.
  const parsed = trainSchema.safeParse(body.config, { reportInput: true });
  if (!parsed.success) {
    const first = formatIssues(`${path}: config`, parsed.error.issues);
    throw new CheckpointError(`${first[0]}${first.length > 1 ? ` (and ${first.length - 1} more problems)` : ''}`);
  }
  const config = parsed.data;
  const shape = body.shape;
  if (!isObject(shape) || shape.d !== PIXELS || shape.k !== CLASSES || shape.m !== config.model.hidden) {
    throw new CheckpointError(`${path}: shape ${showShape(shape)} does not fit this network (expected {d: ${PIXELS}, m: ${config.model.hidden}, k: ${CLASSES}})`);
  }
  const netShape = { d: PIXELS, m: config.model.hidden, k: CLASSES };
  if (!isCount(body.step) || !isCount(body.totalSteps) || body.step > body.totalSteps) {
    throw new CheckpointError(`${path}: bad step ${JSON.stringify(body.step)} of ${JSON.stringify(body.totalSteps)}`);
  }
  const step = body.step as number, totalSteps = body.totalSteps as number;
  const hasMembers = version >= 2 && body.members !== undefined;
  if (body.params === undefined && !hasMembers) throw new CheckpointError(`${path}: no weights ("params") in the model file`);
  const params = body.params === undefined ? null : decodeParams(body.params, 'weights', netShape, path);
  let velocity: ParamValues | null = null;
  if (version >= 2 && body.velocity !== undefined) {
    if (!params) throw new CheckpointError(`${path}: momentum velocities without the weights they belong to ("params")`);
    velocity = decodeParams(body.velocity, 'velocity', netShape, path);
  }
  const members: Member[] = [];
  if (hasMembers) {
    if (!Array.isArray(body.members) || body.members.length > MAX_MEMBERS || (!params && body.members.length === 0)) {
      throw new CheckpointError(`${path}: "members" must be a list of at most ${MAX_MEMBERS} networks${params ? '' : ' (at least one without "params")'}`);
    }
    body.members.forEach((e: unknown, i: number) => {
      const what = `members[${i}]`;
      if (!isObject(e) || typeof e.name !== 'string' || e.name.length === 0) throw new CheckpointError(`${path}: ${what} has no name`);
      if (!isCount(e.step) || e.step > totalSteps) throw new CheckpointError(`${path}: ${what} has a bad step ${JSON.stringify(e.step)} of ${totalSteps}`);
      members.push({ name: e.name, step: e.step, params: decodeParams(e.params, `${what} weights`, netShape, path) });
    });
  }
  const n = body.normalization;
  if (!isObject(n)) throw new CheckpointError(`${path}: no normalisation statistics in the model file`);
  const stats = (key: 'mean' | 'invStd') => {
    const buf = decodeBase64(n[key], PIXELS * 4, `normalization.${key}`, path);
    const out = new Float32Array(PIXELS);
    for (let i = 0; i < PIXELS; i++) {
      out[i] = buf.readFloatLE(i * 4);
      if (!Number.isFinite(out[i])) throw new CheckpointError(`${path}: normalization.${key} holds a non-finite value at index ${i}`);
    }
    return out;
  };
  const normalization = { mean: stats('mean'), invStd: stats('invStd') };
  const data = body.data;
  if (!isObject(data) || !isCount(data.train) || !isCount(data.val) || !isCount(data.test) || (data.dir !== undefined && typeof data.dir !== 'string')) {
    throw new CheckpointError(`${path}: bad data record counts in the model file`);
  }
  const classes = Array.isArray(body.classes) && body.classes.length === CLASSES && body.classes.every((c) => typeof c === 'string' && c.length > 0)
    ? (body.classes as string[])
    : DEFAULT_CLASS_NAMES;
  return {
    path,
    version,
    step,
    totalSteps,
    createdAt: typeof body.createdAt === 'string' ? body.createdAt : '',
    shape: netShape,
    classes,
    data: { train: data.train, val: data.val, test: data.test, ...(typeof data.dir === 'string' ? { dir: data.dir } : {}) },
    config,
    normalization,
    params,
    velocity,
    members,
  };
}

/** The four parameters of a network of `shape` from their JSON entries, checked (`what` names them in messages). */
function decodeParams(raw: unknown, what: string, shape: NetworkShape, path: string): ParamValues {
  if (!isObject(raw)) throw new CheckpointError(`${path}: ${what} are missing`);
  const expected = paramShapes(shape);
  const out = {} as ParamValues;
  for (const p of PARAM_NAMES) {
    const e = raw[p];
    const [rows, cols] = expected[p];
    if (!isObject(e)) throw new CheckpointError(`${path}: ${what} ${p} are missing`);
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
  if (!isObject(s)) return JSON.stringify(s) ?? String(s);
  return `{d: ${String(s.d)}, m: ${String(s.m)}, k: ${String(s.k)}}`;
}

/** Reads and verifies a model file (or a run folder's model.json). */
export function loadCheckpoint(path: string): Checkpoint {
  const file = resolveModelPath(path);
  return parseCheckpoint(readCheckpointText(file), file);
}

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

// ---------------------------------------------------------------------------------------------------------
// Resume checks

/** Fields that may differ between a checkpoint's config and a resumed run's (they do not change the result). */
const RESUME_FREE = new Set(['kernels', 'checkpoint', 'data.dir', 'data.url', 'data.md5', 'lrFind']);

function differences(a: unknown, b: unknown, path: string, out: string[]): void {
  if (RESUME_FREE.has(path)) return;
  if (isObject(a) && isObject(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) differences(a[k], b[k], path ? `${path}.${k}` : k, out);
  } else if (JSON.stringify(a) !== JSON.stringify(b)) {
    out.push(`${path} (checkpoint ${JSON.stringify(a) ?? 'missing'}, now ${JSON.stringify(b) ?? 'missing'})`);
  }
}

/** Throws when a run's config or data differ from the checkpoint's (the run would not be the checkpoint's). */
export function checkSameRun(cp: Checkpoint, config: TrainConfig, counts: DataCounts, norm?: Normalization, what = 'cannot resume'): void {
  const diff: string[] = [];
  differences(cp.config, config, '', diff);
  if (diff.length) {
    throw new ConfigError([`${cp.path}: ${what}: the config differs from the checkpoint's at ${diff.slice(0, 4).join('; ')}${diff.length > 4 ? `; and ${diff.length - 4} more` : ''}`]);
  }
  if (cp.data.train !== counts.train || cp.data.val !== counts.val || cp.data.test !== counts.test) {
    throw new CheckpointError(`${cp.path}: ${what}: the data differ from the checkpoint's (train/val/test records ${cp.data.train}/${cp.data.val}/${cp.data.test}, now ${counts.train}/${counts.val}/${counts.test})`);
  }
  if (norm) {
    for (let i = 0; i < PIXELS; i++) {
      if (norm.mean[i] !== cp.normalization.mean[i] || norm.invStd[i] !== cp.normalization.invStd[i]) {
        throw new CheckpointError(`${cp.path}: ${what}: the training images differ from the checkpoint's (normalisation statistics differ at input ${i})`);
      }
    }
  }
}

/** Throws when a run cannot continue from the checkpoint: another config or data, a finished run, missing state. */
export function checkResumable(cp: Checkpoint, config: TrainConfig, counts: DataCounts, norm?: Normalization): void {
  if (!cp.params) throw new CheckpointError(`${cp.path}: cannot resume: an ensemble file (members only) holds no training state`);
  checkSameRun(cp, config, counts, norm);
  if (cp.step >= cp.totalSteps) throw new CheckpointError(`${cp.path}: nothing to resume: the run already did all ${cp.totalSteps} steps`);
  if (config.train.momentum > 0 && !cp.velocity) throw new CheckpointError(`${cp.path}: cannot resume: no momentum velocities in the model file`);
}

// ---------------------------------------------------------------------------------------------------------
// Predictions

/** Class probabilities of records, computed in chunks by the model's forward pass (a network's, or each member's). */
export class Predictor {
  private readonly X: Matrix;
  private readonly rows: Int32Array;

  constructor(private readonly net: ProbabilityModel, private readonly norm: Normalization, readonly chunk = 500) {
    this.X = net.backend.matrix(chunk, net.shape.d);
    this.rows = new Int32Array(chunk);
  }

  /** Probabilities (count × k, row-major) of records [start, start + count) of `data`, count ≤ chunk. */
  async probabilities(data: Pick<Dataset, 'pixels'>, start: number, count: number): Promise<Float64Array> {
    const b = this.net.backend, k = this.net.shape.k;
    for (let i = 0; i < count; i++) this.rows[i] = start + i;
    await b.gatherNormalized(data.pixels, this.rows, count, this.norm.mean, this.norm.invStd, this.X);
    const P = await this.net.probabilities(this.X);
    return (await b.read(P)).subarray(0, count * k);
  }

  /** Calls `each(record, probabilities)` for every record of `data`. */
  async forEach(data: Dataset, each: (record: number, p: Float64Array) => void): Promise<void> {
    const k = this.net.shape.k;
    for (let start = 0; start < data.count; start += this.chunk) {
      const n = Math.min(this.chunk, data.count - start);
      const p = await this.probabilities(data, start, n);
      for (let i = 0; i < n; i++) each(start + i, p.subarray(i * k, (i + 1) * k));
    }
  }
}

export function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let j = 1; j < p.length; j++) if (p[j] > p[best]) best = j;
  return best;
}

/** Class names from a batches.meta.txt (10 non-empty lines), else null. */
export function readClassNames(dataDir: string): string[] | null {
  try {
    const names = readRegularText(join(dataDir, 'batches.meta.txt'), { maxBytes: 64 * 1024, expected: 'a class name list' }).split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    return names.length === CLASSES ? names : null;
  } catch {
    return null;
  }
}

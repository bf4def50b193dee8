/**
 * `cifar-mlp ensemble <model…> --out <file>`: one ensemble model file from the model files (or run folders) of
 * separately trained networks of the same shape and training data, e.g. runs with other seeds started side by side
 * (one process per core). The file holds every network each source delivers (its members, else its trained network),
 * named `<source>:<name>`, and predicts with the mean of their softmax outputs; `evaluate` and `predict` take it like
 * any model file. Sources whose shape, training data (record counts, normalisation statistics) or classes differ
 * are refused, naming the file.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { UsageError } from '../../util/errors.js';
import { PIXELS } from '../../data/cifar.js';
import {
  CheckpointError, deliveredMembers, loadCheckpoint, MAX_MEMBERS, MAX_MODEL_BYTES, modelFileBytes, serializeModel, type Checkpoint,
} from '../../formats/model-file.js';
import type { Member } from '../../model/ensemble.js';
import { hiddenWidths } from '../../model/network.js';
import { writeFileAtomic } from '../../util/atomic.js';

/** Throws unless `b` can join `a` in one ensemble. */
function checkCompatible(a: Checkpoint, b: Checkpoint): void {
  const problem = (what: string) => new CheckpointError(`${b.path}: cannot join an ensemble with ${a.path}: ${what}`);
  const layers = (cp: Checkpoint) => `${hiddenWidths(cp.shape).join('+')}${cp.shape.batchNorm ? ' with batch norm' : ''}`;
  if (layers(b) !== layers(a)) throw problem(`hidden units ${layers(b)}, not ${layers(a)}`);
  if (b.data.train !== a.data.train || b.data.val !== a.data.val || b.data.test !== a.data.test) {
    throw problem(`train/val/test records ${b.data.train}/${b.data.val}/${b.data.test}, not ${a.data.train}/${a.data.val}/${a.data.test}`);
  }
  for (let i = 0; i < PIXELS; i++) {
    if (a.normalization.mean[i] !== b.normalization.mean[i] || a.normalization.invStd[i] !== b.normalization.invStd[i]) {
      throw problem(`another training split (normalisation statistics differ at input ${i})`);
    }
  }
  const dataOf = (cp: Checkpoint) => JSON.stringify({ ...cp.config.data, dir: undefined });
  if (dataOf(a) !== dataOf(b)) throw problem('another data config (data.* but dir)');
  if (a.classes.join() !== b.classes.join()) throw problem('other class names');
}

export async function ensembleCommand(sources: string[], o: { out: string; name?: string }): Promise<number> {
  if (sources.length < 2) throw new UsageError('ensemble: give at least two model files or run folders');
  if (existsSync(o.out) && statSync(o.out).isDirectory()) throw new UsageError(`--out ${o.out}: is a folder, expected the path of the model file to write`);
  const cps = sources.map((s) => loadCheckpoint(s)); // every source is checked before anything is written
  for (const cp of cps.slice(1)) checkCompatible(cps[0], cp);
  const label = (cp: Checkpoint) => relative(dirname(o.out), cp.path) || cp.path;
  const members: Member[] = cps.flatMap((cp) => deliveredMembers(cp).map((m) => ({ ...m, name: `${label(cp)}:${m.name}` })));
  const first = cps[0];
  if (members.length > MAX_MEMBERS || modelFileBytes(first.shape, members.length) > MAX_MODEL_BYTES) {
    throw new UsageError(`ensemble: ${members.length} networks of ${first.shape.m} hidden units are more than a model file may hold ` +
      `(${MAX_MEMBERS} networks, ${MAX_MODEL_BYTES / 2 ** 20} MiB)`);
  }
  const config = { ...first.config, name: o.name ?? `${first.config.name}-ensemble`, ensemble: { ...first.config.ensemble, average: 'softmax' as const, members: 1 } };
  const text = await serializeModel(null, {
    config, step: Math.max(...cps.map((cp) => cp.step)), totalSteps: Math.max(...cps.map((cp) => cp.totalSteps)),
    normalization: first.normalization, data: first.data, classes: first.classes, members,
  });
  try {
    writeFileAtomic(o.out, text);
  } catch (e) {
    throw new UsageError(`--out ${o.out}: cannot write the model file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  process.stderr.write(`cifar-mlp: ensemble of ${members.length} networks from ${sources.length} model files written to ${o.out}\n`);
  return 0;
}

/**
 * Whether a run can continue from a model file: the same config (apart from fields that do not change the result),
 * the same data, training state left to do. A resumed run continues from exactly the checkpoint's numbers.
 */
import type { TrainConfig } from '../config/schema.js';
import { PIXELS } from '../data/cifar.js';
import type { Normalization } from '../data/normalization.js';
import { CheckpointError, type Checkpoint, type DataCounts } from '../formats/model-file.js';
import { configuredOptimizer } from '../model/shape.js';
import { ConfigError } from '../util/errors.js';
import type { ResumeState } from './train.js';

/** Fields that may differ between a checkpoint's config and a resumed run's (they do not change the result). */
const RESUME_FREE = new Set(['kernels', 'checkpoint', 'data.dir', 'data.url', 'data.md5', 'lrFind']);

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

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
  const optimizer = configuredOptimizer(config.train);
  if (optimizer && !cp.velocity) throw new CheckpointError(`${cp.path}: cannot resume: no momentum velocities in the model file`);
  if (optimizer && 'beta1' in optimizer && !cp.secondMoment) throw new CheckpointError(`${cp.path}: cannot resume: no Adam second moments in the model file`);
}

/** What a resumed run continues from a verified checkpoint: its network, velocities and snapshots. */
export function resumeStateOf(cp: Checkpoint): ResumeState {
  return { step: cp.step, params: cp.params!, velocity: cp.velocity, secondMoment: cp.secondMoment, members: cp.members };
}

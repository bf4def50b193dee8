/**
 * Snapshot stage (snapshot ensembles): after each of the given steps, a copy of the network's weights joins the
 * ensemble's members, named `snapshot@<step>`. The list is the run's: the checkpoint after it saves it.
 */
import { concatMap, type MonoTypeOperatorFunction } from 'rxjs';
import type { Member } from '../model/ensemble.js';
import type { Network } from '../model/network.js';
import type { StepResult } from './types.js';

export const snapshotName = (step: number) => `snapshot@${step}`;

export function snapshot<T extends StepResult>(net: Network, steps: readonly number[], members: Member[]): MonoTypeOperatorFunction<T> {
  const at = new Set(steps);
  return concatMap(async (s) => {
    if (at.has(s.step)) members.push({ name: snapshotName(s.step), step: s.step, params: await net.snapshot() });
    return s;
  });
}

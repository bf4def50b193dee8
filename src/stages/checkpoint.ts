/** Checkpoint stage: saves the network every `every` steps (0 = never), strictly between the first and last step. */
import { concatMap, type MonoTypeOperatorFunction } from 'rxjs';
import type { StepResult } from './types.js';

export function checkpoint<T extends StepResult>(every: number, first: number, total: number, save: (step: number) => Promise<void>): MonoTypeOperatorFunction<T> {
  return concatMap(async (s) => {
    if (every > 0 && s.step > first && s.step < total && s.step % every === 0) await save(s.step);
    return s;
  });
}

/**
 * Rung gate stage (successive halving): at each rung step, the validation accuracy goes to `decide`, which may stop
 * the run there ('prune'); the run then ends with status pruned at that step. The accuracy is the evaluation point's
 * when the rung falls on one, else the validation split is evaluated for it.
 */
import { concatMap, type MonoTypeOperatorFunction } from 'rxjs';
import type { Dataset } from '../data/cifar.js';
import type { Evaluator } from '../model/evaluator.js';
import type { EvaluatedStep } from './types.js';

import type { RungDecision } from '../formats/rungs-csv.js';

export interface RungPlan {
  /** Update steps (1-based counts) at which the run reports; ascending. */
  steps: readonly number[];
  decide: (step: number, valAccuracy: number) => Promise<RungDecision> | RungDecision;
}

export class PrunedError extends Error {
  override name = 'PrunedError';
  constructor(readonly step: number, readonly valAccuracy: number) {
    super(`pruned at step ${step} (validation accuracy ${(100 * valAccuracy).toFixed(2)}%)`);
  }
}

export function rungGate(plan: RungPlan, evaluator: Evaluator, val: Dataset, lambda: number): MonoTypeOperatorFunction<EvaluatedStep> {
  const rungs = new Set(plan.steps);
  return concatMap(async (s) => {
    if (!rungs.has(s.step)) return s;
    const valAccuracy = s.metrics?.val.accuracy ?? (await evaluator.evaluate(val, lambda)).accuracy;
    if ((await plan.decide(s.step, valAccuracy)) === 'prune') throw new PrunedError(s.step, valAccuracy);
    return s;
  });
}

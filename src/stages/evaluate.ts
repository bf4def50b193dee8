/** Evaluate stage: at every evaluation point, metrics of the training and validation splits. */
import { concatMap, type OperatorFunction } from 'rxjs';
import type { Dataset } from '../data/cifar.js';
import type { Evaluator } from '../model/evaluator.js';
import type { EvaluatedStep, StepResult } from './types.js';

export interface EvaluationPlan {
  evaluator: Evaluator;
  train: Dataset;
  val: Dataset;
  lambda: number;
  trainLimit?: number;
  isEvaluationPoint: (step: number) => boolean;
  elapsedSeconds: () => number;
}

export function evaluate(plan: EvaluationPlan): OperatorFunction<StepResult, EvaluatedStep> {
  return concatMap(async (s) => {
    if (!plan.isEvaluationPoint(s.step)) return s;
    const train = await plan.evaluator.evaluate(plan.train, plan.lambda, plan.trainLimit);
    const val = await plan.evaluator.evaluate(plan.val, plan.lambda);
    return { ...s, metrics: { step: s.step, epoch: s.epoch, eta: s.eta, train, val, elapsed_s: plan.elapsedSeconds() } };
  });
}

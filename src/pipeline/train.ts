/**
 * The training pipeline: a stream of update steps through one operator per job,
 *
 *   step source → shuffle → normalize → train step → evaluate → metrics sink → [rung gate] → checkpoint → ledger
 *
 * The source emits the next step only when the ledger has taken the last one (step-source.ts), so the stream holds
 * one step at a time, whatever the run's length, and a stop (the abort signal: SIGINT/SIGTERM) ends it between two
 * steps. Around the stream: a fresh run records the untrained network at step 0 and saves a step-0 checkpoint; the
 * end of the run (completed, interrupted, diverged, failed) writes its final metrics, checkpoint and summary.
 */
import { join } from 'node:path';
import { concat, defer, EMPTY, identity, lastValueFrom, pipe, tap } from 'rxjs';
import type { TrainConfig } from '../config/schema.js';
import { toYaml } from '../config/load.js';
import { PIXELS, CLASSES } from '../data/cifar.js';
import { computeNormalization, type Normalization } from '../data/normalization.js';
import type { Splits } from '../data/splits.js';
import type { KernelBackend } from '../kernels/backend.js';
import { Evaluator } from '../model/evaluator.js';
import { Network } from '../model/network.js';
import { cyclicalEta } from '../model/schedule.js';
import { deriveSeed, Rng } from '../util/rng.js';
import { writeFileAtomic } from '../util/atomic.js';
import { checkpoint } from '../stages/checkpoint.js';
import { evaluate } from '../stages/evaluate.js';
import { METRICS_COLUMNS, metricsSink } from '../stages/metrics-sink.js';
import { CsvLog } from '../util/csv-log.js';
import { makeDirs } from '../util/make-dirs.js';
import { normalize } from '../stages/normalize.js';
import { shuffle } from '../stages/shuffle.js';
import { PrunedError, rungGate, type RungPlan } from '../stages/rung-gate.js';
import { DivergedError, trainStep } from '../stages/train-step.js';
import type { EvaluatedStep } from '../stages/types.js';
import { RunLedger, type RunStatus, type Summary } from './ledger.js';
import { planRun, type RunPlan } from './plan.js';
import { stepSource } from './step-source.js';

export type { RunStatus, Summary };

/** Where a resumed run starts: the network state and the number of updates already done. */
export interface ResumeState {
  step: number;
  params: Parameters<Network['restore']>[0];
}

export interface TrainingOptions {
  config: TrainConfig;
  splits: Splits;
  backend: KernelBackend;
  outDir: string;
  signal?: AbortSignal;
  /** Called after every update step (progress display). */
  onStep?: (s: EvaluatedStep, plan: RunPlan) => void;
  /**
   * Saves the network (model.json): at step 0 of a fresh run, every config.checkpoint.every steps, and at the end
   * of a completed or interrupted run. Without it the run keeps no checkpoint (search trials).
   */
  onCheckpoint?: (net: Network, step: number, norm: Normalization) => void | Promise<void>;
  resume?: ResumeState;
  /** Normalisation statistics, when already computed (search trials share them). */
  normalization?: Normalization;
  /** Successive-halving rungs of a search trial: the run reports its validation accuracy there and may be pruned. */
  rungs?: RungPlan;
  /** Evaluate the finished run on the test split (default true; search trials: false, final.test is then null). */
  testFinal?: boolean;
}

export interface TrainingResult {
  summary: Summary;
  network: Network;
  normalization: Normalization;
}

export async function runTraining(opts: TrainingOptions): Promise<TrainingResult> {
  const { config, splits, backend, outDir, signal } = opts;
  const plan = planRun(config, splits.train.count);
  makeDirs(outDir);
  writeFileAtomic(join(outDir, 'config.yaml'), toYaml(config));

  const norm = opts.normalization ?? computeNormalization(splits.train);
  const net = new Network(backend, { d: PIXELS, m: config.model.hidden, k: CLASSES });
  await net.initialise(new Rng(deriveSeed(config.seed, 'init')));
  const firstStep = opts.resume?.step ?? 0;
  if (opts.resume) await net.restore(opts.resume.params);

  const lambda = config.train.lambda;
  const evaluator = new Evaluator(net, norm, Math.min(1000, Math.max(splits.train.count, splits.val.count, splits.test.count)));
  const X = backend.matrix(config.train.batchSize, PIXELS);
  const ledger = new RunLedger(outDir, config, plan, backend, firstStep);
  let log: CsvLog;
  try {
    log = new CsvLog(join(outDir, 'metrics.csv'), METRICS_COLUMNS, firstStep > 0);
  } catch (e) {
    ledger.status = 'failed';
    ledger.error = (e as Error).message;
    return { summary: ledger.close(), network: net, normalization: norm };
  }
  const save = async (step: number) => {
    if (!opts.onCheckpoint) return;
    await opts.onCheckpoint(net, step, norm);
    ledger.checkpointStep = step;
  };
  ledger.write();
  const started = performance.now();

  // The stages are built once: they keep state across steps (the epoch's permutation, buffers).
  const record = pipe(
    evaluate({
      evaluator, train: splits.train, val: splits.val, lambda, trainLimit: config.eval.trainSubset,
      isEvaluationPoint: (s) => s % plan.evalEvery === 0 || s === plan.totalSteps,
      elapsedSeconds: () => (performance.now() - started) / 1000,
    }),
    metricsSink(log),
  );
  const source = stepSource(firstStep, plan.totalSteps, signal);
  const steps$ = source.steps$.pipe(
    shuffle(config.seed, splits.train.count, config.train.batchSize),
    normalize(backend, splits.train, norm, X),
    trainStep(net, { etaAt: (step) => cyclicalEta(config.schedule, step), lambda, stepsPerEpoch: plan.stepsPerEpoch }),
    record,
    opts.rungs ? rungGate(opts.rungs, evaluator, splits.val, lambda) : identity,
    checkpoint(config.checkpoint.every, firstStep, plan.totalSteps, save),
    tap((s) => {
      ledger.stepDone(s);
      opts.onStep?.(s, plan);
      source.next();
    }),
  );
  // A fresh run also records the untrained network at step 0, where the schedule starts, and saves it.
  const start$ = firstStep > 0 ? EMPTY : defer(async () => {
    await save(0);
    return { step: 0, epoch: 0, eta: cyclicalEta(config.schedule, 0), batchLoss: NaN };
  }).pipe(
    record,
    tap((s) => opts.onStep?.(s, plan)),
  );

  try {
    await lastValueFrom(concat(start$, steps$), { defaultValue: null });
    ledger.status = ledger.stepsDone < plan.totalSteps ? 'interrupted' : 'completed';
  } catch (e) {
    if (e instanceof PrunedError) {
      ledger.status = 'pruned';
      ledger.pruned = { step: e.step, valAccuracy: e.valAccuracy };
      ledger.stepsDone = e.step;
    } else {
      ledger.status = e instanceof DivergedError ? 'diverged' : 'failed';
      if (e instanceof DivergedError) ledger.divergedAtStep = e.step;
      ledger.error = (e as Error).message;
    }
  } finally {
    await log.close().catch((e) => {
      if (ledger.status !== 'failed') ledger.error = (e as Error).message;
      ledger.status = 'failed';
    });
  }
  ledger.trainSeconds = (performance.now() - started) / 1000 - evaluator.seconds;

  try {
    if (ledger.status === 'completed') {
      ledger.final = {
        train: await evaluator.evaluate(splits.train, lambda),
        val: await evaluator.evaluate(splits.val, lambda),
        test: opts.testFinal === false ? null : await evaluator.evaluate(splits.test, lambda),
      };
    }
    if (ledger.status === 'completed' || ledger.status === 'interrupted') await save(ledger.stepsDone);
  } catch (e) {
    ledger.status = 'failed';
    ledger.error = (e as Error).message;
  }
  return { summary: ledger.close(), network: net, normalization: norm };
}

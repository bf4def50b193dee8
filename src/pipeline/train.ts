/**
 * The training pipeline: step numbers flow through the stages
 *   shuffle → normalize → train step → evaluate → metrics sink
 * one step at a time (each step's stages finish before the next step starts: no buffering of batches),
 * and the run ends with final metrics and summary.json.
 */
import { join } from 'node:path';
import { concat, concatMap, defaultIfEmpty, EMPTY, lastValueFrom, of, pipe, range } from 'rxjs';
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
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { evaluate } from '../stages/evaluate.js';
import { METRICS_COLUMNS, metricsSink } from '../stages/metrics-sink.js';
import { CsvLog } from '../util/csv-log.js';
import { makeDirs } from '../util/make-dirs.js';
import { normalize } from '../stages/normalize.js';
import { shuffle } from '../stages/shuffle.js';
import { DivergedError, trainStep } from '../stages/train-step.js';
import type { EvaluatedStep, SplitMetrics } from '../stages/types.js';
import { planRun, type RunPlan } from './plan.js';

export type RunStatus = 'completed' | 'diverged' | 'interrupted' | 'failed';

export interface Summary {
  status: RunStatus;
  name: string;
  backend: string;
  threads: number;
  seed: number;
  steps: number;
  totalSteps: number;
  epochs: number;
  seconds: number;
  samplesPerSecond: number;
  divergedAtStep?: number;
  error?: string;
  startedAt: string;
  finishedAt: string;
  config: TrainConfig;
  final: { train: SplitMetrics; val: SplitMetrics; test: SplitMetrics } | null;
  lastMetrics: EvaluatedStep['metrics'] | null;
}

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
  /** Called every config.checkpoint.every steps and at the end, with the network (checkpoint writer). */
  onCheckpoint?: (net: Network, step: number, norm: Normalization) => void | Promise<void>;
  resume?: ResumeState;
  /** Normalisation statistics, when already computed (search trials share them). */
  normalization?: Normalization;
}

export interface TrainingResult {
  summary: Summary;
  network: Network;
  normalization: Normalization;
}

export async function runTraining(opts: TrainingOptions): Promise<TrainingResult> {
  const { config, splits, backend, outDir, signal } = opts;
  const started = Date.now();
  const plan = planRun(config, splits.train.count);
  makeDirs(outDir);
  writeFileAtomic(join(outDir, 'config.yaml'), toYaml(config));

  const norm = opts.normalization ?? computeNormalization(splits.train);
  const net = new Network(backend, { d: PIXELS, m: config.model.hidden, k: CLASSES });
  net.initialise(new Rng(deriveSeed(config.seed, 'init')));
  const firstStep = opts.resume?.step ?? 0;
  if (opts.resume) net.restore(opts.resume.params);

  const lambda = config.train.lambda;
  const evaluator = new Evaluator(net, norm, Math.min(1000, Math.max(splits.train.count, splits.val.count, splits.test.count)));
  const X = backend.matrix(config.train.batchSize, PIXELS);
  const log = new CsvLog(join(outDir, 'metrics.csv'), METRICS_COLUMNS, firstStep > 0);
  const stepClock = Date.now();
  const elapsedSeconds = () => (Date.now() - started) / 1000;
  const checkpointEvery = config.checkpoint.every;

  let status: RunStatus = 'completed';
  let stepsDone = firstStep;
  let lastMetrics: Summary['lastMetrics'] = null;
  let divergedAtStep: number | undefined;
  let error: string | undefined;
  let lastYield = Date.now();

  // The stage operators are built once: they keep state across steps (the epoch's permutation, buffers).
  const record = pipe(
    evaluate({
      evaluator, train: splits.train, val: splits.val, lambda, trainLimit: config.eval.trainSubset,
      isEvaluationPoint: (s) => s % plan.evalEvery === 0 || s === plan.totalSteps,
      elapsedSeconds,
    }),
    metricsSink(log),
  );
  // After each step, still inside it (the next step starts only once this is done): progress, the periodic
  // checkpoint (so it holds exactly the network of its step), and now and then a turn of the event loop:
  // synchronous backends run a whole run in microtasks, which would keep a SIGINT/SIGTERM handler (the abort
  // signal) from running until the run is over.
  const afterStep = concatMap(async (s: EvaluatedStep) => {
    stepsDone = s.step;
    if (s.metrics) lastMetrics = s.metrics;
    opts.onStep?.(s, plan);
    if (opts.onCheckpoint && checkpointEvery > 0 && s.step > firstStep && s.step % checkpointEvery === 0 && s.step < plan.totalSteps) {
      await opts.onCheckpoint(net, s.step, norm);
    }
    if (Date.now() - lastYield >= 25) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      lastYield = Date.now();
    }
    return s;
  });
  const oneStep = pipe(
    shuffle(config.seed, splits.train.count, config.train.batchSize),
    normalize(backend, splits.train, norm, X),
    trainStep(net, config.schedule, lambda, plan.stepsPerEpoch),
    record,
    afterStep,
  );
  // A fresh run also records the untrained network at step 0, where the schedule starts.
  const start$ = firstStep === 0 ? of({ step: 0, epoch: 0, eta: cyclicalEta(config.schedule, 0), batchLoss: NaN }).pipe(record, afterStep) : EMPTY;
  // SIGINT/SIGTERM (the signal) end the run between two steps, never in the middle of one: a step that has
  // begun finishes (and a pending step sees the signal and does nothing).
  const steps$ = concat(
    start$,
    range(firstStep, plan.totalSteps - firstStep).pipe(concatMap((step) => (signal?.aborted ? EMPTY : of(step).pipe(oneStep)))),
  ).pipe(defaultIfEmpty(null));

  try {
    await lastValueFrom(steps$);
    if (signal?.aborted && stepsDone < plan.totalSteps) status = 'interrupted';
  } catch (e) {
    if (e instanceof DivergedError) {
      status = 'diverged';
      divergedAtStep = e.step;
      error = e.message;
    } else {
      status = 'failed';
      error = (e as Error).message;
    }
  } finally {
    await log.close();
  }
  const trainSeconds = (Date.now() - stepClock) / 1000 - evaluator.seconds;

  let final: Summary['final'] = null;
  if (status === 'completed') {
    final = {
      train: await evaluator.evaluate(splits.train, lambda),
      val: await evaluator.evaluate(splits.val, lambda),
      test: await evaluator.evaluate(splits.test, lambda),
    };
  }
  if (opts.onCheckpoint && status !== 'failed' && status !== 'diverged') await opts.onCheckpoint(net, stepsDone, norm);

  const trained = stepsDone - firstStep;
  const summary: Summary = {
    status,
    name: config.name,
    backend: backend.name,
    threads: backend.threads + 1,
    seed: config.seed,
    steps: stepsDone,
    totalSteps: plan.totalSteps,
    epochs: stepsDone / plan.stepsPerEpoch,
    seconds: (Date.now() - started) / 1000,
    samplesPerSecond: trainSeconds > 0 ? (trained * config.train.batchSize) / trainSeconds : 0,
    ...(divergedAtStep !== undefined ? { divergedAtStep } : {}),
    ...(error !== undefined ? { error } : {}),
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date().toISOString(),
    config,
    final,
    lastMetrics,
  };
  writeJsonAtomic(join(outDir, 'summary.json'), summary);
  return { summary, network: net, normalization: norm };
}

/**
 * The training pipeline: a stream of update steps through one operator per job,
 *
 *   step source → shuffle → [augment] → normalize → train step → evaluate → metrics sink → [rung gate] → [snapshot]
 *     → checkpoint → ledger
 *
 * The source emits the next step only when the ledger has taken the last one (step-source.ts), so the stream holds
 * one step at a time, whatever the run's length, and a stop (the abort signal: SIGINT/SIGTERM) ends it between two
 * steps. Around the stream: a fresh run records the untrained network at step 0 and saves a step-0 checkpoint; the
 * end of the run (completed, interrupted, diverged, failed) writes its final metrics, checkpoint and summary. A run
 * that builds a snapshot ensemble (config.ensemble.snapshots) measures the ensemble and each snapshot at its end;
 * `final` is the ensemble's.
 */
import { join } from 'node:path';
import { concat, defer, EMPTY, identity, lastValueFrom, pipe, tap } from 'rxjs';
import type { TrainConfig } from '../config/schema.js';
import { toYaml } from '../config/load.js';
import { PIXELS } from '../data/cifar.js';
import { computeNormalization, type Normalization } from '../data/normalization.js';
import type { Splits } from '../data/splits.js';
import type { KernelBackend } from '../kernels/backend.js';
import { fillFromMean } from '../data/augmentation.js';
import { Ensemble, evaluateEnsemble, type Member } from '../model/ensemble.js';
import type { BackendChoice } from '../kernels/select.js';
import { Evaluator } from '../model/evaluator.js';
import { Network, type ParamValues } from '../model/network.js';
import { configuredInit, configuredOptimizer, configuredShape } from '../model/shape.js';
import { cyclicalEta } from '../model/schedule.js';
import { deriveSeed, Rng } from '../util/rng.js';
import { writeFileAtomic } from '../util/atomic.js';
import { FileWriteError } from '../util/errno.js';
import { checkpoint } from '../stages/checkpoint.js';
import { evaluate } from '../stages/evaluate.js';
import { metricsSink } from '../stages/metrics-sink.js';
import { METRICS_FILE, MetricsLog } from '../formats/metrics-csv.js';
import { makeDirs } from '../util/make-dirs.js';
import { augment } from '../stages/augment.js';
import { normalize } from '../stages/normalize.js';
import { snapshot } from '../stages/snapshot.js';
import { shuffle } from '../stages/shuffle.js';
import { PrunedError, rungGate, type RungPlan } from '../stages/rung-gate.js';
import { DivergedError, trainStep } from '../stages/train-step.js';
import type { EvaluatedStep } from '../stages/types.js';
import type { EnsembleResult, FinalMetrics, RunStatus, Summary } from '../formats/run-summary.js';
import { RunLedger } from './ledger.js';
import { cycleEndNote, planRun, type RunPlan } from './plan.js';
import { stepSource } from './step-source.js';

export type { RunStatus, Summary };

/** Where a resumed run starts: the network state and the number of updates already done. */
export interface ResumeState {
  step: number;
  params: ParamValues;
  /** Momentum velocities (runs with train.momentum > 0), Adam's first moments. */
  velocity?: ParamValues | null;
  /** Adam's second moments (train.optimizer adamw). */
  secondMoment?: ParamValues | null;
  /** The snapshots the run had kept (snapshot ensembles). */
  members?: readonly Member[];
  /** Seconds the run had taken up to `step` (metrics.csv elapsed_s and summary.json seconds go on from there). */
  secondsBefore?: number;
}

export interface TrainingOptions {
  config: TrainConfig;
  splits: Splits;
  backend: KernelBackend;
  /** How the backend was chosen (auto's reasons), for summary.json. */
  backendChoice?: BackendChoice;
  outDir: string;
  signal?: AbortSignal;
  /** Called after every update step (progress display). */
  onStep?: (s: EvaluatedStep, plan: RunPlan) => void;
  /**
   * Saves the network (model.json): at step 0 of a fresh run, every config.checkpoint.every steps, and at the end
   * of a completed or interrupted run. Without it the run keeps no checkpoint (search trials).
   */
  onCheckpoint?: (net: Network, step: number, norm: Normalization, members: readonly Member[]) => void | Promise<void>;
  resume?: ResumeState;
  /** Normalisation statistics, when already computed (search trials share them). */
  normalization?: Normalization;
  /** Successive-halving rungs of a search trial: the run reports its validation accuracy there and may be pruned. */
  rungs?: RungPlan;
  /** The learning rate of each update step instead of the config's schedule (the learning-rate range test). */
  etaAt?: (step: number) => number;
  /** Measure the splits at the evaluation points and at the end (default true; the range test needs batch losses only). */
  evaluate?: boolean;
  /** Evaluate the finished run on the test split (default true; search trials: false, final.test is then null). */
  testFinal?: boolean;
  /** Comment lines at the top of config.yaml. */
  configComment?: string[];
}

/** A config as YAML, after `comment` lines (each prefixed "# "). */
export const commentedYaml = (config: TrainConfig, comment: string[] = []) => comment.map((l) => `# ${l}\n`).join('') + toYaml(config);

export interface TrainingResult {
  summary: Summary;
  network: Network;
  normalization: Normalization;
  /** The snapshots kept (snapshot ensembles; else empty). */
  members: Member[];
  /** A result file that could not be written (full disk…), when that is why the run failed. */
  writeError: FileWriteError | null;
}

/** The per-step seeds of a run's dropout masks: a function of (seed, step) alone. */
export const dropoutSeed = (seed: number, step: number) => deriveSeed(seed, `dropout:${step}`);

export async function runTraining(opts: TrainingOptions): Promise<TrainingResult> {
  const { config, splits, backend, outDir, signal } = opts;
  if (config.ensemble.members > 1) throw new Error('runTraining trains one network: an ensemble run (ensemble.members > 1) runs its members one by one');
  const plan = planRun(config, splits.train.count);
  makeDirs(outDir);
  writeFileAtomic(join(outDir, 'config.yaml'), commentedYaml(config, opts.configComment));

  const norm = opts.normalization ?? computeNormalization(splits.train);
  const { dropout } = config.train;
  const net = new Network(backend, configuredShape(config.model), configuredOptimizer(config.train));
  if (config.model.bnMomentum !== undefined) net.bnMomentum = config.model.bnMomentum;
  await net.initialise(new Rng(deriveSeed(config.seed, 'init')), configuredInit(config.model));
  const firstStep = opts.resume?.step ?? 0;
  if (opts.resume) {
    await net.restore(opts.resume.params);
    if (net.velocity) {
      if (!opts.resume.velocity) throw new Error('resume: a run with momentum needs the velocities of its checkpoint');
      await net.restore(opts.resume.velocity, net.velocity);
    }
    if (net.secondMoment) {
      if (!opts.resume.secondMoment) throw new Error('resume: a run with adamw needs the second moments of its checkpoint');
      await net.restore(opts.resume.secondMoment, net.secondMoment);
    }
  }
  const members: Member[] = [...(opts.resume?.members ?? [])];
  const etaAt = opts.etaAt ?? ((step: number) => cyclicalEta(config.schedule, step));
  const measuring = opts.evaluate ?? true;

  const lambda = config.train.lambda;
  const evaluator = new Evaluator(net, norm, Math.min(1000, Math.max(splits.train.count, splits.val.count, splits.test.count)));
  const X = backend.matrix(config.train.batchSize, PIXELS);
  const ledger = new RunLedger(outDir, config, plan, backend, firstStep, opts.backendChoice, opts.resume?.secondsBefore);
  ledger.cycleEndNote = opts.etaAt ? null : cycleEndNote(config, plan);
  ledger.dataCounts = { train: splits.train.count, val: splits.val.count, test: splits.test.count };
  let writeError: FileWriteError | null = null;
  const failedOn = (e: unknown) => {
    if (e instanceof FileWriteError) writeError ??= e;
    ledger.status = 'failed';
    ledger.error = (e as Error).message;
  };
  let log: MetricsLog;
  try {
    log = new MetricsLog(join(outDir, METRICS_FILE), firstStep > 0);
  } catch (e) {
    ledger.status = 'failed';
    ledger.error = (e as Error).message;
    return { summary: ledger.close(), network: net, normalization: norm, members: [], writeError: e instanceof FileWriteError ? e : null };
  }
  let savingSeconds = 0; // writing model.json during the run: not training, like evaluation
  const save = async (step: number) => {
    if (!opts.onCheckpoint) return;
    const t0 = performance.now();
    await opts.onCheckpoint(net, step, norm, members);
    savingSeconds += (performance.now() - t0) / 1000;
    ledger.checkpointStep = step;
  };
  ledger.write();
  const started = performance.now();
  const secondsBefore = opts.resume?.secondsBefore ?? 0;

  // The stages are built once: they keep state across steps (the epoch's permutation, buffers).
  const record = measuring
    ? pipe(
      evaluate({
        evaluator, train: splits.train, val: splits.val, lambda, trainLimit: config.eval.trainSubset,
        isEvaluationPoint: (s) => s % plan.evalEvery === 0 || s === plan.totalSteps,
        elapsedSeconds: () => secondsBefore + (performance.now() - started) / 1000,
      }),
      metricsSink(log),
    )
    : identity;
  const { flip, translate } = config.augment;
  const source = stepSource(firstStep, plan.totalSteps, signal);
  const steps$ = source.steps$.pipe(
    shuffle(config.seed, splits.train.count, config.train.batchSize),
    flip || translate > 0
      ? augment(splits.train, { flip, translate, seed: config.seed, fill: fillFromMean(norm.mean) }, config.train.batchSize)
      : identity,
    normalize(backend, splits.train, norm, X),
    trainStep(net, {
      etaAt, lambda, stepsPerEpoch: plan.stepsPerEpoch, labelSmoothing: config.train.labelSmoothing,
      ...(dropout > 0 ? { dropout: { keep: 1 - dropout, seedAt: (step: number) => dropoutSeed(config.seed, step) } } : {}),
    }),
    record,
    opts.rungs ? rungGate(opts.rungs, evaluator, splits.val, lambda) : identity,
    plan.snapshotSteps.length ? snapshot(net, plan.snapshotSteps, members) : identity,
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
    return { step: 0, epoch: 0, eta: etaAt(0), batchLoss: NaN };
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
    } else if (e instanceof DivergedError) {
      ledger.status = 'diverged';
      ledger.divergedAtStep = e.step;
      ledger.error = e.message;
    } else failedOn(e);
  } finally {
    await log.close().catch((e) => {
      if (ledger.status !== 'failed') failedOn(e);
    });
  }
  ledger.trainSeconds = (performance.now() - started) / 1000 - evaluator.seconds - savingSeconds;

  try {
    if (ledger.status === 'completed' && measuring) {
      if (members.length) {
        const measured = await measureEnsemble(backend, net.shape, members, config, splits, norm, evaluator.chunk);
        ledger.final = measured.final;
        ledger.ensemble = measured.ensemble;
      } else {
        ledger.final = {
          train: await evaluator.evaluate(splits.train, lambda),
          val: await evaluator.evaluate(splits.val, lambda),
          test: opts.testFinal === false ? null : await evaluator.evaluate(splits.test, lambda),
        };
      }
    }
    if (ledger.status === 'completed' || ledger.status === 'interrupted') await save(ledger.stepsDone);
  } catch (e) {
    failedOn(e);
  }
  return { summary: ledger.close(), network: net, normalization: norm, members, writeError };
}

/**
 * Final metrics of an ensemble (averaged as config.ensemble.average says) and of each of its networks, on the
 * three splits: one pass per split, each chunk of records gathered once.
 */
export async function measureEnsemble(
  backend: KernelBackend, shape: Network['shape'], members: readonly Member[], config: TrainConfig, splits: Splits, norm: Normalization, chunk = 1000,
): Promise<{ final: FinalMetrics; ensemble: EnsembleResult }> {
  const { average } = config.ensemble, lambda = config.train.lambda;
  const single = await Ensemble.of(backend, shape, members, 'softmax'); // one network per member
  const ensemble = average === 'softmax' ? single : await Ensemble.of(backend, shape, members, average);
  const train = await evaluateEnsemble(ensemble, single.networks, splits.train, norm, lambda, chunk);
  const val = await evaluateEnsemble(ensemble, single.networks, splits.val, norm, lambda, chunk);
  const test = await evaluateEnsemble(ensemble, single.networks, splits.test, norm, lambda, chunk);
  return {
    final: { train: train.ensemble, val: val.ensemble, test: test.ensemble },
    ensemble: {
      average,
      members: members.map((m, i) => ({ name: m.name, step: m.step, final: { train: train.members[i], val: val.members[i], test: test.members[i] } })),
    },
  };
}

/**
 * The ledger of a training run: where it stands (status, steps done, last metrics, last checkpoint) and its
 * summary.json, kept in one place. The summary is written when the run starts (status running), when it ends,
 * and, should the process be told to quit at once (a second Ctrl-C), synchronously on the way out.
 */
import { join } from 'node:path';
import type { TrainConfig } from '../config/schema.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { onForcedExit } from '../util/shutdown.js';
import type { EvaluatedStep, SplitMetrics } from '../stages/types.js';
import type { RunPlan } from './plan.js';

export type RunStatus = 'running' | 'completed' | 'diverged' | 'pruned' | 'interrupted' | 'failed';

export interface Summary {
  status: RunStatus;
  name: string;
  backend: string;
  threads: number;
  seed: number;
  /** Update steps done. */
  steps: number;
  totalSteps: number;
  epochs: number;
  /** The step model.json holds (where --resume continues), when the run saves checkpoints. */
  checkpointStep?: number;
  seconds: number;
  samplesPerSecond: number;
  divergedAtStep?: number;
  /** Pruned runs (search trials stopped at a rung): the step and the validation accuracy there. */
  pruned?: { step: number; valAccuracy: number };
  error?: string;
  startedAt: string;
  finishedAt: string;
  config: TrainConfig;
  final: { train: SplitMetrics; val: SplitMetrics; test: SplitMetrics | null } | null;
  lastMetrics: EvaluatedStep['metrics'] | null;
}

export class RunLedger {
  status: RunStatus = 'running';
  stepsDone: number;
  lastMetrics: Summary['lastMetrics'] = null;
  checkpointStep: number | undefined;
  divergedAtStep: number | undefined;
  pruned: Summary['pruned'];
  error: string | undefined;
  final: Summary['final'] = null;
  /** Seconds spent in update steps (evaluation excluded), for samplesPerSecond. */
  trainSeconds = 0;
  private readonly started = Date.now();
  private readonly path: string;
  private readonly unhook: () => void;

  constructor(
    outDir: string,
    private readonly config: TrainConfig,
    private readonly plan: RunPlan,
    private readonly backend: { name: string; threads: number },
    private readonly firstStep: number,
  ) {
    this.path = join(outDir, 'summary.json');
    this.stepsDone = firstStep;
    this.unhook = onForcedExit(() => {
      if (this.status === 'running') this.status = 'interrupted';
      this.write();
    });
  }

  /** After every update step. */
  stepDone(s: EvaluatedStep): void {
    this.stepsDone = s.step;
    if (s.metrics) this.lastMetrics = s.metrics;
  }

  summary(): Summary {
    const trained = this.stepsDone - this.firstStep;
    return {
      status: this.status,
      name: this.config.name,
      backend: this.backend.name,
      threads: this.backend.threads + 1,
      seed: this.config.seed,
      steps: this.stepsDone,
      totalSteps: this.plan.totalSteps,
      epochs: this.stepsDone / this.plan.stepsPerEpoch,
      ...(this.checkpointStep !== undefined ? { checkpointStep: this.checkpointStep } : {}),
      seconds: (Date.now() - this.started) / 1000,
      samplesPerSecond: this.trainSeconds > 0 ? (trained * this.config.train.batchSize) / this.trainSeconds : 0,
      ...(this.divergedAtStep !== undefined ? { divergedAtStep: this.divergedAtStep } : {}),
      ...(this.pruned ? { pruned: this.pruned } : {}),
      ...(this.error !== undefined ? { error: this.error } : {}),
      startedAt: new Date(this.started).toISOString(),
      finishedAt: new Date().toISOString(),
      config: this.config,
      final: this.final,
      lastMetrics: this.lastMetrics,
    };
  }

  write(): Summary {
    const s = this.summary();
    writeJsonAtomic(this.path, s);
    return s;
  }

  /** The run is over: the final summary.json. */
  close(): Summary {
    this.unhook();
    return this.write();
  }
}

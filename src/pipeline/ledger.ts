/**
 * The ledger of a training run: where it stands (status, steps done, last metrics, last checkpoint) and its
 * summary.json, kept in one place. The summary is written when the run starts (status running), when it ends,
 * and, should the process be told to quit at once (a second Ctrl-C), synchronously on the way out.
 */
import type { TrainConfig } from '../config/schema.js';
import {
  RUN_SUMMARY_VERSION, writeRunSummary, type EnsembleResult, type MemberRun, type RunStatus, type Summary,
} from '../formats/run-summary.js';
import type { BackendChoice } from '../kernels/select.js';
import { onForcedExit } from '../util/shutdown.js';
import type { EvaluatedStep } from '../stages/types.js';
import type { RunPlan } from './plan.js';

export class RunLedger {
  status: RunStatus = 'running';
  stepsDone: number;
  lastMetrics: Summary['lastMetrics'] = null;
  checkpointStep: number | undefined;
  divergedAtStep: number | undefined;
  pruned: Summary['pruned'];
  error: string | undefined;
  final: Summary['final'] = null;
  ensemble: EnsembleResult | undefined;
  memberRuns: MemberRun[] | undefined;
  /** Seconds spent in update steps (evaluation excluded), for samplesPerSecond. */
  trainSeconds = 0;
  /** Records of each split. */
  dataCounts: Summary['data'];
  /** Where a run that ends away from a cycle end stops (pipeline/plan.ts cycleEndNote). */
  cycleEndNote: string | null = null;
  private readonly started = Date.now();
  private readonly unhook: () => void;

  constructor(
    private readonly outDir: string,
    private readonly config: TrainConfig,
    private readonly plan: RunPlan,
    private readonly backend: { name: string; threads: number },
    private readonly firstStep: number,
    private readonly backendChoice?: BackendChoice,
    /** Seconds the run had taken before this session (a resumed run). */
    private readonly secondsBefore = 0,
  ) {
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
      kind: 'run',
      version: RUN_SUMMARY_VERSION,
      status: this.status,
      name: this.config.name,
      backend: this.backend.name,
      threads: this.backend.threads,
      ...(this.backendChoice ? { backendChoice: this.backendChoice } : {}),
      seed: this.config.seed,
      steps: this.stepsDone,
      totalSteps: this.plan.totalSteps,
      epochs: this.stepsDone / this.plan.stepsPerEpoch,
      ...(this.checkpointStep !== undefined ? { checkpointStep: this.checkpointStep } : {}),
      seconds: this.secondsBefore + (Date.now() - this.started) / 1000,
      ...(this.firstStep > 0 ? { secondsSinceResume: (Date.now() - this.started) / 1000 } : {}),
      samplesPerSecond: this.trainSeconds > 0 ? (trained * this.config.train.batchSize) / this.trainSeconds : 0,
      ...(this.dataCounts ? { data: this.dataCounts } : {}),
      ...(this.cycleEndNote !== null ? { cycleEndNote: this.cycleEndNote } : {}),
      ...(this.divergedAtStep !== undefined ? { divergedAtStep: this.divergedAtStep } : {}),
      ...(this.pruned ? { pruned: this.pruned } : {}),
      ...(this.error !== undefined ? { error: this.error } : {}),
      startedAt: new Date(this.started).toISOString(),
      finishedAt: new Date().toISOString(),
      config: this.config,
      final: this.final,
      ...(this.ensemble ? { ensemble: this.ensemble } : {}),
      ...(this.memberRuns ? { memberRuns: this.memberRuns } : {}),
      lastMetrics: this.lastMetrics,
    };
  }

  write(): Summary {
    const s = this.summary();
    writeRunSummary(this.outDir, s);
    return s;
  }

  /** The run is over: the final summary.json. */
  close(): Summary {
    this.unhook();
    return this.write();
  }
}

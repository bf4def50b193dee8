/** The JSON the dashboard's API serves (docs/dashboard.md), shared by the server and the page. */

export type EntryKind = 'run' | 'search';

/** One row of `GET /api/runs`: a run or a search folder. */
export interface RunRow {
  /** The folder, relative to its root (prefixed with the root's name when several roots are served). */
  folder: string;
  kind: EntryKind;
  name: string;
  /** running, completed, diverged, pruned, interrupted, failed; `unknown` before summary.json is written. */
  status: string;
  backend: string | null;
  /** A run: update steps done (latest metrics row, else summary.json). A search: trials with a result. */
  step: number | null;
  /** A run: steps planned. A search: trials planned. */
  totalSteps: number | null;
  /** Best validation accuracy so far (a search: of its completed trials). */
  bestVal: number | null;
  /** Final validation accuracy (summary.json), when the run has ended. */
  finalVal: number | null;
  /** Test accuracy: a run's final one, a search's chosen trial's. */
  testAcc: number | null;
  /** Wall time so far or in all, seconds. */
  seconds: number | null;
  startedAt: string | null;
  /** A run evaluated by `cifar-mlp evaluate` (evaluation.json: per-class accuracy, confusion matrices). */
  evaluated: boolean;
}

/** The values of a metrics point, in this order (the columns of metrics.csv). */
export const POINT_COLUMNS = ['step', 'epoch', 'eta', 'train_loss', 'train_cost', 'train_acc', 'val_loss', 'val_cost', 'val_acc', 'elapsed_s'] as const;
export const pointIndex = (c: (typeof POINT_COLUMNS)[number]) => POINT_COLUMNS.indexOf(c);

/** A metrics.csv row as served: its values in POINT_COLUMNS order. */
export type MetricsPoint = (number | null)[];

export interface RunDetail {
  row: RunRow;
  /** Column names of `metrics` points. */
  columns: readonly string[];
  /** Downsampled to at most `maxPoints` points (the first and the latest always kept). */
  metrics: MetricsPoint[];
  /** Rows in metrics.csv (before downsampling). */
  metricsRows: number;
  summary: Record<string, unknown> | null;
  evaluation: {
    classes: string[];
    splits: Record<string, { records: number; accuracy: number | null; perClass: Record<string, { records: number; accuracy: number | null }>; confusion: number[][] }>;
  } | null;
}

export type TrialStatus = 'queued' | 'running' | 'completed' | 'pruned' | 'diverged' | 'failed';

export interface TrialState {
  trial: number;
  id: string;
  params: Record<string, number | string | boolean | number[]>; // a list: hidden widths (base.model.layers)
  status: TrialStatus;
  /** Steps done: the latest metrics row of a running trial, the steps of a finished one. */
  step: number | null;
  totalSteps: number | null;
  /** Latest validation accuracy (running), the trial's result (finished; a pruned trial's at its rung). */
  valAcc: number | null;
  /** Highest rung reached (index), and the rung a pruned trial stopped at. */
  rung: number | null;
  seconds: number | null;
  /** The queue worker running it (queue searches). */
  worker: string | null;
}

export interface RungDecisionRow {
  trial: number;
  rung: number;
  step: number;
  valAcc: number;
  cutoff: number | null;
  decision: 'continue' | 'prune';
}

export interface WorkerState {
  worker: string;
  trial: number;
  stepsDone: number | null;
  totalSteps: number | null;
  /** Milliseconds since the last sign of life seen (lock renewal or progress). */
  silentMs: number;
  /** Whether it missed a lock renewal: the trial will be requeued by BullMQ's stall check. */
  silent: boolean;
}

export interface SearchDetail {
  row: RunRow;
  params: string[];
  space: Record<string, unknown>;
  /** Records of the validation split (for the noise bars), when known. */
  valRecords: number | null;
  trials: TrialState[];
  rungs: RungDecisionRow[];
  chosen: { trial: number; valAcc: number; testAcc: number | null } | null;
  /** Queue searches served with --queue: the active jobs' workers. null: not a queue search, or no --queue. */
  workers: WorkerState[] | null;
}

/** One `data:` line of `GET /api/events`. */
export type DashboardEvent =
  | { type: 'run'; folder: string; step: number | null; row: RunRow }
  | { type: 'status'; folder: string; step: number | null; status: string; row: RunRow }
  | { type: 'metrics'; folder: string; step: number; point: MetricsPoint; search: string | null; trial: number | null }
  | { type: 'trial'; folder: string; step: number | null; trial: TrialState }
  | { type: 'rung'; folder: string; step: number; rung: RungDecisionRow }
  | { type: 'workers'; folder: string; step: null; workers: WorkerState[] };

/** What an exported page carries inline instead of asking the server. */
export interface ExportedData {
  exportedAt: string;
  view: 'run' | 'search';
  run?: RunDetail;
  search?: SearchDetail;
}

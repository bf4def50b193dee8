/**
 * What the dashboard knows about the runs and searches under its roots, kept up to date as their files change
 * (`refresh`, called by the watcher), and the events each change makes. Every file is read through src/formats
 * (metrics.csv through a MetricsTail: a partial last row is not a row); nothing is written, opened for writing or
 * locked. A trial's folder is read only while the trial has no row in trials.csv (it is running) or when its page
 * is asked for.
 */
import { readdirSync, type Dirent } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { hasEvaluation, readEvaluation } from '../formats/evaluation.js';
import { folderKind } from '../formats/folder-kind.js';
import { METRICS_FILE, MetricsTail, type MetricsRow } from '../formats/metrics-csv.js';
import { QUEUE_FILE, readQueueFile } from '../formats/queue-file.js';
import { readRunSummary, SUMMARY_FILE, type StoredRunSummary } from '../formats/run-summary.js';
import { RUNGS_CSV, RungsTail, type RungRecord } from '../formats/rungs-csv.js';
import { PLAN_FILE, readSearchPlan, TRIALS_DIR, trialId, type SearchPlan } from '../formats/search-plan.js';
import { readSearchSummary, type SearchSummary } from '../formats/search-summary.js';
import { TRIALS_CSV, TrialsTail, type TrialRow } from '../formats/trials-csv.js';
import { pointIndex, POINT_COLUMNS, type DashboardEvent, type MetricsPoint, type RunDetail, type RunRow, type RungDecisionRow, type SearchDetail, type TrialState, type WorkerState } from './api-types.js';
import { folderName, RequestError, resolveFolder, type Root } from './roots.js';

/** Folders never descended into while looking for runs. */
const SKIPPED_DIRS = new Set(['node_modules', '.git']);
/** How deep under a root runs are looked for. */
const MAX_DEPTH = 12;

const pointOf = (r: MetricsRow): MetricsPoint => POINT_COLUMNS.map((c) => r[c]);
const STEP = pointIndex('step');
const VAL_ACC = pointIndex('val_acc');
const ELAPSED = pointIndex('elapsed_s');

/** At most `max` of `points`, evenly spaced, the first and the latest always among them. */
export function downsample<T>(points: T[], max: number): T[] {
  if (points.length <= max) return points.slice();
  const stride = Math.ceil(points.length / (max - 1));
  const out: T[] = [];
  for (let i = 0; i < points.length - 1; i += stride) out.push(points[i]);
  out.push(points[points.length - 1]);
  return out;
}

const finite = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A summary.json that cannot be read (not a regular file, too large) counts as none. */
function safeRead<T>(read: () => T): T | null {
  try {
    return read();
  } catch {
    return null;
  }
}

interface RunState {
  name: string;
  abs: string;
  /** The search it is a trial of, and its trial number. */
  search: string | null;
  trial: number | null;
  tail: MetricsTail;
  /** Whether metrics.csv has been read once (the rows of later reads are events). */
  rowsRead: boolean;
  points: MetricsPoint[];
  best: number | null;
  summary: StoredRunSummary | null;
  row: RunRow;
}

interface SearchState {
  name: string;
  abs: string;
  plan: SearchPlan | null;
  rows: Map<number, TrialRow>;
  rungs: RungRecord[];
  /** The highest rung each trial reached. */
  maxRung: Map<number, number>;
  /** trials.csv and rungs.csv, read as they grow. */
  trialsTail: TrialsTail | null;
  rungsTail: RungsTail;
  summary: SearchSummary | null;
  trials: Map<number, TrialState>;
  queueId: string | null;
  workers: WorkerState[] | null;
  row: RunRow;
}

const emptyRow = (folder: string, kind: RunRow['kind'], name: string): RunRow => ({
  folder, kind, name, status: 'unknown', backend: null, step: null, totalSteps: null, bestVal: null, finalVal: null, testAcc: null, seconds: null, startedAt: null, evaluated: false,
});

export interface CatalogOptions {
  /** Most points of a curve served by runDetail (default 1000). */
  maxPoints?: number;
}

export class Catalog {
  private readonly runs = new Map<string, RunState>();
  private readonly searches = new Map<string, SearchState>();
  private readonly listeners = new Set<(e: DashboardEvent) => void>();
  private readonly maxPoints: number;

  constructor(readonly roots: Root[], opts: CatalogOptions = {}) {
    this.maxPoints = opts.maxPoints ?? 1000;
  }

  subscribe(listener: (e: DashboardEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: DashboardEvent): void {
    for (const l of this.listeners) l(e);
  }

  /**
   * Finds the runs and searches under the roots not known yet and reads them; with `deferRows`, a run's metrics.csv
   * is left for readPending (its row shows its summary until then).
   */
  async scan(deferRows = false): Promise<void> {
    for (const root of this.roots) {
      const walk = async (dir: string, depth: number): Promise<void> => {
        const kind = folderKind(dir);
        const name = folderName(root, dir);
        if (kind && !this.runs.has(name) && !this.searches.has(name)) await this.refresh(dir, { root, deferRows });
        if (kind === 'search' || depth >= MAX_DEPTH) return; // a search's trials are read through the search
        let entries: Dirent[];
        try {
          entries = readdirSync(dir, { withFileTypes: true });
        } catch {
          return;
        }
        for (const e of entries) {
          if (e.isDirectory() && !e.name.startsWith('.') && !SKIPPED_DIRS.has(e.name)) await walk(join(dir, e.name), depth + 1); // symbolic links are not followed
        }
      };
      await walk(root.abs, 0);
    }
  }

  /** The root a path lies under. */
  private rootOf(abs: string): Root | undefined {
    return this.roots.find((r) => abs === r.abs || abs.startsWith(`${r.abs}/`));
  }

  /** The search folder a trial folder belongs to (…/<search>/trials/<id>), or null. */
  private searchOfTrial(abs: string): SearchState | null {
    if (basename(dirname(abs)) !== TRIALS_DIR) return null;
    const root = this.rootOf(abs);
    return root ? this.searches.get(folderName(root, dirname(dirname(abs)))) ?? null : null;
  }

  /**
   * Reads again what changed in folder `abs` (a file in it was written): a run's new metrics rows and summary, a
   * search's trials, rungs and summary, a trial's progress. `files`: the files that changed (default: any); a file not
   * among them is not read again (trials.csv, rungs.csv and metrics.csv are read from where the last read ended, so
   * they are always looked at). A folder of neither kind is ignored.
   */
  async refresh(abs: string, o: { root?: Root; deferRows?: boolean; files?: ReadonlySet<string> } = {}): Promise<void> {
    const root = o.root ?? this.rootOf(abs);
    if (!root) return;
    const kind = folderKind(abs);
    const name = folderName(root, abs);
    if (kind === 'search') return this.refreshSearch(name, abs, o.files);
    if (kind !== 'run') return;
    const search = this.searchOfTrial(abs);
    if (search) {
      const trial = this.trialNumber(search, basename(abs));
      if (trial !== null && search.rows.has(trial) && !this.runs.has(name)) return; // finished: read when asked for
      await this.refreshRun(name, abs, search.name, trial);
      if (trial !== null) this.updateTrials(search, [trial]);
      return;
    }
    await this.refreshRun(name, abs, null, null, !o.deferRows);
  }

  /** Reads what scan(true) left: every run's metrics.csv, every search again; one folder at a time, yielding between. */
  async readPending(): Promise<void> {
    for (const r of [...this.runs.values()]) {
      if (r.rowsRead) continue;
      await this.refreshRun(r.name, r.abs, r.search, r.trial);
      await new Promise((done) => setImmediate(done));
    }
    for (const s of [...this.searches.values()]) await this.refreshSearch(s.name, s.abs);
  }

  /** Whether `abs` is the folder of a trial with a result that is not being shown (nothing there changes any more). */
  isFinishedTrialFolder(abs: string): boolean {
    const s = this.searchOfTrial(abs);
    const trial = s ? this.trialNumber(s, basename(abs)) : null;
    const root = this.rootOf(abs);
    return trial !== null && s!.rows.has(trial) && !!root && !this.runs.has(folderName(root, abs));
  }

  private trialNumber(search: SearchState, id: string): number | null {
    const n = Number(id);
    return Number.isInteger(n) && n >= 1 && (!search.plan || trialId(n, search.plan.total) === id) ? n : null;
  }

  private async refreshRun(name: string, abs: string, search: string | null, trial: number | null, readRows = true): Promise<RunState> {
    let state = this.runs.get(name);
    const isNew = !state;
    if (!state) {
      state = { name, abs, search, trial, tail: new MetricsTail(join(abs, METRICS_FILE)), rowsRead: false, points: [], best: null, summary: null, row: emptyRow(name, 'run', basename(abs)) };
      this.runs.set(name, state);
    }
    let fresh: MetricsRow[] = [];
    const firstRead = readRows && !state.rowsRead;
    if (readRows) {
      try {
        fresh = await state.tail.read();
      } catch {
        /* not a regular file, too large: no rows */
      }
      state.rowsRead = true;
    }
    for (const r of fresh) {
      const point = pointOf(r);
      const last = state.points.at(-1);
      if (last && (last[STEP] as number) >= r.step) {
        state.points = state.points.filter((p) => (p[STEP] as number) < r.step); // the file was cut back (a resumed run)
        state.best = state.points.reduce<number | null>((b, p) => (p[VAL_ACC] !== null && (b === null || (p[VAL_ACC] as number) > b) ? (p[VAL_ACC] as number) : b), null);
      }
      state.points.push(point);
      if (r.val_acc !== null && (state.best === null || r.val_acc > state.best)) state.best = r.val_acc;
      if (!firstRead) this.emit({ type: 'metrics', folder: name, step: r.step, point, search, trial });
    }
    state.summary = safeRead(() => readRunSummary(abs));
    const before = state.row;
    state.row = this.runRow(state);
    if (search) return state;
    if (isNew) this.emit({ type: 'run', folder: name, step: state.row.step, row: state.row });
    else if (before.status !== state.row.status || before.finalVal !== state.row.finalVal || before.evaluated !== state.row.evaluated || (firstRead && (before.step !== state.row.step || before.bestVal !== state.row.bestVal))) this.emit({ type: 'status', folder: name, step: state.row.step, status: state.row.status, row: state.row });
    return state;
  }

  private runRow(s: RunState): RunRow {
    const sum = s.summary;
    const last = s.points.at(-1);
    return {
      folder: s.name,
      kind: 'run',
      name: sum?.name ?? basename(s.abs),
      status: sum?.status ?? (s.points.length ? 'running' : 'unknown'),
      backend: sum?.backend ?? null,
      step: last ? (last[STEP] as number) : finite(sum?.steps),
      totalSteps: finite(sum?.totalSteps),
      bestVal: s.best,
      finalVal: finite(sum?.final?.val?.accuracy),
      testAcc: finite(sum?.final?.test?.accuracy),
      seconds: sum?.status && sum.status !== 'running' ? finite(sum.seconds) : finite(last?.[ELAPSED]) ?? finite(sum?.seconds),
      startedAt: sum?.startedAt ?? null,
      evaluated: hasEvaluation(s.abs),
    };
  }

  private async refreshSearch(name: string, abs: string, files?: ReadonlySet<string>): Promise<void> {
    let state = this.searches.get(name);
    const isNew = !state;
    if (!state) {
      state = { name, abs, plan: null, rows: new Map(), rungs: [], maxRung: new Map(), trialsTail: null, rungsTail: new RungsTail(join(abs, RUNGS_CSV)), summary: null, trials: new Map(), queueId: null, workers: null, row: emptyRow(name, 'search', basename(abs)) };
      this.searches.set(name, state);
    }
    const planned = state.plan?.trials.length;
    const changed = (file: string) => isNew || !files || files.has(file);
    if (changed(PLAN_FILE)) state.plan = safeRead(() => readSearchPlan(abs)) ?? state.plan;
    if (changed(SUMMARY_FILE)) state.summary = safeRead(() => readSearchSummary(abs)) ?? state.summary;
    if (changed(QUEUE_FILE)) state.queueId = readQueueFile(abs) ?? null;
    let all = isNew || planned !== state.plan?.trials.length;
    const touched = new Set<number>();
    const space = state.plan?.space ?? state.summary?.space;
    if (space && !state.trialsTail) state.trialsTail = new TrialsTail(join(abs, TRIALS_CSV), space);
    const trials = await state.trialsTail?.read().catch(() => null);
    if (trials?.restarted) {
      state.rows.clear(); // the file was replaced: it is read again from its start
      all = true;
    }
    for (const r of trials?.rows ?? []) {
      state.rows.set(r.trial, r);
      touched.add(r.trial);
    }
    const rungs = await state.rungsTail.read().catch(() => null);
    if (rungs?.restarted) {
      state.rungs = [];
      state.maxRung.clear();
      all = true;
    }
    const newRungs = rungs?.records ?? [];
    for (const r of newRungs) {
      state.rungs.push(r);
      state.maxRung.set(r.trial, Math.max(r.rung, state.maxRung.get(r.trial) ?? -Infinity));
      touched.add(r.trial);
    }
    if (isNew) await this.readRunningTrials(state);
    this.updateTrials(state, all ? null : [...touched], isNew);
    if (!isNew) for (const r of newRungs) this.emit({ type: 'rung', folder: name, step: r.step, rung: rungRow(r) });
    const before = state.row;
    state.row = this.searchRow(state);
    if (isNew) this.emit({ type: 'run', folder: name, step: state.row.step, row: state.row });
    else if (before.status !== state.row.status || before.step !== state.row.step || before.bestVal !== state.row.bestVal) {
      this.emit({ type: 'status', folder: name, step: state.row.step, status: state.row.status, row: state.row });
    }
  }

  /** The trial folders of trials without a result (running, or interrupted). */
  private async readRunningTrials(s: SearchState): Promise<void> {
    const root = this.rootOf(s.abs);
    if (!root || !s.plan) return;
    for (const t of s.plan.trials) {
      if (s.rows.has(t.trial)) continue;
      const dir = join(s.abs, TRIALS_DIR, trialId(t.trial, s.plan.total));
      if (folderKind(dir) === 'run') await this.refreshRun(folderName(root, dir), dir, s.name, t.trial);
    }
  }

  private trialState(s: SearchState, trial: number, params: TrialState['params']): TrialState {
    const total = s.plan?.total ?? s.summary?.trials ?? trial;
    const id = trialId(trial, total);
    const row = s.rows.get(trial);
    const rung = s.maxRung.get(trial) ?? null;
    const worker = s.workers?.find((w) => w.trial === trial) ?? null;
    const base = { trial, id, params, rung, worker: worker?.worker ?? null };
    if (row) return { ...base, status: row.status, step: row.steps, totalSteps: row.total_steps, valAcc: row.val_acc, seconds: row.seconds };
    const run = this.runs.get(`${s.name === '.' ? '' : `${s.name}/`}${TRIALS_DIR}/${id}`);
    if (run && (run.points.length || run.summary?.status === 'running')) {
      const last = run.points.at(-1);
      return { ...base, status: 'running', step: last ? (last[STEP] as number) : null, totalSteps: finite(run.summary?.totalSteps), valAcc: last ? finite(last[VAL_ACC]) : null, seconds: last ? finite(last[ELAPSED]) : null };
    }
    if (worker) return { ...base, status: 'running', step: worker.stepsDone, totalSteps: worker.totalSteps, valAcc: null, seconds: null };
    return { ...base, status: 'queued', step: null, totalSteps: null, valAcc: null, seconds: null };
  }

  /** Recomputes the states of `which` trials (null: all) and emits an event for each that changed. */
  private updateTrials(s: SearchState, which: number[] | null, quiet = false): void {
    const planned = new Map((s.plan?.trials ?? s.summary?.results ?? []).map((t) => [t.trial, t.params] as const));
    const total = s.plan?.total ?? s.summary?.trials ?? planned.size;
    const numbers = which ?? Array.from({ length: total }, (_, i) => i + 1);
    for (const n of numbers) {
      const next = this.trialState(s, n, planned.get(n) ?? {});
      const prev = s.trials.get(n);
      s.trials.set(n, next);
      if (!quiet && JSON.stringify(prev) !== JSON.stringify(next)) this.emit({ type: 'trial', folder: s.name, step: next.step, trial: next });
    }
  }

  private searchRow(s: SearchState): RunRow {
    const sum = s.summary;
    let best: number | null = null;
    for (const r of s.rows.values()) if (r.status === 'completed' && r.val_acc !== null && (best === null || r.val_acc > best)) best = r.val_acc;
    return {
      folder: s.name,
      kind: 'search',
      name: sum?.name ?? s.plan?.name ?? basename(s.abs),
      status: sum?.status ?? 'unknown',
      backend: sum?.backend ?? null,
      step: s.rows.size,
      totalSteps: s.plan?.total ?? sum?.trials ?? null,
      bestVal: best,
      finalVal: best,
      testAcc: finite(sum?.chosen?.test?.accuracy),
      seconds: finite(sum?.seconds),
      startedAt: sum?.startedAt ?? s.plan?.createdAt ?? null,
      evaluated: false,
    };
  }

  /** Every run and search (not the trials of searches), in the order found. */
  rows(): RunRow[] {
    const out: RunRow[] = [];
    for (const r of this.runs.values()) if (!r.search) out.push(r.row);
    for (const s of this.searches.values()) out.push(s.row);
    return out;
  }

  /** The queue searches: folder name → queue id. */
  queueSearches(): Map<string, string> {
    const out = new Map<string, string>();
    for (const s of this.searches.values()) if (s.queueId) out.set(s.name, s.queueId);
    return out;
  }

  /** The workers of a queue search changed (see queue-state.ts). */
  setWorkers(search: string, workers: WorkerState[]): void {
    const s = this.searches.get(search);
    if (!s) return;
    const was = JSON.stringify(s.workers);
    const before = new Map((s.workers ?? []).map((w) => [w.trial, w] as const));
    s.workers = workers;
    if (was === JSON.stringify(workers)) return;
    this.emit({ type: 'workers', folder: search, step: null, workers });
    const changed = new Set<number>([...before.keys()].filter((t) => !workers.some((w) => w.trial === t)));
    for (const w of workers) if (before.get(w.trial)?.worker !== w.worker || before.get(w.trial)?.stepsDone !== w.stepsDone) changed.add(w.trial);
    this.updateTrials(s, [...changed]);
  }

  /** A run's page: its row, downsampled curves, summary and evaluation. A RequestError for a name that is not a run's. */
  async runDetail(name: string): Promise<RunDetail> {
    let state = this.runs.get(name);
    if (!state) {
      const abs = resolveFolder(this.roots, name);
      if (folderKind(abs) !== 'run') throw new RequestError(404, 'not a run folder');
      const search = this.searchOfTrial(abs);
      state = await this.refreshRun(name, abs, search?.name ?? null, search ? this.trialNumber(search, basename(abs)) : null);
    }
    return {
      row: state.row,
      columns: POINT_COLUMNS,
      metrics: downsample(state.points, this.maxPoints),
      metricsRows: state.points.length,
      summary: (state.summary as Record<string, unknown> | null) ?? null,
      evaluation: safeRead(() => readEvaluation(state.abs)),
    };
  }

  /** A search's page. A RequestError for a name that is not a search's. */
  searchDetail(name: string): SearchDetail {
    const s = this.searches.get(name);
    if (!s) {
      resolveFolder(this.roots, name); // 400/403/404 for names that are not folders
      throw new RequestError(404, 'not a search folder');
    }
    const chosen = s.summary?.chosen;
    return {
      row: s.row,
      params: s.summary?.params ?? Object.keys(s.plan?.space ?? {}),
      space: (s.plan?.space ?? s.summary?.space ?? {}) as Record<string, unknown>,
      valRecords: finite(s.summary?.valRecords),
      trials: [...s.trials.values()],
      rungs: s.rungs.map(rungRow),
      chosen: chosen ? { trial: chosen.trial, valAcc: chosen.valAccuracy, testAcc: finite(chosen.test?.accuracy) } : null,
      workers: s.workers,
    };
  }

  /** Whether `name` is a known search (else a run, or nothing). */
  kindOf(name: string): 'run' | 'search' | null {
    return this.searches.has(name) ? 'search' : this.runs.has(name) ? 'run' : null;
  }
}

const rungRow = (r: RungRecord): RungDecisionRow => ({ trial: r.trial, rung: r.rung, step: r.step, valAcc: r.valAccuracy, cutoff: finite(r.cutoff), decision: r.decision });

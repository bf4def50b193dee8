/**
 * Search progress on stderr: trials done / total, running, best so far with its parameter values, and the time
 * left (estimated from the trials finished so far). A cli-progress bar on a terminal, plain lines
 * (one per trial started or finished) otherwise.
 */
import cliProgress from 'cli-progress';
import type { RowStatus } from './results.js';

export interface ProgressState {
  total: number;
  done: number;
  running: number;
  best: { valAcc: number; label: string } | null;
}

export interface TrialOutcome {
  status: RowStatus | 'interrupted';
  /** Validation accuracy at the end (pruned: at the rung it stopped at). */
  valAcc: number | null;
  steps: number | null;
  seconds: number;
  reason?: string | null;
}

const pct = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? 'NA' : `${(100 * v).toFixed(2)}%`);

export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${String(s % 60).padStart(2, '0')}s`;
}

/** Time left: the trials not started and the rest of the running ones, at the mean trial time so far, over the slots. */
export function estimateSecondsLeft(o: { durations: number[]; notStarted: number; runningElapsed: number[]; slots: number }): number | null {
  if (o.durations.length === 0) return null;
  const mean = o.durations.reduce((a, b) => a + b, 0) / o.durations.length;
  const work = o.notStarted * mean + o.runningElapsed.reduce((a, e) => a + Math.max(0, mean - e), 0);
  return work / Math.max(1, Math.min(o.slots, o.notStarted + o.runningElapsed.length || 1));
}

export class SearchProgress {
  private readonly tty: boolean;
  private readonly startedAt = new Map<number, number>();
  private readonly durations: number[] = [];
  private state: ProgressState = { total: 0, done: 0, running: 0, best: null };
  private multi: cliProgress.MultiBar | null = null;
  private bar: cliProgress.SingleBar | null = null;
  private ticker: NodeJS.Timeout | null = null;

  constructor(
    private readonly label: string,
    private readonly slots: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    tty?: boolean,
  ) {
    this.tty = tty ?? Boolean(stream.isTTY);
  }

  private secondsLeft(): number | null {
    const now = Date.now();
    const notStarted = this.state.total - this.state.done - this.state.running;
    return estimateSecondsLeft({
      durations: this.durations,
      notStarted: Math.max(0, notStarted),
      runningElapsed: [...this.startedAt.values()].map((t) => (now - t) / 1000),
      slots: this.slots,
    });
  }

  private bestText(): string {
    const b = this.state.best;
    return b ? `best val ${pct(b.valAcc)} at ${b.label}` : 'best: none yet';
  }

  private statusText(): string {
    return `${this.state.done}/${this.state.total} done, ${this.state.running} running, ${this.bestText()}, ~${formatEta(this.secondsLeft())} left`;
  }

  private line(text: string): void {
    if (this.multi) this.multi.log(`${text}\n`);
    else this.stream.write(`${text}\n`);
  }

  private redraw(): void {
    if (!this.bar) return;
    this.bar.update(this.state.done, { running: this.state.running, best: this.bestText(), left: formatEta(this.secondsLeft()) });
  }

  /** The state before any trial of this session runs (trials already done on resume count as done). */
  begin(state: ProgressState): void {
    this.state = { ...state };
    if (this.tty) {
      this.multi = new cliProgress.MultiBar(
        { stream: this.stream, format: `${this.label} [{bar}] {value}/{total} trials | {running} running | {best} | ~{left} left`, hideCursor: true, fps: 2, clearOnComplete: false },
        cliProgress.Presets.shades_classic,
      );
      this.bar = this.multi.create(state.total, state.done, { running: state.running, best: this.bestText(), left: '?' });
      this.ticker = setInterval(() => this.redraw(), 1000);
      this.ticker.unref();
    } else {
      this.line(`${this.label}: ${state.total} trials, ${state.done} already done, ${this.slots} at once`);
    }
  }

  started(trial: number, params: string, state: ProgressState): void {
    this.startedAt.set(trial, Date.now());
    this.state = { ...state };
    if (this.tty) this.redraw();
    else this.line(`${this.label}: trial ${trial} started (${params}) | ${this.statusText()}`);
  }

  finished(trial: number, params: string, outcome: TrialOutcome, state: ProgressState): void {
    const t0 = this.startedAt.get(trial);
    this.startedAt.delete(trial);
    if (outcome.status !== 'interrupted') this.durations.push(t0 !== undefined ? (Date.now() - t0) / 1000 : outcome.seconds);
    this.state = { ...state };
    const what = outcome.status === 'completed'
      ? `completed: val ${pct(outcome.valAcc)} in ${outcome.seconds.toFixed(1)}s`
      : outcome.status === 'pruned'
        ? `pruned at step ${outcome.steps ?? '?'}: val ${pct(outcome.valAcc)} in ${outcome.seconds.toFixed(1)}s`
        : `${outcome.status}${outcome.reason ? `: ${outcome.reason}` : ''}`;
    this.line(`${this.label}: trial ${trial} (${params}) ${what} | ${this.statusText()}`);
    this.redraw();
  }

  note(text: string): void {
    this.line(`${this.label}: ${text}`);
  }

  stop(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    if (this.multi) {
      this.redraw();
      this.multi.stop();
    }
    this.multi = null;
    this.bar = null;
  }
}

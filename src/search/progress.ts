/**
 * Search progress on stderr: trials done / total, running, best so far with its parameter values, and the time
 * left. A cli-progress bar on a terminal (every line fitted to its width), plain lines (one per trial started or
 * finished) otherwise.
 *
 * Time left: each running trial's own projection (its elapsed time over the fraction of its steps done, as
 * the executor reports them), and for the trials not started the mean trial time, from finished trials and those
 * projections: so there is an estimate as soon as a trial has done some steps.
 */
import cliProgress from 'cli-progress';
import { drawBar, fitLine, formatSeconds, type LinePart } from '../util/fit-line.js';
import type { TrialProgress } from './executor.js';
import type { RowStatus } from '../formats/trials-csv.js';
import { percent } from '../util/format.js';

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

export const formatEta = formatSeconds;

/**
 * Time left: the trials not started at the mean trial time, plus the rest of the running ones (from their own
 * progress where `runningFraction` gives it, else from the mean), over the slots. The mean is over finished
 * trials and running trials' projected durations; null while there is neither.
 */
export function estimateSecondsLeft(o: { durations: number[]; notStarted: number; runningElapsed: number[]; runningFraction?: number[]; slots: number }): number | null {
  const fraction = (i: number) => o.runningFraction?.[i] ?? 0;
  const projected = o.runningElapsed.map((e, i) => (fraction(i) > 0 ? e / Math.min(1, fraction(i)) : null));
  const known = [...o.durations, ...projected.filter((p): p is number => p !== null)];
  if (known.length === 0) return null;
  const mean = known.reduce((a, b) => a + b, 0) / known.length;
  const work = o.notStarted * mean + o.runningElapsed.reduce((a, e, i) => a + Math.max(0, (projected[i] ?? mean) - e), 0);
  return work / Math.max(1, Math.min(o.slots, o.notStarted + o.runningElapsed.length || 1));
}

export class SearchProgress {
  private readonly tty: boolean;
  private readonly startedAt = new Map<number, number>();
  private readonly fractions = new Map<number, number>();
  /** When a trial's current attempt started, where the executor says (a trial run again after its worker died). */
  private readonly attemptStartedAt = new Map<number, number>();
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

  /**
   * Columns for a line on the terminal: its width less one (cli-progress turns line wrapping off, and its
   * clear-to-end-of-line after a line that fills the last column would erase that column's character).
   */
  private get columns(): number {
    return (this.stream.columns || 80) - 1;
  }

  secondsLeft(): number | null {
    const now = Date.now();
    const notStarted = this.state.total - this.state.done - this.state.running;
    const running = [...this.startedAt.entries()];
    return estimateSecondsLeft({
      durations: this.durations,
      notStarted: Math.max(0, notStarted),
      runningElapsed: running.map(([trial, t]) => (now - (this.attemptStartedAt.get(trial) ?? t)) / 1000),
      runningFraction: running.map(([trial]) => this.fractions.get(trial) ?? 0),
      slots: this.slots,
    });
  }

  private bestText(): string {
    const b = this.state.best;
    return b ? `best val ${percent(b.valAcc)} at ${b.label}` : 'best: none yet';
  }

  private statusText(): string {
    return `${this.state.done}/${this.state.total} done, ${this.state.running} running, ${this.bestText()}, ~${formatEta(this.secondsLeft())} left`;
  }

  /** The bar line for `width` columns (dropped first: the label, the running count, the best trial). */
  barLine(width: number): string {
    const s = this.state;
    const parts: LinePart[] = [
      { text: this.label, keep: 1 },
      { text: '', keep: 3, sep: ' ', grow: { min: 12, max: 32, draw: (w) => drawBar(s.total ? s.done / s.total : 0, w) } },
      { text: `${s.done}/${s.total} trials`, keep: Infinity, sep: ' ' },
      { text: `${s.running} running`, keep: 2 },
      { text: this.bestText(), keep: 4 },
      { text: `~${formatEta(this.secondsLeft())} left`, keep: Infinity },
    ];
    return fitLine(parts, width);
  }

  /** A line above the bar: fitted to the terminal (the bar itself shows the search's state). */
  private line(parts: LinePart[], plainStatus = true): void {
    if (this.multi) {
      this.multi.log(`${fitLine(parts, this.columns)}\n`);
      return;
    }
    const text = parts.map((p, i) => (i > 0 ? p.sep ?? ' ' : '') + p.text).join('');
    this.stream.write(`${text}${plainStatus ? ` | ${this.statusText()}` : ''}\n`);
  }

  /** The state before any trial of this session runs (trials already done on resume count as done). */
  begin(state: ProgressState): void {
    this.state = { ...state };
    if (this.tty) {
      this.multi = new cliProgress.MultiBar(
        { stream: this.stream, hideCursor: true, fps: 2, clearOnComplete: false, format: () => this.barLine(this.columns) },
        cliProgress.Presets.shades_classic,
      );
      this.bar = this.multi.create(state.total, state.done);
      this.ticker = setInterval(() => this.redraw(), 1000);
      this.ticker.unref();
    } else {
      this.line([{ text: `${this.label}: ${state.total} trials, ${state.done} already done, ${this.slots} at once`, keep: Infinity }], false);
    }
  }

  private redraw(): void {
    this.bar?.update(this.state.done);
  }

  private trialParts(trial: number, params: string): LinePart[] {
    return [
      { text: `${this.label}: trial ${trial}`, keep: Infinity },
      { text: `(${params})`, keep: 6, sep: ' ', shrink: 24 },
    ];
  }

  started(trial: number, params: string, state: ProgressState): void {
    this.startedAt.set(trial, Date.now());
    this.fractions.set(trial, 0);
    this.state = { ...state };
    if (this.tty) this.redraw();
    else this.line([{ text: `${this.label}: trial ${trial} started (${params})`, keep: Infinity }]);
  }

  /** A running trial's steps (from the executor): the time estimate follows them. */
  trialProgress(trial: number, p: TrialProgress): void {
    if (!this.startedAt.has(trial) || !(p.totalSteps > 0)) return;
    this.fractions.set(trial, Math.max(0, Math.min(1, p.steps / p.totalSteps)));
    if (p.attemptSeconds !== undefined && Number.isFinite(p.attemptSeconds)) this.attemptStartedAt.set(trial, Date.now() - p.attemptSeconds * 1000);
  }

  finished(trial: number, params: string, outcome: TrialOutcome, state: ProgressState): void {
    const t0 = this.attemptStartedAt.get(trial) ?? this.startedAt.get(trial);
    this.startedAt.delete(trial);
    this.fractions.delete(trial);
    this.attemptStartedAt.delete(trial);
    if (outcome.status !== 'interrupted') this.durations.push(t0 !== undefined ? (Date.now() - t0) / 1000 : outcome.seconds);
    this.state = { ...state };
    const parts = this.trialParts(trial, params);
    if (outcome.status === 'completed') {
      parts.push(
        { text: 'completed:', keep: Infinity, sep: ' ' },
        { text: `val ${percent(outcome.valAcc)}`, keep: 8, sep: ' ' },
        { text: `in ${outcome.seconds.toFixed(1)}s`, keep: 5, sep: ' ' },
      );
    } else if (outcome.status === 'pruned') {
      parts.push(
        { text: `pruned at step ${outcome.steps ?? '?'}:`, keep: Infinity, sep: ' ' },
        { text: `val ${percent(outcome.valAcc)}`, keep: 8, sep: ' ' },
        { text: `in ${outcome.seconds.toFixed(1)}s`, keep: 5, sep: ' ' },
      );
    } else {
      parts.push({ text: `${outcome.status}${outcome.reason ? `: ${outcome.reason}` : ''}`, keep: Infinity, sep: ' ', shrink: 24 });
    }
    this.line(parts);
    this.redraw();
  }

  note(text: string): void {
    this.line([{ text: `${this.label}: ${text}`, keep: Infinity }], false);
  }

  stop(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    if (this.multi) {
      this.redraw();
      // MultiBar.stop() does not write the lines still waiting in its log buffer: update() does.
      this.multi.update();
      this.multi.stop();
    }
    this.multi = null;
    this.bar = null;
  }
}

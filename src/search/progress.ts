/**
 * Search progress on stderr: trials done / total, running (trials that have begun their steps) and waiting (handed
 * to the executor, not begun: on a queue, waiting for a worker), best so far with its parameter values, the time
 * left; on a terminal also one line per running trial with its steps and latest validation accuracy. A cli-progress
 * multi-bar on a terminal (every line fitted to its width), plain lines (one per trial started or finished) otherwise.
 *
 * Time left: shown once a trial has finished (before, a trial's early steps say little of its length: evaluation and
 * warm-up weigh on them): each running trial's own projection (its elapsed time over the fraction of its steps done,
 * as the executor reports them), and for the trials not started the mean trial time.
 */
import cliProgress from 'cli-progress';
import { drawBar, fitLine, formatSeconds, wrapText, type LinePart } from '../util/fit-line.js';
import { takeNotices } from '../util/notice.js';
import type { TrialProgress } from './executor.js';
import type { SingleBar } from 'cli-progress';
import type { RowStatus } from '../formats/trials-csv.js';
import { percent } from '../util/format.js';
import { terminalLine } from '../util/terminal-text.js';

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

/** A trial handed to the executor: when, its values, how far it is (once it reported), its line on a terminal. */
interface InFlight {
  startedAt: number;
  params: string;
  progress: TrialProgress | null;
  bar: SingleBar | null;
}

export class SearchProgress {
  private readonly tty: boolean;
  private readonly inFlight = new Map<number, InFlight>();
  private readonly durations: number[] = [];
  private state: ProgressState = { total: 0, done: 0, running: 0, best: null };
  private multi: cliProgress.MultiBar | null = null;
  private bar: cliProgress.SingleBar | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private releaseNotices: (() => void) | null = null;

  constructor(
    private readonly label: string,
    private readonly slots: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    tty?: boolean,
    /** Trials may wait to start after the executor took them (a queue's, waiting for a worker); the local pool starts them at once. */
    private readonly queued = false,
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

  /** Time left; null until a trial of this session has finished. */
  secondsLeft(): number | null {
    if (this.durations.length === 0) return null;
    const now = Date.now();
    const notStarted = this.state.total - this.state.done - this.state.running;
    const running = [...this.inFlight.values()];
    return estimateSecondsLeft({
      durations: this.durations,
      notStarted: Math.max(0, notStarted),
      runningElapsed: running.map((t) => (now - t.startedAt) / 1000),
      runningFraction: running.map((t) => fractionOf(t.progress)),
      slots: this.slots,
    });
  }

  /** Trials handed to the executor that have begun their steps, and (on a queue) those that have not yet. */
  private counts(): { running: number; waiting: number } {
    if (!this.queued) return { running: this.state.running, waiting: 0 };
    const running = [...this.inFlight.values()].filter((t) => t.progress !== null && t.progress.steps > 0).length;
    return { running, waiting: Math.max(0, this.state.running - running) };
  }

  private etaText(): string {
    const left = this.secondsLeft();
    return left === null ? '' : `~${formatEta(left)} left`;
  }

  private bestText(): string {
    const b = this.state.best;
    return b ? `best val ${percent(b.valAcc)} at ${b.label}` : 'best: none yet';
  }

  private statusText(): string {
    const { running, waiting } = this.counts();
    const eta = this.etaText();
    return `${this.state.done}/${this.state.total} done, ${running} running${waiting ? `, ${waiting} waiting` : ''}, ${this.bestText()}${eta ? `, ${eta}` : ''}`;
  }

  /**
   * The bar line for `width` columns (dropped first: the label, the waiting and running counts, the best trial). The
   * bar counts the running trials' steps too.
   */
  barLine(width: number): string {
    const s = this.state;
    const { running, waiting } = this.counts();
    const partial = [...this.inFlight.values()].reduce((sum, t) => sum + fractionOf(t.progress), 0);
    const parts: LinePart[] = [
      { text: this.label, keep: 1 },
      { text: '', keep: 3, sep: ' ', grow: { min: 12, max: 32, draw: (w) => drawBar(s.total ? (s.done + partial) / s.total : 0, w) } },
      { text: `${s.done}/${s.total} trials`, keep: Infinity, sep: ' ' },
      { text: `${running} running`, keep: 2.5 },
      { text: waiting ? `${waiting} waiting` : '', keep: 2 },
      { text: this.bestText(), keep: 4 },
      { text: this.etaText(), keep: Infinity },
    ];
    return fitLine(parts, width);
  }

  /** A running trial's line under the bar: its values, steps and latest validation accuracy. */
  trialLine(trial: number, width: number): string {
    const t = this.inFlight.get(trial);
    const p = t?.progress ?? null;
    const parts: LinePart[] = [
      { text: `  trial ${trial}`, keep: Infinity },
      { text: `(${t?.params ?? ''})`, keep: 3, sep: ' ', shrink: 16 },
      { text: '', keep: 1, sep: ' ', grow: { min: 10, max: 20, draw: (w) => drawBar(fractionOf(p), w) } },
      { text: p && p.steps > 0 ? `step ${p.steps}/${p.totalSteps}` : this.queued ? 'waiting for a worker' : 'starting', keep: Infinity, sep: ' ' },
      { text: p?.valAccuracy !== undefined ? `val ${percent(p.valAccuracy)}` : '', keep: 4 },
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
    this.stream.write(`${terminalLine(`${text}${plainStatus ? ` | ${this.statusText()}` : ''}`)}\n`);
  }

  /** The state before any trial of this session runs (trials already done on resume count as done). */
  begin(state: ProgressState): void {
    this.state = { ...state };
    if (this.tty) {
      this.multi = new cliProgress.MultiBar(
        {
          stream: this.stream, hideCursor: true, fps: 2, clearOnComplete: false,
          format: (_o: unknown, _p: unknown, payload: { trial?: number }) => (payload?.trial !== undefined ? this.trialLine(payload.trial, this.columns) : this.barLine(this.columns)),
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar = this.multi.create(state.total, state.done);
      this.releaseNotices = takeNotices({ notice: (l) => this.writeAbove(l) });
      this.ticker = setInterval(() => this.redraw(), 1000);
      this.ticker.unref();
    } else {
      this.line([{ text: `${this.label}: ${state.total} trials, ${state.done} already done, ${this.slots} at once`, keep: Infinity }], false);
    }
  }

  /** A notice above the bars, at once: broken into lines that fit (line wrapping is off while they draw). */
  private writeAbove(line: string): void {
    if (!this.multi) return void this.stream.write(`${line}\n`);
    this.multi.log(`${wrapText(line, this.columns).join('\n')}\n`);
    this.multi.update();
  }

  private redraw(): void {
    this.bar?.update(this.state.done);
    for (const t of this.inFlight.values()) t.bar?.update(t.progress?.steps ?? 0);
  }

  private trialParts(trial: number, params: string): LinePart[] {
    return [
      { text: `${this.label}: trial ${trial}`, keep: Infinity },
      { text: `(${params})`, keep: 6, sep: ' ', shrink: 24 },
    ];
  }

  started(trial: number, params: string, state: ProgressState): void {
    this.inFlight.set(trial, { startedAt: Date.now(), params, progress: null, bar: this.multi?.create(1, 0, { trial }) ?? null });
    this.state = { ...state };
    if (this.tty) this.redraw();
    else this.line([{ text: `${this.label}: trial ${trial} started (${params})`, keep: Infinity }]);
  }

  /** A running trial's steps and validation accuracy (from the executor): its line and the time estimate follow them. */
  trialProgress(trial: number, p: TrialProgress): void {
    const t = this.inFlight.get(trial);
    if (!t || !(p.totalSteps > 0)) return;
    t.progress = { ...p, valAccuracy: p.valAccuracy ?? t.progress?.valAccuracy };
    // A trial run again (its worker died) or kept waiting in a queue: time estimates count its current attempt only.
    if (p.attemptSeconds !== undefined && Number.isFinite(p.attemptSeconds)) t.startedAt = Date.now() - p.attemptSeconds * 1000;
    t.bar?.setTotal(p.totalSteps);
  }

  finished(trial: number, params: string, outcome: TrialOutcome, state: ProgressState): void {
    const t = this.inFlight.get(trial);
    const t0 = t?.startedAt;
    this.inFlight.delete(trial);
    if (t?.bar) this.multi?.remove(t.bar);
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
    this.releaseNotices?.();
    this.releaseNotices = null;
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

const fractionOf = (p: TrialProgress | null) => (p && p.totalSteps > 0 ? Math.max(0, Math.min(1, p.steps / p.totalSteps)) : 0);

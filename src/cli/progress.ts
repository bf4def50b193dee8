/**
 * Training progress on stderr: on a terminal, one line redrawn in place that fits the terminal's width
 * (stream.columns; the least important fields go first as it narrows, the step count and the time estimate stay);
 * otherwise (piped, a log file) one plain line per evaluation point.
 */
import cliProgress from 'cli-progress';
import type { RunPlan } from '../pipeline/plan.js';
import type { EvaluatedStep } from '../stages/types.js';
import { drawBar, fitLine, formatSeconds, wrapText, type LinePart } from '../util/fit-line.js';
import { takeNotices } from '../util/notice.js';
import { percent } from '../util/format.js';
import { terminalLine } from '../util/terminal-text.js';

export interface TrainingProgress {
  update(s: EvaluatedStep, plan: RunPlan): void;
  stop(): void;
}

/** What the terminal line shows. */
export interface ProgressFields {
  label: string;
  step: number;
  totalSteps: number;
  epoch: number;
  /** The learning rate of the step. */
  lr: number;
  /** Latest validation accuracy (undefined before the first evaluation). */
  valAcc?: number;
  elapsedSeconds: number;
  /** Time left; null while unknown. */
  secondsLeft: number | null;
}

/**
 * The terminal line for `width` columns. Dropped first to last as the width shrinks: the label, the elapsed time,
 * the epoch, the bar, the learning rate, the validation accuracy; the steps and the time estimate always stay.
 */
export function progressLine(f: ProgressFields, width: number): string {
  const parts: LinePart[] = [
    { text: f.label, keep: 1 },
    { text: '', keep: 4, sep: ' ', grow: { min: 12, max: 32, draw: (w) => drawBar(f.step / f.totalSteps, w) } },
    { text: `${f.step}/${f.totalSteps}`, keep: Infinity, sep: ' ' },
    { text: `epoch ${f.epoch.toFixed(2)}`, keep: 3 },
    { text: `lr ${f.lr.toExponential(2)}`, keep: 5 },
    { text: `val acc ${percent(f.valAcc, '-')}`, keep: 6 },
    { text: `elapsed ${formatSeconds(f.elapsedSeconds)}`, keep: 2 },
    { text: `ETA ${formatSeconds(f.secondsLeft)}`, keep: Infinity },
  ];
  return fitLine(parts, width);
}

/** The plain line of an evaluation point (piped output). */
export function evaluationLine(label: string, s: EvaluatedStep, plan: RunPlan, elapsedSeconds: number): string {
  const m = s.metrics!;
  return `${label} step ${s.step}/${plan.totalSteps} epoch ${s.epoch.toFixed(2)} lr ${s.eta.toExponential(2)} ` +
    `train loss ${m.train.loss.toFixed(4)} acc ${percent(m.train.accuracy, '-')} | val loss ${m.val.loss.toFixed(4)} acc ${percent(m.val.accuracy, '-')} | ${elapsedSeconds.toFixed(1)}s`;
}

export function trainingProgress(label: string, stream: NodeJS.WriteStream = process.stderr): TrainingProgress {
  const t0 = Date.now();
  if (!stream.isTTY) {
    return {
      update(s, plan) {
        if (s.metrics) stream.write(`${terminalLine(evaluationLine(label, s, plan, (Date.now() - t0) / 1000))}\n`);
      },
      stop() {},
    };
  }
  let valAcc: number | undefined;
  let first: { step: number; at: number } | null = null;
  let latest: ProgressFields | null = null;
  const bar = new cliProgress.SingleBar({
    stream,
    hideCursor: true,
    fps: 5,
    // Rendered by cli-progress at its frame rate: the width is read at every frame, so a resized terminal is followed.
    // One column stays free: cli-progress turns line wrapping off, and its clear-to-end-of-line after a line that
    // fills the last column would erase that column's character.
    format: (_o: unknown, params: { maxWidth: number }) => (latest ? progressLine({ ...latest, elapsedSeconds: (Date.now() - t0) / 1000 }, params.maxWidth - 1) : ''),
  });
  let release: (() => void) | null = null;
  // A notice replaces the bar's line and the bar is drawn again below it, where the cursor is saved anew (the bar
  // returns to its saved position when it stops). Broken into lines that fit: line wrapping is off while it draws.
  const writeAbove = (line: string) => {
    stream.write(`\r\x1b[2K${wrapText(line, (stream.columns || 80) - 1).join('\n')}\n\x1b7`);
    bar.render();
  };
  return {
    update(s, plan) {
      if (s.metrics) valAcc = s.metrics.val.accuracy;
      const now = Date.now();
      first ??= { step: s.step, at: now };
      // The rate so far (evaluation time included) over the steps left; unknown until a step has been timed.
      const done = s.step - first.step;
      const secondsLeft = done > 0 ? ((now - first.at) / 1000 / done) * (plan.totalSteps - s.step) : null;
      latest = { label, step: s.step, totalSteps: plan.totalSteps, epoch: s.epoch, lr: s.eta, valAcc, elapsedSeconds: (now - t0) / 1000, secondsLeft };
      if (!bar.isActive) {
        bar.start(plan.totalSteps, s.step);
        release = takeNotices({ notice: writeAbove });
      }
      bar.update(s.step);
    },
    stop: () => {
      release?.();
      release = null;
      if (bar.isActive) bar.stop();
    },
  };
}

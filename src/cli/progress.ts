/** Training progress on stderr: a bar on a terminal, a plain line per evaluation point otherwise. */
import cliProgress from 'cli-progress';
import type { RunPlan } from '../pipeline/plan.js';
import type { EvaluatedStep } from '../stages/types.js';

export interface TrainingProgress {
  update(s: EvaluatedStep, plan: RunPlan): void;
  stop(): void;
}

const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '  -  ' : `${(100 * v).toFixed(2)}%`);

export function trainingProgress(label: string, stream: NodeJS.WriteStream = process.stderr): TrainingProgress {
  let valAcc: number | undefined;
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { stream, format: `${label} [{bar}] {value}/{total} steps | epoch {epoch} | eta {lr} | val acc {valAcc} | {duration_formatted} (ETA {eta_formatted})`, hideCursor: true, etaBuffer: 200, fps: 5 },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(s, plan) {
        if (s.metrics) valAcc = s.metrics.val.accuracy;
        const payload = { epoch: s.epoch.toFixed(2), lr: s.eta.toExponential(2), valAcc: pct(valAcc) };
        if (!started) { bar.start(plan.totalSteps, s.step, payload); started = true; }
        bar.update(s.step, payload);
      },
      stop: () => { if (started) bar.stop(); },
    };
  }
  const t0 = Date.now();
  return {
    update(s, plan) {
      if (!s.metrics) return;
      const m = s.metrics;
      stream.write(`${label} step ${s.step}/${plan.totalSteps} epoch ${s.epoch.toFixed(2)} eta ${s.eta.toExponential(2)} ` +
        `train loss ${m.train.loss.toFixed(4)} acc ${pct(m.train.accuracy)} | val loss ${m.val.loss.toFixed(4)} acc ${pct(m.val.accuracy)} | ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
    },
    stop() {},
  };
}

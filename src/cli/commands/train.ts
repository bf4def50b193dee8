/**
 * `cifar-mlp run <train config>`: one training run, from data to summary.json, model.json and plots
 * (src/experiment/train-run.ts), with a progress line on stderr and a closing line of results.
 * Exit code: completed 0, diverged 3, interrupted by SIGINT/SIGTERM 130 (continue it with `--resume`), failed 1.
 */
import type { TrainConfig } from '../../config/schema.js';
import type { Summary } from '../../formats/run-summary.js';
import { trainIntoFolder } from '../../experiment/train-run.js';
import { log } from '../log.js';
import { trainingProgress } from '../progress.js';
import type { RunOptions } from '../run-options.js';
import { percent } from '../../util/format.js';
import { cifarMlpCommand } from '../../util/shell-word.js';

export const exitCodeOf = (s: Summary['status']) => ({ completed: 0, interrupted: 130, diverged: 3, pruned: 0, failed: 1, running: 1 })[s];

/** The closing line of a run: status, speed, accuracies (of the ensemble and each network, where it builds one). */
function closingLine(summary: Summary, outDir: string): string {
  const f = summary.final, e = summary.ensemble;
  const resumeHint = summary.status === 'interrupted' ? `; continue with: ${cifarMlpCommand('run', '--out', outDir, '--resume')}` : '';
  if (summary.memberRuns) {
    const n = summary.config.ensemble.members;
    return `cifar-mlp: ${summary.status}: ${summary.memberRuns.filter((r) => r.status === 'completed').length} of ${n} members in ${summary.seconds.toFixed(1)}s` +
      (f && e ? `; ensemble of ${e.members.length} networks: accuracy train ${percent(f.train.accuracy)}, val ${percent(f.val.accuracy)}, test ${f.test ? percent(f.test.accuracy) : '—'}` +
        `; single networks test ${e.members.map((m) => (m.final.test ? percent(m.final.test.accuracy) : '—')).join(', ')}` : summary.error ? `; ${summary.error}` : '') +
      `${resumeHint}; results in ${outDir}`;
  }
  return `cifar-mlp: ${summary.status} after ${summary.steps} steps in ${summary.seconds.toFixed(1)}s (${Math.round(summary.samplesPerSecond)} samples/s on ${summary.backend})` +
    (f ? `; ${e ? `ensemble of ${e.members.length} snapshots (${e.average} average): ` : ''}accuracy train ${percent(f.train.accuracy)}, val ${percent(f.val.accuracy)}, test ${f.test ? percent(f.test.accuracy) : 'not evaluated'}` +
      (e ? `; single snapshots test ${e.members.map((m) => (m.final.test ? percent(m.final.test.accuracy) : '—')).join(', ')}` : '') : summary.error ? `; ${summary.error}` : '') +
    `${resumeHint}; results in ${outDir}`;
}

export async function trainCommand(config: TrainConfig, opts: RunOptions): Promise<number> {
  const result = await trainIntoFolder(config, { ...opts, log, progress: (label) => trainingProgress(label) });
  if (!result) {
    log('cifar-mlp: interrupted before the run started; nothing was written');
    return 130;
  }
  log(closingLine(result.summary, result.outDir));
  return exitCodeOf(result.summary.status);
}

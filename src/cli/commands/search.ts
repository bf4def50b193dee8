/**
 * `cifar-mlp run|search <search config>`: a search on a pool of worker threads or, with --queue, on `cifar-mlp worker`
 * processes through Redis (src/experiment/search-run.ts),
 * with its progress on stderr and closing lines: counts, pool use, pruning, the best trials, the chosen one.
 * Exit code: 0 completed, 130 interrupted (continue with --resume), 1 when no trial completed.
 */
import type { SearchConfig } from '../../config/schema.js';
import type { TrialParams } from '../../config/search-schema.js';
import { SearchProgress } from '../../search/progress.js';
import { searchIntoFolder } from '../../experiment/search-run.js';
import type { SearchSummary } from '../../formats/search-summary.js';
import { paramsLabel } from '../../search/space.js';
import { log } from '../log.js';
import type { RunOptions } from '../run-options.js';
import { percent } from '../../util/format.js';
import { cifarMlpCommand } from '../../util/shell-word.js';
import { redactUrl } from '../../search/queue-protocol.js';

/** The training config the README's searches lead to (the command a finished search prints names it). */
const FINAL_CONFIG = 'config/final.yaml';

export interface SearchCommandOptions extends RunOptions {
  /** Run the trials on `cifar-mlp worker` processes through this Redis URL instead of the local pool. */
  queue?: string;
  /** With queue: the artifact store shared with the workers. */
  artifacts?: string;
}

export async function searchCommand(config: SearchConfig, opts: SearchCommandOptions): Promise<number> {
  const result = await searchIntoFolder(config, { ...opts, log, display: (name, slots) => new SearchProgress(name, slots, process.stderr, undefined, opts.queue !== undefined) });
  if (!result) {
    log('cifar-mlp: interrupted before the search started; nothing was written');
    return 130;
  }
  const { summary, outDir } = result;
  closingLines(config, summary, outDir, opts.queue).forEach((l) => log(l));
  return summary.status === 'completed' ? 0 : summary.status === 'interrupted' ? 130 : 1;
}

/** The command that continues the search in `outDir` (on the same queue, its password left out). */
export const resumeCommand = (outDir: string, queue: string | undefined) =>
  cifarMlpCommand('search', '--out', outDir, '--resume', ...(queue !== undefined ? ['--queue', redactUrl(queue)] : []));

function closingLines(config: SearchConfig, summary: SearchSummary, outDir: string, queue: string | undefined): string[] {
  const lines: string[] = [];
  const { counts } = summary;
  const label = (p: TrialParams) => paramsLabel(summary.space, p);
  lines.push(`cifar-mlp: search ${summary.status}: ${counts.completed} completed, ${counts.pruned} pruned, ${counts.diverged} diverged, ${counts.failed} failed, ${counts.pending} not run, ` +
    `in ${summary.seconds.toFixed(1)}s` + (summary.note ? ` (${summary.note})` : ''));
  const session = summary.secondsSinceResume ?? summary.seconds;
  if (summary.trialSeconds > 0) {
    lines.push(`cifar-mlp: ${summary.trialSeconds.toFixed(1)}s of trials in ${session.toFixed(1)}s${summary.secondsSinceResume !== undefined ? ' since the resume' : ''} (${(summary.trialSeconds / session).toFixed(2)} running on average, ` +
      (queue !== undefined
        ? `up to ${summary.workers} trial(s) handed to the queue's workers at once); peak memory of this process ${summary.peakRssMiB.toFixed(0)} MiB`
        : `${summary.workers} worker(s) × ${summary.threadsPerTrial} kernel thread(s)); peak memory ${summary.peakRssMiB.toFixed(0)} MiB`));
  }
  if (config.pruning.rule !== 'none') {
    const { stepsSpent, stepsWithoutPruning } = summary.budget;
    lines.push(`cifar-mlp: pruning (${config.pruning.rule}): ${counts.pruned} trial(s) pruned; ${stepsSpent} update steps spent, ${stepsWithoutPruning} without pruning ` +
      `(${stepsWithoutPruning > 0 ? ((100 * stepsSpent) / stepsWithoutPruning).toFixed(1) : '—'}%)`);
  }
  for (const r of summary.best) lines.push(`cifar-mlp:   #${r.rank} trial ${r.trial} (${label(r.params)}): val ${percent(r.val_acc)}`);
  const c = summary.chosen;
  if (c) {
    lines.push(`cifar-mlp: chosen trial ${c.id} (${label(c.params)}): val ${percent(c.valAccuracy)}, test ${c.test ? percent(c.test.accuracy) : `— (${c.note})`}` +
      ` (the search's only test figure); results in ${outDir}`);
    if (summary.status === 'completed') {
      lines.push(`cifar-mlp: to train with the chosen values: ${cifarMlpCommand('run', FINAL_CONFIG, '--from', outDir)} (or any training config in place of ${FINAL_CONFIG})`);
    }
  } else lines.push(`cifar-mlp: no trial chosen; results in ${outDir}`);
  if (summary.status !== 'completed' && counts.pending > 0) {
    lines.push(`cifar-mlp: continue the search with: ${resumeCommand(outDir, queue)}${queue !== undefined && queue !== redactUrl(queue) ? ' (with the password in the URL)' : ''}`);
  }
  return lines;
}

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

export interface SearchCommandOptions extends RunOptions {
  /** Run the trials on `cifar-mlp worker` processes through this Redis URL instead of the local pool. */
  queue?: string;
}

export async function searchCommand(config: SearchConfig, opts: SearchCommandOptions): Promise<number> {
  const result = await searchIntoFolder(config, { ...opts, log, display: (name, slots) => new SearchProgress(name, slots) });
  if (!result) {
    log('cifar-mlp: interrupted before the search started; nothing was written');
    return 130;
  }
  const { summary, outDir } = result;
  closingLines(config, summary, outDir).forEach((l) => log(l));
  return summary.status === 'completed' ? 0 : summary.status === 'interrupted' ? 130 : 1;
}

function closingLines(config: SearchConfig, summary: SearchSummary, outDir: string): string[] {
  const lines: string[] = [];
  const { counts } = summary;
  const label = (p: TrialParams) => paramsLabel(summary.space, p);
  const resumeHint = summary.status === 'interrupted' ? `; continue with --out ${outDir} --resume` : '';
  lines.push(`cifar-mlp: search ${summary.status}: ${counts.completed} completed, ${counts.pruned} pruned, ${counts.diverged} diverged, ${counts.failed} failed, ${counts.pending} not run, ` +
    `in ${summary.seconds.toFixed(1)}s` + (summary.note ? ` (${summary.note})` : ''));
  if (summary.trialSeconds > 0) {
    lines.push(`cifar-mlp: ${summary.trialSeconds.toFixed(1)}s of trials in ${summary.seconds.toFixed(1)}s (${(summary.trialSeconds / summary.seconds).toFixed(2)} running on average, ` +
      `${summary.workers} worker(s) × ${summary.threadsPerTrial} kernel thread(s)); peak memory ${summary.peakRssMiB.toFixed(0)} MiB`);
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
  } else lines.push(`cifar-mlp: no trial chosen; results in ${outDir}${resumeHint}`);
  return lines;
}

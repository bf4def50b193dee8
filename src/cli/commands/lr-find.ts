/**
 * `cifar-mlp lr-find <train config>`: the learning-rate range test of the config's network and data (lrFind.* sets
 * its bounds, steps and stopping rule; see src/pipeline/lr-find.ts). Prints the suggested schedule.etaMin /
 * schedule.etaMax and writes, in the output folder (default runs/<name>-lr-find): lr-find.csv (step, eta, loss,
 * smoothed), lr-find.json (the suggestion and how the sweep ended), lr-find.svg / .png, and the run's config.yaml,
 * summary.json. Exit 0 with a suggestion, 1 when the loss never fell (no range to suggest), 130 when interrupted.
 */
import type { TrainConfig } from '../../config/schema.js';
import { lrFindIntoFolder } from '../../experiment/lr-find-run.js';
import { log } from '../log.js';
import type { RunOptions } from '../run-options.js';

export async function lrFindCommand(config: TrainConfig, opts: RunOptions): Promise<number> {
  const done = await lrFindIntoFolder(config, { ...opts, log });
  if (!done) {
    log('cifar-mlp: interrupted before the range test started; nothing was written');
    return 130;
  }
  const { result, outDir } = done;
  const s = result.suggestion;
  log(`cifar-mlp: range test ${result.status} after ${result.points.length} steps in ${result.seconds.toFixed(1)}s` +
    (result.stopped ? ` (${result.stopped})` : '') + `; results in ${outDir}`);
  if (result.status === 'interrupted') return 130;
  if (result.status === 'failed') return 1;
  if (!s) {
    log('cifar-mlp: no range to suggest: the smoothed loss never fell (try a higher lrFind.etaMax or more lrFind.steps)');
    return 1;
  }
  process.stdout.write(`suggested schedule: etaMin ${s.etaMin.toPrecision(3)}, etaMax ${s.etaMax.toPrecision(3)} ` +
    `(lowest smoothed loss ${s.lowest.smoothed.toFixed(4)} at eta ${s.lowest.eta.toPrecision(3)})\n` +
    `  --set schedule.etaMin=${s.etaMin.toPrecision(3)} --set schedule.etaMax=${s.etaMax.toPrecision(3)}\n`);
  return 0;
}

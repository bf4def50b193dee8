/**
 * `cifar-mlp run <gradcheck config>`: analytic against numerical gradients in float64, and the training backend's
 * float32 gradients against the float64 reference (src/experiment/gradcheck-run.ts). Prints a table on stdout, writes
 * gradcheck.csv and summary.json, and exits 1 when an error exceeds its threshold.
 */
import type { GradcheckConfig } from '../../config/schema.js';
import { gradcheckIntoFolder } from '../../experiment/gradcheck-run.js';
import { formatTable } from '../../gradcheck/run.js';
import { log } from '../log.js';
import type { RunOptions } from '../run-options.js';

export async function gradcheckCommand(config: GradcheckConfig, opts: RunOptions): Promise<number> {
  const done = await gradcheckIntoFolder(config, { ...opts, log });
  if (!done) {
    log('cifar-mlp: interrupted before the gradient check started; nothing was written');
    return 130;
  }
  const { result: summary, outDir } = done;
  process.stdout.write(`${formatTable(summary.results)}\n`);
  const worst = Object.entries(summary.worst).map(([check, w]) => `${check} worst ${w.value.toExponential(2)} (threshold ${w.threshold}) ${w.passed ? 'ok' : 'FAILED'}`);
  log(`cifar-mlp: gradient check ${summary.status} in ${summary.seconds.toFixed(1)}s: ${worst.join('; ')}; results in ${outDir}`);
  return { passed: 0, failed: 1, interrupted: 130 }[summary.status];
}

/**
 * A single network trained into its folder (`cifar-mlp run`, the library's `train()`): metrics.csv streamed,
 * model.json saved every `checkpoint.every` steps and at the end, summary.json whatever the outcome (completed,
 * diverged, interrupted: continue it with --resume, failed), then the plots and report.html.
 */
import { existsSync } from 'node:fs';
import type { TrainConfig } from '../config/schema.js';
import { loadCheckpoint, type Checkpoint } from '../formats/model-file.js';
import { readRunSummary } from '../formats/run-summary.js';
import { UsageError } from '../util/errors.js';
import type { Summary } from '../formats/run-summary.js';
import { describeSelection } from '../kernels/describe-selection.js';
import { backendChoice, type BackendChoice, type Selection } from '../kernels/select.js';
import { trainNetwork } from '../pipeline/network-run.js';
import { checkResumable, resumeStateOf } from '../pipeline/resume.js';
import { cycleEndNote } from '../pipeline/plan.js';
import { renderRunArtifacts } from '../report/run-artifacts.js';
import type { FolderStrategy } from './folder-run.js';
import { chooseBackend, prepareData, type PreparedData } from './prepared-data.js';
import { resumeCheckpoint, resumeFolder, resumeMetrics } from './resume-folder.js';
import type { TrainFolderOptions } from './train-options.js';

interface Prepared extends PreparedData {
  selection: Selection;
  checkpoint: Checkpoint | null;
  /** The backends a resumed run trained on before this session, when it switches (see TrainFolderOptions.switchBackend). */
  earlier?: BackendChoice['earlier'];
}

/**
 * A resume on the backend the run trained on (its summary.json's), or, with `switchBackend`, on another one, recorded:
 * the backends differ in rounding, so the results would change from the next step on without a word.
 */
function backendsSoFar(dir: string, checkpoint: Checkpoint, now: string, switchBackend: boolean): BackendChoice['earlier'] {
  let stored;
  try {
    stored = readRunSummary(dir);
  } catch {
    stored = null;
  }
  const before = stored?.backend;
  if (before === undefined || before === now) return stored?.backendChoice?.earlier;
  if (!switchBackend) {
    throw new UsageError(`--resume: the run in ${dir} trained on backend ${before} up to step ${checkpoint.step}, and ${now} would continue it: ` +
      `its results would change from there on (backends round differently). Resume with --backend ${before}, or pass --switch-backend to continue on ${now} (recorded in summary.json)`);
  }
  return [...(stored?.backendChoice?.earlier ?? []), { backend: before, untilStep: checkpoint.step }];
}

export function singleRun(config: TrainConfig, opts: TrainFolderOptions): FolderStrategy<Prepared, Summary> {
  let disposed = false;
  const dispose = async (p: Prepared) => {
    if (!disposed) await p.selection.backend.dispose();
    disposed = true;
  };
  return {
    name: config.name,
    async prepare() {
      const checkpoint = opts.resume ? resumeCheckpoint(opts) : null;
      const trainedOn = checkpoint?.data.dir !== undefined && existsSync(checkpoint.data.dir) ? checkpoint.data.dir : undefined;
      const data = await prepareData(config, opts, trainedOn);
      if (checkpoint) checkResumable(checkpoint, config, data.counts, data.normalization);
      const selection = await chooseBackend(config);
      if (!checkpoint) return { ...data, selection, checkpoint };
      try {
        return { ...data, selection, checkpoint, earlier: backendsSoFar(resumeFolder(opts), checkpoint, selection.backend.name, opts.switchBackend ?? false) };
      } catch (e) {
        await selection.backend.dispose();
        throw e;
      }
    },
    async run(p, dir) {
      let checkpoint = p.checkpoint;
      let secondsBefore = 0;
      if (checkpoint) {
        // Another process may have moved the run on between the first read and the lock (a run finishing as this one
        // starts): model.json is read and checked again, and metrics.csv cut back to its step.
        const now = loadCheckpoint(checkpoint.path);
        if (now.step !== checkpoint.step || now.createdAt !== checkpoint.createdAt) checkResumable(now, config, p.counts, p.normalization);
        checkpoint = now;
        secondsBefore = await resumeMetrics(dir, checkpoint.step);
      }
      const { splits, plan, selection } = p;
      opts.log(`cifar-mlp: ${config.name}: data ${p.dataDir} (train ${splits.train.count}, val ${splits.val.count}, test ${splits.test.count}); ` +
        `${describeSelection(selection)}; out ${dir}` + (checkpoint ? `; resuming at step ${checkpoint.step} of ${plan.totalSteps}` : ''));
      const note = cycleEndNote(config, plan);
      if (note) opts.log(`cifar-mlp: ${config.name}: note: ${note}`);
      try {
        const { summary } = await trainNetwork({
          config, splits, normalization: p.normalization, dataDir: p.dataDir, dir, signal: opts.signal, model: 'checkpoints', configComment: opts.configComment,
          backend: selection.backend, backendChoice: { ...backendChoice(config.kernels.backend, selection), ...(p.earlier?.length ? { earlier: p.earlier } : {}) },
          ...(opts.progress ? { progress: opts.progress(config.name) } : {}),
          ...(checkpoint ? { resume: { ...resumeStateOf(checkpoint), secondsBefore } } : {}),
        });
        return summary;
      } finally {
        await dispose(p);
      }
    },
    render: (dir) => renderRunArtifacts(dir, opts.log),
    release: dispose,
  };
}

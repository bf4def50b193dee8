/** How a training run (single or ensemble) is told where it is and how to report. */
import type { StepProgress } from '../pipeline/network-run.js';
import type { FolderRunOptions } from './options.js';

export interface TrainFolderOptions extends FolderRunOptions {
  /** A progress display per network trained, named `label` (the run's name, or "<name> member-<i>/<n>"). */
  progress?: (label: string) => StepProgress;
}

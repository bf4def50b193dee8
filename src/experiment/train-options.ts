/** How a training run (single or ensemble) is told where it is and how to report. */
import type { StepProgress } from '../pipeline/network-run.js';
import type { FolderRunOptions } from './options.js';

export interface TrainFolderOptions extends FolderRunOptions {
  /** A progress display per network trained, named `label` (the run's name, or "<name> member-<i>/<n>"). */
  progress?: (label: string) => StepProgress;
  /**
   * A resume may continue on another backend than the run's so far (results differ from there on in the last digits;
   * recorded in summary.json `backendChoice.earlier`). Without it such a resume is refused.
   */
  switchBackend?: boolean;
}

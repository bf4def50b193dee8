/** What every command that fills an output folder is told: where the data and the folder are, how to report, when to stop. */
export interface FolderRunOptions {
  /** The CIFAR-10 folder (else the config's data.dir, $CIFAR10_DIR, ./data/cifar-10-batches-bin, else download). */
  data?: string;
  /** The output folder (default runs/<name>, or runs/<name>-<time> when taken). */
  out?: string;
  /** Replace the files this command writes in a non-empty `out`. */
  force?: boolean;
  /** Continue the interrupted run or search in `out`. */
  resume?: boolean;
  /** The config file, when the config came from one: a relative data.dir is taken from its folder, messages name it. */
  configPath?: string;
  /** Stops the run after the current step (it is then 'interrupted' and resumable). */
  signal: AbortSignal;
  /** Lines worth telling (start line, warnings, results). */
  log: (line: string) => void;
  /** Comment lines at the top of the run's config.yaml (where its values came from: `--from`). */
  configComment?: string[];
  /** Draw a download's progress bar on stderr (default true). */
  downloadProgress?: boolean;
}

/** `source` of messages about the config: its file, else "config". */
export const configSource = (opts: Pick<FolderRunOptions, 'configPath'>) => opts.configPath ?? 'config';

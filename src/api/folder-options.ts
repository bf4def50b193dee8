/** What `train()` and `search()` both take: where the data and the output folder are, how to stop and to report. */
export interface FolderOptions {
  /** The output folder (a non-empty one is refused unless `force` or `resume`). */
  out: string;
  /**
   * The CIFAR-10 folder (the binary version: data_batch_1.bin …). Default: the config's data.dir, $CIFAR10_DIR,
   * ./data/cifar-10-batches-bin, else the official archive is downloaded (162 MiB, md5-checked) into ./data.
   */
  data?: string;
  /** Replace the files this function writes in a non-empty `out`. */
  force?: boolean;
  /** Continue the interrupted run or search in `out` (same config). */
  resume?: boolean;
  /** Stops it after the current update step: it ends with status 'interrupted' (resumable). */
  signal?: AbortSignal;
  /** Receives the lines the CLI prints (start line with data and backend, warnings); default: none. */
  log?: (line: string) => void;
}

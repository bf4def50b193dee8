/** What the commands that write a run or search folder take from the command line. */
export interface RunOptions {
  data?: string;
  out?: string;
  force?: boolean;
  resume?: boolean;
  /** --switch-backend: a resume may continue on another backend than the run's (recorded). */
  switchBackend?: boolean;
  configPath: string;
  signal: AbortSignal;
  /** Comment lines at the top of the run's config.yaml (`--from`). */
  configComment?: string[];
}

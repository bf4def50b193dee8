/**
 * The command lines of the search and queue benchmarks: `--flag value` options and bare switches, `-h`/`--help`
 * printing the usage, and a one-line error naming the benchmark for an unknown option or a missing value.
 */
export function parseFlags(
  bench: string, usage: string, argv: string[],
  flags: Record<string, (value: string) => void>, switches: Record<string, () => void>,
): void {
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    if (x === '-h' || x === '--help') {
      console.log(usage);
      process.exit(0);
    }
    if (Object.hasOwn(switches, x)) {
      switches[x]();
      continue;
    }
    if (!Object.hasOwn(flags, x)) throw new Error(`${bench}: unknown option ${x}`);
    const v = argv[++i];
    if (v === undefined) throw new Error(`${bench}: ${x} needs a value`);
    flags[x](v);
  }
}

/** A word of a command line to paste into a POSIX shell: as it is when it is plain, else single-quoted. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A whole command line of `cifar-mlp` (the arguments quoted as `shellWord` does). */
export const cifarMlpCommand = (...args: string[]) => ['cifar-mlp', ...args.map(shellWord)].join(' ');

/**
 * The CLI's lines for people: on stderr, so that stdout stays for what a command prints as its result. A line goes
 * through util/terminal-text.ts (secrets redacted, control characters, newlines included, escaped), so that a name
 * from a config, a model file, a worker or Redis can neither move the cursor nor forge a line of its own; only
 * leading newlines (a notice that starts below a progress line) stay.
 */
import { terminalLine } from '../util/terminal-text.js';

export const log = (line: string) => {
  const lead = /^\n*/.exec(line)![0];
  process.stderr.write(`${lead}${terminalLine(line.slice(lead.length))}\n`);
};

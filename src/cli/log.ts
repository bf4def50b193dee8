/**
 * The CLI's lines for people: on stderr (stdout stays for what a command prints as its result), above any progress
 * display. A line goes through util/terminal-text.ts (secrets redacted, control characters, newlines included,
 * escaped), so that a name from a config, a model file, a worker or Redis can neither move the cursor nor forge a
 * line of its own; only leading newlines (a notice that starts below a progress line) stay.
 */
import { notice } from '../util/notice.js';
import { terminalLine } from '../util/terminal-text.js';

export const log = (line: string) => {
  const lead = /^\n*/.exec(line)![0];
  notice(`${lead}${terminalLine(line.slice(lead.length))}`);
};

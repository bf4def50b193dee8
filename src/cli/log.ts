/**
 * The CLI's lines for people: on stderr, so that stdout stays for what a command prints as its result. Every line
 * goes through util/terminal-text.ts (secrets redacted, control characters escaped).
 */
import { terminalLines } from '../util/terminal-text.js';

export const log = (text: string) => process.stderr.write(`${terminalLines(text).join('\n')}\n`);

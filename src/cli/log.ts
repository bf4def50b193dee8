/** The CLI's lines for people: on stderr (stdout stays for what a command prints as its result), above any progress display. */
import { notice } from '../util/notice.js';

export const log = (line: string) => notice(line);

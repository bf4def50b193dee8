/**
 * Text on its way to a terminal: names, messages and errors hold values from configs, model files, workers and Redis,
 * which may carry escape sequences, carriage returns, newlines or bidirectional overrides that rewrite or forge what
 * the terminal shows, and secrets. `terminalLine` makes one line of it: secrets redacted (util/redact.ts), every
 * control character shown as an escape (`\n`, `\x1b`, `\u202e`), so that it can neither move the cursor nor start a
 * line of its own.
 */
import { redactSecrets } from './redact.js';

/** C0 and C1 controls, DEL, line/paragraph separators, bidi embeddings/overrides/isolates, zero-width marks. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  return NAMED[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
}

/** One line for a terminal: secrets redacted, control characters (newlines included) escaped. */
export function terminalLine(text: string): string {
  return redactSecrets(String(text)).replace(UNSAFE, escapeChar);
}

/** Several lines for a terminal: each line as terminalLine makes it (the text's own newlines stay). */
export function terminalLines(text: string): string[] {
  return String(text).split('\n').map(terminalLine);
}

/** Whether a text holds a character terminalLine would escape (a name that is not plain text). */
export const hasControlCharacters = (text: string): boolean => new RegExp(UNSAFE.source).test(text);

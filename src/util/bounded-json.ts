/**
 * JSON from files with a nesting limit checked before parsing: JSON.parse accepts any depth, but what comes after
 * (JSON.stringify for a checksum, recursive validation) overflows the stack on a deeply nested document.
 */

export const MAX_JSON_DEPTH = 64;

/** The deepest nesting of arrays and objects in a JSON text, scanning at most until it exceeds `limit`. */
export function jsonDepth(text: string, limit = Infinity): number {
  let depth = 0, deepest = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: jump to its closing quote (one not escaped by an odd number of backslashes)
      for (;;) {
        const q = text.indexOf('"', i + 1);
        if (q < 0) return deepest; // unterminated: JSON.parse reports it
        let backslashes = 0;
        for (let j = q - 1; text.charCodeAt(j) === 0x5c; j--) backslashes++;
        i = q;
        if (backslashes % 2 === 0) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/** JSON.parse, refusing a document nested deeper than `maxDepth` (an Error saying so; SyntaxError as JSON.parse). */
export function parseJsonBounded(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  if (jsonDepth(text, maxDepth) > maxDepth) throw new Error(`nested deeper than ${maxDepth} levels`);
  return JSON.parse(text);
}

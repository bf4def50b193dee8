/**
 * Status lines that fit the terminal: a line is made of parts, each with how long it is kept as the width
 * shrinks; the least important parts go first, a bar takes the room left, and a line that still does not fit
 * is cut at a space (never inside a number) and ends with "…".
 */
import { terminalLine } from './terminal-text.js';

export interface LinePart {
  text: string;
  /** The higher, the longer it stays as the line narrows; Infinity: never dropped. */
  keep: number;
  /** Separator before it when another part precedes it (default " | "). */
  sep?: string;
  /** A part that takes the room left (a progress bar), drawn `min`..`max` characters wide. */
  grow?: { min: number; max: number; draw: (width: number) => string };
  /** A text that may be cut (at a space, with "…") down to this many characters before parts are dropped (a message). */
  shrink?: number;
}

const SEP = ' | ';
const sepOf = (p: LinePart) => p.sep ?? SEP;
const partMin = (p: LinePart) => (p.grow ? p.grow.min : p.shrink !== undefined ? Math.min(p.text.length, p.shrink) : p.text.length);
const minLength = (parts: LinePart[]) => parts.reduce((n, p, i) => n + (i > 0 ? sepOf(p).length : 0) + partMin(p), 0);

/** Cuts `line` to `width` characters at a space, marking the cut with "…". */
export function cutAtSpace(line: string, width: number): string {
  if (line.length <= width) return line;
  if (width <= 1) return line.slice(0, Math.max(0, width));
  const head = line.slice(0, width - 1);
  const space = line[width - 1] === ' ' ? head.length : head.lastIndexOf(' ');
  return `${(space > 0 ? head.slice(0, space) : head).replace(/[\s|,;:]+$/, '')}…`;
}

/** The parts that fit `width`, in their order, joined; see the module comment. */
export function fitLine(parts: LinePart[], width: number): string {
  let shown = parts.map((p) => ({ ...p, text: terminalLine(p.text) })).filter((p) => p.grow || p.text.length > 0);
  while (minLength(shown) > width) {
    const droppable = shown.filter((p) => p.keep !== Infinity);
    if (droppable.length === 0) break;
    const least = droppable.reduce((a, b) => (b.keep < a.keep ? b : a));
    shown = shown.filter((p) => p !== least);
  }
  // The room left goes to the bar first, then to the texts that were shortened.
  let spare = Math.max(0, width - minLength(shown));
  const drawn = new Map<LinePart, string>();
  for (const p of shown.filter((q) => q.grow)) {
    const w = Math.min(p.grow!.max, p.grow!.min + spare);
    spare -= w - p.grow!.min;
    drawn.set(p, p.grow!.draw(w));
  }
  for (const p of shown.filter((q) => !q.grow && q.shrink !== undefined)) {
    const w = Math.min(p.text.length, partMin(p) + spare);
    spare -= w - partMin(p);
    drawn.set(p, cutAtSpace(p.text, w));
  }
  const line = shown.map((p, i) => (i > 0 ? sepOf(p) : '') + (drawn.get(p) ?? p.text)).join('');
  return cutAtSpace(line, width);
}

/** A duration for a status line: 42s, 3m 05s, 1h 07m; "?" when unknown. */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${String(s % 60).padStart(2, '0')}s`;
}

/** A progress bar `width` characters wide, brackets included, `fraction` (0..1) of it filled. */
export function drawBar(fraction: number, width: number): string {
  const inner = Math.max(0, width - 2);
  const full = Math.round(Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0)) * inner);
  return `[${'█'.repeat(full)}${'░'.repeat(inner - full)}]`;
}

/**
 * `text` broken at spaces into lines of at most `width` characters (a word longer than that is split): for a
 * terminal whose line wrapping is turned off while a progress display draws, where a longer line would be cut.
 */
export function wrapText(text: string, width: number): string[] {
  const w = Math.max(1, width);
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (let word of paragraph.split(' ')) {
      while (word.length > w) {
        if (line) lines.push(line);
        lines.push(word.slice(0, w));
        word = word.slice(w);
        line = '';
      }
      if (!line) line = word;
      else if (line.length + 1 + word.length <= w) line += ` ${word}`;
      else {
        lines.push(line);
        line = word;
      }
    }
    lines.push(line);
  }
  return lines;
}

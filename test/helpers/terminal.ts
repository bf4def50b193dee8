/**
 * A terminal of `columns` columns for tests of what a redrawn display leaves on screen: a writable stream that
 * interprets the control sequences cli-progress and readline write (cursor moves, line clears, save/restore, line
 * wrapping on/off) into rows of text, so that a line overwritten by a redraw is gone as it would be on screen.
 */
import { Writable } from 'node:stream';

export function virtualTerminal(columns: number) {
  const rows: string[][] = [[]];
  let row = 0, col = 0, wrap = true;
  let saved = { row: 0, col: 0 };
  const line = (r: number) => { while (rows.length <= r) rows.push([]); return rows[r]; };
  const put = (ch: string) => {
    if (col >= columns) {
      if (wrap) { row++; col = 0; } else col = columns - 1; // wrapping off: the last column is overwritten
    }
    const l = line(row);
    while (l.length < col) l.push(' ');
    l[col++] = ch;
  };
  const csi = (params: string, final: string) => {
    const n = params === '' ? 1 : Number(params.replace('?', ''));
    switch (final) {
      case 'A': row = Math.max(0, row - n); break;
      case 'B': row += n; line(row); break;
      case 'C': col = Math.min(columns - 1, col + n); break;
      case 'D': col = Math.max(0, col - n); break;
      case 'G': col = Math.max(0, (params === '' ? 1 : Number(params)) - 1); break;
      case 'K': {
        const l = line(row), mode = params === '' ? 0 : Number(params);
        if (mode === 0) l.length = Math.min(l.length, col);
        else if (mode === 1) for (let i = 0; i <= col && i < l.length; i++) l[i] = ' ';
        else l.length = 0;
        break;
      }
      case 'J': line(row).length = Math.min(line(row).length, col); rows.length = row + 1; break;
      case 'h': case 'l': if (params === '?7') wrap = final === 'h'; break;
      default: break; // colours, cursor visibility
    }
  };
  const feed = (s: string) => {
    for (let i = 0; i < s.length; i++) {
      const ch = s[i];
      if (ch === '\x1b') {
        if (s[i + 1] === '7') { saved = { row, col }; i++; continue; }
        if (s[i + 1] === '8') { ({ row, col } = saved); i++; continue; }
        const m = /^\[([0-9;?]*)([A-Za-z])/.exec(s.slice(i + 1));
        if (m) { csi(m[1], m[2]); i += m[0].length; continue; }
      } else if (ch === '\r') col = 0;
      else if (ch === '\n') { row++; col = 0; line(row); }
      else put(ch);
    }
  };
  const stream = new Writable({ write(chunk, _e, cb) { feed(chunk.toString()); cb(); } }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY: true, columns });
  /** The screen's rows, trailing spaces removed, empty last rows dropped. */
  const screen = () => {
    const text = rows.map((r) => r.join('').trimEnd());
    while (text.length && text.at(-1) === '') text.pop();
    return text;
  };
  return { stream, screen };
}

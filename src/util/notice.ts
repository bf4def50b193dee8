/**
 * Lines for people on stderr (a signal received, a warning, a start line) while a progress display may be redrawing
 * itself there: the display that is drawing takes them and writes them above itself, where its redraw does not
 * reach; with none, they are written as they are.
 */

/** A progress display that draws on the terminal and writes notices above itself. */
export interface NoticeSink {
  notice(line: string): void;
}

const sinks: NoticeSink[] = [];

/** While a display draws: the notices go to it (the latest one registered) until the returned function is called. */
export function takeNotices(sink: NoticeSink): () => void {
  sinks.push(sink);
  return () => {
    const i = sinks.lastIndexOf(sink);
    if (i >= 0) sinks.splice(i, 1);
  };
}

export function notice(line: string, stream: NodeJS.WritableStream = process.stderr): void {
  const sink = sinks.at(-1);
  if (sink) sink.notice(line);
  else stream.write(`${line}\n`);
}

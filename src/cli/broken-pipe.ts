/**
 * A reader that goes away (`cifar-mlp predict … --json | head -1`, `cifar-mlp run … 2>&1 | head -1`) is not an error
 * of the command. EPIPE on stdout ends the command quietly with exit 0 (the forced-exit hooks run first, so an output
 * folder is left consistent, as after a second Ctrl-C). EPIPE on stderr, which carries only messages for people,
 * silences the remaining messages and the command goes on to its end: a run still finishes and writes its results.
 */
import { runForcedExitHooks } from '../util/shutdown.js';

const isBrokenPipe = (e: unknown) => (e as NodeJS.ErrnoException)?.code === 'EPIPE' || (e as NodeJS.ErrnoException)?.code === 'ERR_STREAM_DESTROYED';

/** Stops writing to `stream`: every later write succeeds without output. */
function silence(stream: NodeJS.WriteStream): void {
  stream.write = ((_chunk: unknown, encoding?: unknown, callback?: unknown) => {
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
    return true;
  }) as typeof stream.write;
}

export function handleBrokenPipes(): void {
  process.stdout.on('error', (e) => {
    if (!isBrokenPipe(e)) throw e;
    silence(process.stdout);
    silence(process.stderr);
    runForcedExitHooks();
    process.exit(0);
  });
  process.stderr.on('error', (e) => {
    if (!isBrokenPipe(e)) throw e;
    silence(process.stderr);
  });
}

// Progress display for the CIFAR-10 download, written to stderr: a cli-progress
// bar on a TTY, a plain line every 10% (or every few seconds when the size is
// unknown) otherwise, so that logs and CI output stay readable.

import cliProgress from 'cli-progress';
import { aboveOneLineBar, takeNotices } from '../util/notice.js';

/** An onProgress callback for downloadCifar10, plus stop() to finish the display. */
export type ProgressReporter = ((received: number, total: number | null) => void) & {
  /** Ends the display (final line / bar stopped). Safe to call more than once, or without any progress. */
  stop(): void;
};

export interface ProgressBarOptions {
  /** Default: process.stderr. */
  stream?: NodeJS.WriteStream;
  /** Force bar (true) or plain lines (false); default: stream.isTTY. */
  tty?: boolean;
  label?: string;
  /** Minimum time between plain lines when the total is unknown (default 5000 ms). */
  intervalMs?: number;
}

const MiB = 1024 * 1024;
const mb = (n: number): string => (n / MiB).toFixed(1);

export function progressBar(options: ProgressBarOptions = {}): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? Boolean(stream.isTTY);
  const label = options.label ?? 'Downloading CIFAR-10';
  const intervalMs = options.intervalMs ?? 5000;
  const started = Date.now();
  let last = { received: 0, total: null as number | null };
  let stopped = false;

  if (tty) {
    let bar: cliProgress.SingleBar | null = null;
    let barTotal = 0;
    let releaseNotices: (() => void) | null = null;
    const report = ((received: number, total: number | null) => {
      if (stopped) return;
      last = { received, total };
      const t = total ?? Math.max(received, 1);
      if (!bar) {
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: `${label} |{bar}| {percentage}% | {recv}/{tot} MiB | {speed} MiB/s | ETA {eta_formatted}`,
            hideCursor: true,
            barsize: 30,
            etaBuffer: 50,
          },
          cliProgress.Presets.shades_classic,
        );
        barTotal = t;
        bar.start(t, received, payload(received, total));
        const drawn = bar;
        releaseNotices = takeNotices(aboveOneLineBar(stream, () => drawn.render()));
      } else {
        if (t !== barTotal) {
          barTotal = t;
          bar.setTotal(t);
        }
        bar.update(received, payload(received, total));
      }
    }) as ProgressReporter;
    report.stop = () => {
      if (stopped) return;
      stopped = true;
      releaseNotices?.();
      bar?.stop();
    };
    return report;
  }

  let lastDecile = -1;
  let lastLineAt = 0;
  const report = ((received: number, total: number | null) => {
    if (stopped) return;
    last = { received, total };
    const now = Date.now();
    if (total !== null && total > 0) {
      const decile = Math.min(10, Math.floor((received / total) * 10));
      if (decile === lastDecile) return;
      lastDecile = decile;
      stream.write(`${label}: ${decile * 10}% (${mb(received)} of ${mb(total)} MiB)\n`);
    } else if (lastLineAt === 0 || now - lastLineAt >= intervalMs) {
      lastLineAt = now;
      stream.write(`${label}: ${mb(received)} MiB\n`);
    }
  }) as ProgressReporter;
  report.stop = () => {
    if (stopped) return;
    stopped = true;
    const { received, total } = last;
    if (received > 0 && (total === null || lastDecile < 10)) {
      stream.write(`${label}: ${mb(received)} MiB received\n`);
    }
  };
  return report;

  function payload(received: number, total: number | null): object {
    const secs = Math.max((Date.now() - started) / 1000, 0.001);
    return { recv: mb(received), tot: total === null ? '?' : mb(total), speed: (received / MiB / secs).toFixed(1) };
  }
}

/**
 * `cifar-mlp worker --queue URL [--data DIR] [--concurrency N] [--artifacts DIR]`: runs search trials from a Redis queue
 * (src/search/queue-worker.ts) until SIGINT/SIGTERM. On the first signal its running trials stop and go back to
 * the queue for another worker (exit 130); a second quits at once (the trials' locks expire and they run
 * elsewhere). It never downloads data: the folder must exist here.
 */
import { existsSync, statSync } from 'node:fs';
import { UsageError } from '../../util/errors.js';
import { DataDirError, resolveDataDir } from '../../data/locate.js';
import { QueueWorker } from '../../search/queue-worker.js';
import { runForcedExitHooks } from '../../util/shutdown.js';
import { log } from '../log.js';

export interface WorkerCommandOptions {
  queue: string;
  data?: string;
  concurrency: string;
  work?: string;
  name?: string;
  lockSeconds: string;
  rungTimeout: string;
  artifacts?: string;
}

function positive(flag: string, value: string, { integer = true, max = Infinity } = {}): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)) || n > max) {
    throw new UsageError(`${flag}: expected a ${integer ? 'whole ' : ''}number above 0${max < Infinity ? ` and at most ${max}` : ''} (got ${JSON.stringify(value)})`);
  }
  return n;
}

export async function workerCommand(o: WorkerCommandOptions): Promise<number> {
  const concurrency = positive('--concurrency', o.concurrency, { max: 256 });
  const lockMs = positive('--lock-seconds', o.lockSeconds, { integer: false, max: 3600 }) * 1000;
  const rungTimeoutMs = positive('--rung-timeout', o.rungTimeout, { integer: false }) * 1000;
  if (o.name !== undefined && !/^[A-Za-z0-9_.:@-]{1,100}$/.test(o.name)) throw new UsageError(`--name: letters, digits and _ . : @ - only, at most 100 (got ${JSON.stringify(o.name)})`);
  let dataDir: string | null;
  try {
    dataDir = resolveDataDir({ cliDir: o.data }).dir;
  } catch (e) {
    if (e instanceof DataDirError) throw new UsageError(e.message);
    throw e;
  }
  if (!dataDir) throw new UsageError('worker: no CIFAR-10 folder (looked at --data, $CIFAR10_DIR, ./data/cifar-10-batches-bin); give --data DIR (a worker never downloads)');

  if (o.artifacts !== undefined && !(existsSync(o.artifacts) && statSync(o.artifacts).isDirectory())) {
    throw new UsageError(`--artifacts ${o.artifacts}: not a folder (give the folder shared with the coordinator)`);
  }
  const worker = new QueueWorker({ url: o.queue, dataDir, concurrency, workRoot: o.work, name: o.name, lockMs, rungTimeoutMs, log, ...(o.artifacts !== undefined ? { artifacts: o.artifacts } : {}) });
  const stopping = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      log(`\nworker ${worker.name}: ${sig} received: stopping; running trials go back to the queue (again to quit at once)`);
      stopping.abort();
      void worker.stop();
    } else {
      log(`\nworker ${worker.name}: ${sig} received again: quitting now (its trials run again elsewhere once their locks expire)`);
      runForcedExitHooks();
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await worker.start(stopping.signal);
  await worker.finished();
  return 130;
}

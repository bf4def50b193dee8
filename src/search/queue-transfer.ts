/**
 * A trial's files through Redis in bounded chunks, for searches without an artifact store: Redis holds at most
 * WINDOW chunks of one transfer at a time, whatever the model's size.
 *
 *   announcements  hash  cifar-mlp:transfers-<id>                 <trial> → { key, files: [{ path, size, sha256 }] }
 *   chunks         list  cifar-mlp:transfer-<id>:<trial>-<attempt>-<hex>   the files' bytes, concatenated, in CHUNK pieces
 *
 * The worker announces the transfer, then pushes a chunk whenever the list holds fewer than WINDOW; the coordinator
 * pops them into temporary files of the trial folder, checks every file's size and sha256, and renames them into
 * place. The worker's job completes only once the coordinator has taken the last chunk. A worker whose announcement
 * was replaced (the trial runs elsewhere now) gives up and removes its chunks; one whose coordinator is gone (no
 * heartbeat) removes them too and sends the files inside the job's result instead, for a resumed coordinator.
 */
import { randomBytes, createHash, type Hash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import type { Redis } from 'ioredis';
import { digestFile, trialFiles } from './queue-artifacts.js';
import { QUEUE_PREFIX, transfersKey, type StoredFile, type TransferAnnouncement } from './queue-protocol.js';

export const CHUNK_BYTES = 512 * 1024;
/** Chunks of one transfer that may wait in Redis at once. */
export const WINDOW = 4;
/** A trial folder up to this size (all files together) travels inside the job's result. */
export const INLINE_BYTES = 256 * 1024;

const chunkKeyPattern = (searchId: string) => `${QUEUE_PREFIX}:transfer-${searchId}:`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The folder's files with their sizes and digests, and their total size. */
export function describeFiles(dir: string): { files: StoredFile[]; bytes: number } {
  const files = trialFiles(dir).map((path) => ({ path, ...digestFile(join(dir, ...path.split('/'))) }));
  return { files, bytes: files.reduce((n, f) => n + f.size, 0) };
}

export interface SendOptions {
  /** False once the search's coordinator has been gone long enough to give up. */
  coordinatorAway: () => Promise<boolean>;
  signal: AbortSignal;
}

/**
 * The worker's side: streams the files of dir to the coordinator; resolves once it has taken every chunk, or with
 * null (its chunks removed) when no coordinator is running to take them: the caller then sends them another way.
 */
export async function sendFiles(redis: Redis, searchId: string, trial: number, attempt: number, dir: string, files: StoredFile[], o: SendOptions): Promise<TransferAnnouncement | null> {
  const key = `${chunkKeyPattern(searchId)}${trial}-${attempt}-${randomBytes(4).toString('hex')}`;
  const announcement: TransferAnnouncement = { key, files };
  const text = JSON.stringify(announcement);
  await redis.hset(transfersKey(searchId), String(trial), text);
  let lastLook = 0;
  /** Waits until the list holds fewer than `limit` chunks; throws when the transfer cannot complete. */
  const waitBelow = async (limit: number) => {
    for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
      if (o.signal.aborted) throw new Error('stopped while sending the trial\'s files');
      if ((await redis.llen(key)) < limit) return;
      if (Date.now() - lastLook >= 1000) {
        lastLook = Date.now();
        if ((await redis.hget(transfersKey(searchId), String(trial))) !== text) throw new Error('the trial\'s files are no longer awaited (it runs elsewhere now)');
        if (await o.coordinatorAway()) throw new CoordinatorAway();
      }
      await sleep(wait);
    }
  };
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let fill = 0;
  const flush = async () => {
    await waitBelow(WINDOW);
    await redis.rpush(key, Buffer.from(buf.subarray(0, fill)));
    fill = 0;
  };
  try {
    for (const f of files) {
      const fd = openSync(join(dir, ...f.path.split('/')), 'r');
      try {
        for (let n; (n = readSync(fd, buf, fill, CHUNK_BYTES - fill, null)) > 0;) {
          fill += n;
          if (fill === CHUNK_BYTES) await flush();
        }
      } finally {
        closeSync(fd);
      }
    }
    if (fill > 0) await flush();
    await waitBelow(1);
    return announcement;
  } catch (e) {
    await redis.del(key).catch(() => {});
    if (e instanceof CoordinatorAway) {
      await redis.hdel(transfersKey(searchId), String(trial)).catch(() => {});
      return null;
    }
    throw e;
  }
}

class CoordinatorAway extends Error {}

/**
 * The coordinator's side of one transfer: pops its chunks into temporary files of outDir as they come, then
 * checks and renames them. `done` rejects (the temporary files removed) on a size or digest mismatch, on abandon(),
 * or when no chunk came for idleMs.
 */
export class FileReceiver {
  readonly done: Promise<void>;
  private abandoned = false;

  constructor(private readonly redis: Redis, readonly announcement: TransferAnnouncement, outDir: string, idleMs = 120_000) {
    this.done = this.receive(resolve(outDir), idleMs);
    this.done.catch(() => {});
  }

  abandon(): void {
    this.abandoned = true;
  }

  private async receive(root: string, idleMs: number): Promise<void> {
    const { key, files } = this.announcement;
    const parts = files.map((f) => {
      const target = resolve(root, ...f.path.split('/'));
      if (!target.startsWith(root + sep)) throw new Error(`result file ${JSON.stringify(f.path)}: outside the trial folder`);
      return { ...f, target, part: join(dirname(target), `.${randomBytes(4).toString('hex')}.part`) };
    });
    let index = 0, written = 0, fd: number | null = null, hash: Hash | null = null;
    const open = () => {
      while (index < parts.length && parts[index].size === 0 && fd === null) { // empty files take no bytes
        mkdirSync(dirname(parts[index].part), { recursive: true });
        closeSync(openSync(parts[index].part, 'w'));
        if (createHash('sha256').digest('hex') !== parts[index].sha256) throw new Error(`result file ${parts[index].path}: digest mismatch`);
        index++;
      }
      if (index < parts.length && fd === null) {
        mkdirSync(dirname(parts[index].part), { recursive: true });
        fd = openSync(parts[index].part, 'w');
        hash = createHash('sha256');
        written = 0;
      }
    };
    try {
      open();
      let idleSince = Date.now(), wait = 2;
      while (index < parts.length) {
        if (this.abandoned) throw new Error('transfer abandoned');
        const chunk = await this.redis.lpopBuffer(key);
        if (!chunk) {
          if (Date.now() - idleSince > idleMs) throw new Error(`no part of the trial's files came for ${idleMs / 1000}s`);
          await sleep(wait);
          wait = Math.min(wait * 2, 50);
          continue;
        }
        idleSince = Date.now();
        wait = 2;
        let at = 0;
        while (at < chunk.length) {
          if (index >= parts.length || fd === null) throw new Error('result files: more bytes than announced');
          const p = parts[index];
          const n = Math.min(chunk.length - at, p.size - written);
          const piece = chunk.subarray(at, at + n);
          writeSync(fd, piece);
          hash!.update(piece);
          written += n;
          at += n;
          if (written === p.size) {
            closeSync(fd);
            fd = null;
            const sha = hash!.digest('hex');
            if (sha !== p.sha256) throw new Error(`result file ${p.path}: sha256 ${sha.slice(0, 12)}…, the worker sent ${p.sha256.slice(0, 12)}…`);
            index++;
            open();
          }
        }
      }
      for (const p of parts) renameSync(p.part, p.target);
    } catch (e) {
      if (fd !== null) closeSync(fd);
      for (const p of parts) rmSync(p.part, { force: true });
      await this.redis.del(key).catch(() => {});
      throw e;
    }
  }
}

/** Every transfer key of a search (at its end: those of workers that died while sending included). */
export async function transferKeys(redis: Redis, searchId: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${chunkKeyPattern(searchId)}*`, 'COUNT', 1000);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

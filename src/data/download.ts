// Download and safe extraction of the official CIFAR-10 binary archive.
//
// downloadCifar10() streams the archive to a temporary file in destDir while
// computing its md5, renames it to `cifar-10-binary.tar.gz` only once the
// checksum matches, checks every entry of the archive (nothing may escape the
// target folder: no `..`, no absolute paths, no links, no devices), extracts it
// into a temporary folder inside destDir, verifies the expected files and only
// then renames `cifar-10-batches-bin` into place. Nothing half-written is ever
// left under a final name; temporary files are removed on every failure (and
// stale ones from dead processes are removed on the next run).
//
// Every failure is a DownloadError with a one-line, user-facing message and a
// machine-readable `code`.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { makeDirs } from '../util/make-dirs.js';
import { redactUrl } from '../util/redact.js';

export const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
export const CIFAR10_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';
/** File name of the verified archive inside destDir. */
export const CIFAR10_ARCHIVE_NAME = 'cifar-10-binary.tar.gz';
/** Folder the archive unpacks to (inside destDir). */
export const CIFAR10_DIR_NAME = 'cifar-10-batches-bin';
export const CIFAR10_BATCH_FILES = [
  'data_batch_1.bin',
  'data_batch_2.bin',
  'data_batch_3.bin',
  'data_batch_4.bin',
  'data_batch_5.bin',
  'test_batch.bin',
] as const;
export const CIFAR10_META_FILE = 'batches.meta.txt';
/** Bytes per record: 1 label byte + 32*32*3 pixel bytes. */
export const CIFAR10_RECORD_BYTES = 3073;

export type DownloadErrorCode =
  | 'offline' // DNS failure, connection refused, network unreachable...
  | 'network' // fetch failed for another reason (bad URL, TLS error...)
  | 'timeout' // no response / no bytes for timeoutMs
  | 'deadline' // the whole download took longer than deadlineMs
  | 'too-large' // the server sends (or announces) more than maxBytes
  | 'http' // non-2xx status
  | 'truncated' // connection dropped or fewer bytes than Content-Length
  | 'checksum' // md5 mismatch
  | 'unsafe-entry' // archive entry that would escape the target folder
  | 'bad-archive' // archive unreadable / too large
  | 'missing-files' // extraction did not yield the expected files
  | 'exists' // target cifar-10-batches-bin already exists
  | 'aborted' // caller's AbortSignal fired
  | 'io'; // local file system error

export class DownloadError extends Error {
  readonly code: DownloadErrorCode;
  constructor(code: DownloadErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DownloadError';
    this.code = code;
  }
}

export interface DownloadOptions {
  /** Archive URL (default in the CLI: CIFAR10_URL). */
  url: string;
  /** Expected md5 of the archive, lowercase hex (default in the CLI: CIFAR10_MD5). */
  md5: string;
  /** Data folder, e.g. ./data; receives the archive and cifar-10-batches-bin/. */
  destDir: string;
  /** Stall timeout: no response headers / no body bytes for this long -> abort. Default 30000. */
  timeoutMs?: number;
  /** Total deadline of the download, connection included, however steadily bytes arrive. Default 1 hour. */
  deadlineMs?: number;
  /** Largest archive accepted: a larger Content-Length is refused at once, a body is cut off at this size. Default 256 MiB. */
  maxBytes?: number;
  /** Called as bytes arrive; total is the Content-Length, or null if unknown. */
  onProgress?: (received: number, total: number | null) => void;
  /** For tests. Defaults to the global fetch. */
  fetchImpl?: typeof fetch;
  /** Cancels the download/extraction (e.g. on SIGINT); temporary files are removed. */
  signal?: AbortSignal;
  /** Keep the verified archive in destDir after extraction (default true; it is reused if present). */
  keepArchive?: boolean;
  /** Refuse archives whose entries add up to more than this (default 1 GiB; real CIFAR-10 is ~178 MB). */
  maxExtractedBytes?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_DEADLINE_MS = 60 * 60_000;
/** The real archive is 170,052,171 bytes (162.2 MiB). */
export const DEFAULT_MAX_DOWNLOAD_BYTES = 256 * 1024 ** 2;
const DEFAULT_MAX_EXTRACTED = 1024 ** 3;

/** One-line advice on installing the files by hand. */
export function manualInstallHint(destDir: string, url: string): string {
  const target = path.join(destDir, CIFAR10_DIR_NAME);
  return (
    `To install CIFAR-10 manually, download ${url} on a machine with internet access and unpack it ` +
    `so that ${target}${path.sep} holds ${CIFAR10_BATCH_FILES.join(', ')} and ${CIFAR10_META_FILE} ` +
    `(e.g. \`tar -xzf ${CIFAR10_ARCHIVE_NAME} -C ${destDir}\`), or point the tool at an existing ` +
    `${CIFAR10_DIR_NAME} folder with --data DIR, the config key data.dir, or the environment variable ` +
    `CIFAR10_DIR (default location: ./data/${CIFAR10_DIR_NAME}).`
  );
}

/**
 * Downloads, verifies and extracts CIFAR-10 into `<destDir>/cifar-10-batches-bin`
 * and returns that path. If `<destDir>/cifar-10-binary.tar.gz` already exists
 * with the right md5 it is reused instead of downloading again.
 */
export async function downloadCifar10(opts: DownloadOptions): Promise<string> {
  const destDir = path.resolve(opts.destDir);
  const finalDir = path.join(destDir, CIFAR10_DIR_NAME);
  const archive = path.join(destDir, CIFAR10_ARCHIVE_NAME);
  const md5 = opts.md5.trim().toLowerCase();

  if (await exists(finalDir)) {
    throw new DownloadError(
      'exists',
      `Not downloading CIFAR-10: ${finalDir} already exists; use it with --data ${finalDir}, or remove it to download again.`,
    );
  }
  let created: string | undefined;
  try {
    created = makeDirs(destDir);
  } catch (e) {
    throw new DownloadError('io', `CIFAR-10 download: ${(e as Error).message}`, { cause: e });
  }
  try {
    return await fetchAndExtract(opts, destDir, finalDir, archive, md5);
  } catch (e) {
    // Leave no empty folders behind that this call created (rmdir fails if not empty).
    if (created !== undefined) {
      for (let d = destDir; d.length >= created.length; d = path.dirname(d)) {
        try {
          await fsp.rmdir(d);
        } catch {
          break;
        }
      }
    }
    throw e;
  }
}

async function fetchAndExtract(
  opts: DownloadOptions,
  destDir: string,
  finalDir: string,
  archive: string,
  md5: string,
): Promise<string> {
  await removeStaleTemporaries(destDir);
  checkAborted(opts.signal);

  let haveArchive = false;
  if (await exists(archive)) {
    // Only ever renamed into place after verification, but the expected md5
    // may differ (custom URL) or the file may have been tampered with.
    const got = await md5OfFile(archive).catch(() => null);
    if (got === md5) haveArchive = true;
    else await fsp.rm(archive, { force: true });
  }
  if (!haveArchive) await fetchArchive(opts, destDir, archive, md5);

  try {
    await extractArchive(archive, destDir, finalDir, opts);
  } catch (e) {
    // An archive that cannot be extracted safely and completely is useless:
    // drop it so that the next run downloads afresh instead of reusing it.
    if (e instanceof DownloadError && ['unsafe-entry', 'bad-archive', 'missing-files'].includes(e.code)) {
      await fsp.rm(archive, { force: true }).catch(() => {});
    }
    throw e;
  }
  if (opts.keepArchive === false) await fsp.rm(archive, { force: true });
  return finalDir;
}

// ---------------------------------------------------------------------------
// Download

async function fetchArchive(opts: DownloadOptions, destDir: string, archive: string, md5: string): Promise<void> {
  const url = redactUrl(opts.url); // as messages show it
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const fetchImpl = opts.fetchImpl ?? fetch;
  const part = path.join(destDir, `.${CIFAR10_ARCHIVE_NAME}.${process.pid}.part`);

  const deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES;
  const controller = new AbortController();
  let timedOut: 'connect' | 'body' | 'deadline' | null = null;
  let timer: NodeJS.Timeout | undefined;
  const deadline = setTimeout(() => {
    timedOut = 'deadline';
    controller.abort(new Error('deadline'));
  }, deadlineMs);
  const arm = (phase: 'connect' | 'body'): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = phase;
      controller.abort(new Error(`timed out (${phase})`));
    }, timeoutMs);
  };
  const onCallerAbort = (): void => controller.abort(new Error('aborted'));
  opts.signal?.addEventListener('abort', onCallerAbort, { once: true });

  let fh: fsp.FileHandle | undefined;
  let received = 0;
  let total: number | null = null;
  const secs = `${+(timeoutMs / 1000).toFixed(3)} s`;
  const deadlineError = (e?: unknown) =>
    new DownloadError(
      'deadline',
      `Download of CIFAR-10 from ${url} did not finish within ${+(deadlineMs / 1000).toFixed(3)} s (after ${fmtBytes(received)}` +
        `${total !== null ? ' of ' + fmtBytes(total) : ''}); the partial download was removed. ${manualInstallHint(destDir, url)}`,
      { cause: e },
    );
  const tooLarge = (what: string) =>
    new DownloadError(
      'too-large',
      `Download of CIFAR-10 from ${url} refused: ${what}, more than the ${fmtBytes(maxBytes)} an archive may have; ` +
        `the partial download was removed. ${manualInstallHint(destDir, url)}`,
    );
  try {
    // --- connect and wait for the response headers
    arm('connect');
    let res: Response;
    try {
      res = await fetchImpl(opts.url, {
        signal: controller.signal,
        redirect: 'follow',
        headers: { 'accept-encoding': 'identity' },
      });
    } catch (e) {
      if (opts.signal?.aborted) throw abortedError();
      if (timedOut === 'deadline') throw deadlineError(e);
      if (timedOut) {
        throw new DownloadError(
          'timeout',
          `Download of CIFAR-10 timed out: ${url} did not answer within ${secs}. ${manualInstallHint(destDir, url)}`,
          { cause: e },
        );
      }
      if (isOfflineError(e)) {
        throw new DownloadError(
          'offline',
          `Download of CIFAR-10 failed: this machine seems to be offline (${describeNetError(e)} for ${url}). ` +
            manualInstallHint(destDir, url),
          { cause: e },
        );
      }
      throw new DownloadError(
        'network',
        `Download of CIFAR-10 from ${url} failed (${describeNetError(e)}). ${manualInstallHint(destDir, url)}`,
        { cause: e },
      );
    }

    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw new DownloadError(
        'http',
        `Download of CIFAR-10 failed: ${url} answered HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}. ` +
          manualInstallHint(destDir, url),
      );
    }
    if (!res.body) {
      throw new DownloadError('truncated', `Download of CIFAR-10 failed: ${url} sent an empty response.`);
    }
    const lenHeader = res.headers.get('content-length');
    const encoded = (res.headers.get('content-encoding') ?? 'identity').toLowerCase() !== 'identity';
    if (lenHeader !== null && /^\d+$/.test(lenHeader.trim()) && !encoded) total = Number(lenHeader);
    if (total !== null && total > maxBytes) {
      await res.body.cancel().catch(() => {});
      throw tooLarge(`it announces ${fmtBytes(total)}`);
    }

    // --- stream the body into the temporary file, hashing as we go
    try {
      fh = await fsp.open(part, 'wx');
    } catch (e) {
      await res.body.cancel().catch(() => {});
      throw ioError(`cannot write ${part}`, e);
    }
    const hash = createHash('md5');
    const reader = res.body.getReader();
    opts.onProgress?.(0, total);
    arm('body');
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        if (opts.signal?.aborted) throw abortedError();
        if (timedOut === 'deadline') throw deadlineError(e);
        if (timedOut) {
          throw new DownloadError(
            'timeout',
            `Download of CIFAR-10 timed out: ${url} sent no data for ${secs} (after ${fmtBytes(received)}` +
              `${total !== null ? ' of ' + fmtBytes(total) : ''}); the partial download was removed. ` +
              manualInstallHint(destDir, url),
            { cause: e },
          );
        }
        throw new DownloadError(
          'truncated',
          `Download of CIFAR-10 was interrupted after ${fmtBytes(received)}` +
            `${total !== null ? ' of ' + fmtBytes(total) : ''} (${describeNetError(e)}); ` +
            `the partial download was removed, please try again.`,
          { cause: e },
        );
      }
      if (chunk.done) break;
      const bytes = chunk.value;
      clearTimeout(timer); // local disk time does not count as a network stall
      if (received + bytes.length > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge(`it sent more than ${fmtBytes(maxBytes)}`);
      }
      hash.update(bytes);
      try {
        await fh.write(bytes);
      } catch (e) {
        await reader.cancel().catch(() => {});
        throw ioError(`cannot write ${part}`, e);
      }
      received += bytes.length;
      opts.onProgress?.(received, total);
      if (opts.signal?.aborted) throw abortedError();
      arm('body');
    }
    clearTimeout(timer);
    if (total !== null && received !== total) {
      throw new DownloadError(
        'truncated',
        `Download of CIFAR-10 was incomplete: received ${fmtBytes(received)} of ${fmtBytes(total)} from ${url}; ` +
          `the partial download was removed, please try again.`,
      );
    }
    try {
      await fh.sync();
      await fh.close();
      fh = undefined;
    } catch (e) {
      throw ioError(`cannot write ${part}`, e);
    }
    const got = hash.digest('hex');
    if (got !== md5) {
      throw new DownloadError(
        'checksum',
        `Checksum mismatch for ${url}: expected md5 ${md5}, got ${got} (${fmtBytes(received)}); ` +
          `the corrupt download was removed, please try again.`,
      );
    }
    try {
      await fsp.rename(part, archive);
    } catch (e) {
      throw ioError(`cannot rename ${part} to ${archive}`, e);
    }
  } catch (e) {
    clearTimeout(timer);
    controller.abort(); // releases the connection if still open
    await fh?.close().catch(() => {});
    await fsp.rm(part, { force: true }).catch(() => {});
    throw e;
  } finally {
    clearTimeout(timer);
    clearTimeout(deadline);
    opts.signal?.removeEventListener('abort', onCallerAbort);
  }
}

/** Error codes meaning "cannot reach the server at all" (checked before any response). */
const OFFLINE_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'EAI_FAIL',
  'ECONNREFUSED',
  'ECONNRESET',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);

interface ErrLike {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
  hostname?: unknown;
  address?: unknown;
  port?: unknown;
}

/** The error, its causes and (for AggregateError, e.g. happy eyeballs) its members. */
function errorChain(e: unknown): ErrLike[] {
  const out: ErrLike[] = [];
  const seen = new Set<unknown>();
  const walk = (x: unknown): void => {
    if (!x || typeof x !== 'object' || seen.has(x)) return;
    seen.add(x);
    const o = x as ErrLike;
    out.push(o);
    walk(o.cause);
    if (Array.isArray(o.errors)) o.errors.forEach(walk);
  };
  walk(e);
  return out;
}

function isOfflineError(e: unknown): boolean {
  return errorChain(e).some((o) => typeof o.code === 'string' && OFFLINE_CODES.has(o.code));
}

/** Short description of a fetch/undici error, e.g. "ECONNREFUSED 127.0.0.1:9" or "other side closed". */
function describeNetError(e: unknown): string {
  const chain = errorChain(e);
  const parts: string[] = [];
  for (const o of chain) {
    if (typeof o.code === 'string' && /^E[A-Z_]+$/.test(o.code)) {
      const where =
        typeof o.hostname === 'string'
          ? ` ${o.hostname}`
          : typeof o.address === 'string'
            ? ` ${o.address}${typeof o.port === 'number' ? ':' + o.port : ''}`
            : '';
      parts.push(o.code + where);
    }
  }
  if (parts.length > 0) return [...new Set(parts)].join(', ');
  const msg = chain
    .map((o) => (typeof o.message === 'string' ? o.message : ''))
    .filter((m) => m && m !== 'fetch failed' && m !== 'terminated');
  return msg[0] ?? (e instanceof Error ? e.message : String(e));
}

// ---------------------------------------------------------------------------
// Extraction

const SAFE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);

/** Returns why an archive entry is unsafe, or null if it may be extracted. */
export function unsafeEntryReason(entryPath: string, type: string, linkpath?: string): string | null {
  if (!SAFE_TYPES.has(type)) {
    const what: Record<string, string> = {
      SymbolicLink: 'a symbolic link',
      Link: 'a hard link',
      CharacterDevice: 'a character device',
      BlockDevice: 'a block device',
      FIFO: 'a FIFO',
    };
    return `it is ${what[type] ?? `of unsupported type ${type}`}`;
  }
  if (linkpath) return 'it carries a link target';
  if (entryPath.length === 0) return 'its path is empty';
  if (entryPath.includes('\0')) return 'its path contains a NUL byte';
  if (entryPath.includes('\\')) return 'its path contains a backslash';
  if (entryPath.startsWith('/') || /^[A-Za-z]:/.test(entryPath)) return 'its path is absolute';
  if (entryPath.split('/').includes('..')) return 'its path contains ".."';
  return null;
}

async function extractArchive(archive: string, destDir: string, finalDir: string, opts: DownloadOptions): Promise<void> {
  const maxBytes = opts.maxExtractedBytes ?? DEFAULT_MAX_EXTRACTED;

  // Pass 1: inspect every entry without writing anything; stop at the first bad one.
  let bad: DownloadError | null = null;
  let sum = 0;
  const parser = new tar.Parser({
    strict: true,
    onReadEntry: (entry) => {
      if (!bad) {
        const why = unsafeEntryReason(entry.path, entry.type, entry.linkpath);
        sum += entry.size ?? 0;
        if (why) {
          bad = new DownloadError(
            'unsafe-entry',
            `Refusing to extract ${archive}: entry "${entry.path}" ${why}, which could write outside ` +
              `${destDir}; nothing was extracted.`,
          );
        } else if (sum > maxBytes) {
          bad = new DownloadError(
            'bad-archive',
            `Refusing to extract ${archive}: its contents exceed ${fmtBytes(maxBytes)}; nothing was extracted.`,
          );
        }
        if (bad) parser.abort(bad);
      }
      entry.resume();
    },
  });
  try {
    await pipeline(createReadStream(archive), parser);
  } catch (e) {
    if (bad) throw bad;
    if (opts.signal?.aborted) throw abortedError();
    throw new DownloadError('bad-archive', `Cannot read ${archive}: ${errMessage(e)}; nothing was extracted.`, {
      cause: e,
    });
  }
  if (bad) throw bad;
  checkAborted(opts.signal);

  // Pass 2: extract into a temporary folder, filtering again (defence in depth).
  const tmp = path.join(destDir, `.cifar-10-extract.${process.pid}.tmp`);
  await fsp.rm(tmp, { recursive: true, force: true });
  try {
    try {
      await fsp.mkdir(tmp);
    } catch (e) {
      throw ioError(`cannot create ${tmp}`, e);
    }
    let bad2: DownloadError | null = null;
    try {
      await pipeline(
        createReadStream(archive),
        tar.x({
          cwd: tmp,
          strict: true,
          preservePaths: false,
          preserveOwner: false,
          noChmod: true,
          filter: (p, entry) => {
            const e = entry as tar.ReadEntry;
            const why = unsafeEntryReason(p, e.type, e.linkpath);
            if (why && !bad2) {
              bad2 = new DownloadError('unsafe-entry', `Refusing to extract ${archive}: entry "${p}" ${why}.`);
            }
            return why === null && !bad2;
          },
        }),
      );
    } catch (e) {
      if (bad2) throw bad2;
      throw new DownloadError('bad-archive', `Cannot extract ${archive}: ${errMessage(e)}.`, { cause: e });
    }
    if (bad2) throw bad2;
    checkAborted(opts.signal);

    const extracted = path.join(tmp, CIFAR10_DIR_NAME);
    const problems = await verifyCifar10Dir(extracted);
    if (problems.length > 0) {
      throw new DownloadError(
        'missing-files',
        `The CIFAR-10 archive ${archive} did not yield the expected files in ${CIFAR10_DIR_NAME}/: ${problems.join('; ')}.`,
      );
    }
    try {
      await fsp.rename(extracted, finalDir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        throw new DownloadError('exists', `Cannot install CIFAR-10: ${finalDir} appeared meanwhile; not overwriting it.`);
      }
      throw ioError(`cannot rename ${extracted} to ${finalDir}`, e);
    }
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * Checks a cifar-10-batches-bin folder: the six batch files exist, are
 * non-empty and a whole number of 3073-byte records; batches.meta.txt exists.
 * Returns a list of problems (empty when fine).
 */
export async function verifyCifar10Dir(dir: string): Promise<string[]> {
  const problems: string[] = [];
  const missing: string[] = [];
  for (const name of [...CIFAR10_BATCH_FILES, CIFAR10_META_FILE]) {
    let st;
    try {
      st = await fsp.stat(path.join(dir, name));
    } catch {
      missing.push(name);
      continue;
    }
    if (!st.isFile()) problems.push(`${name} is not a file`);
    else if (name !== CIFAR10_META_FILE && (st.size === 0 || st.size % CIFAR10_RECORD_BYTES !== 0)) {
      problems.push(`${name} has ${st.size} bytes, not a positive multiple of ${CIFAR10_RECORD_BYTES}`);
    }
  }
  if (missing.length > 0) problems.unshift(`missing ${missing.join(', ')}`);
  return problems;
}

// ---------------------------------------------------------------------------
// Helpers

/** Removes temporaries left by earlier runs whose process is gone. */
async function removeStaleTemporaries(destDir: string): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(destDir);
  } catch {
    return;
  }
  const re = /^\.(?:cifar-10-binary\.tar\.gz\.(\d+)\.part|cifar-10-extract\.(\d+)\.tmp)$/;
  for (const name of names) {
    const m = re.exec(name);
    if (!m) continue;
    const pid = Number(m[1] ?? m[2]);
    if (pid === process.pid || !isAlive(pid)) {
      await fsp.rm(path.join(destDir, name), { recursive: true, force: true }).catch(() => {});
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

async function md5OfFile(file: string): Promise<string> {
  const hash = createHash('md5');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError();
}

function abortedError(): DownloadError {
  return new DownloadError('aborted', 'Download of CIFAR-10 was cancelled; temporary files were removed.');
}

function ioError(what: string, e: unknown): DownloadError {
  return new DownloadError('io', `CIFAR-10 download: ${what}: ${errMessage(e)}`, { cause: e });
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

/**
 * The connection to Redis of a coordinator or a worker: the URL checked (redis:// or rediss://, a password in
 * it never printed), ioredis retrying for ever with a bounded delay (commands wait while Redis is away instead
 * of failing), and one line when Redis goes away and one when it is back. Authentication and TLS certificate
 * errors are not outages: at start they end the command with a clear message (exit code 2).
 */
import { hostname } from 'node:os';
import { Redis, type RedisOptions } from 'ioredis';
import { UsageError } from '../util/errors.js';
import { descriptorSchema, redactUrl, REGISTRY_KEY, type SearchDescriptor } from './queue-protocol.js';

export { checkQueueUrl } from './queue-protocol.js';

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);

/** A TLS or authentication problem: retrying will not help. */
export function fatalRedisProblem(e: unknown): string | null {
  const err = e as NodeJS.ErrnoException;
  const msg = String(err?.message ?? e);
  if (/^(WRONGPASS|NOAUTH)/.test(msg) || /invalid username-password|Authentication required/i.test(msg)) {
    return `authentication failed (${msg.split('.')[0]}): check the user and password in the URL`;
  }
  const code = String(err?.code ?? '');
  if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code) || /certificate|wrong version number|SSL routines/i.test(msg)) {
    return `TLS handshake failed (${code || msg}): with a private CA, point NODE_EXTRA_CA_CERTS at its certificate; ` +
      'use rediss:// only for a TLS port';
  }
  return null;
}

/** An error that means Redis is (for now) out of reach. */
export function isConnectionError(e: unknown): boolean {
  const err = e as NodeJS.ErrnoException;
  const msg = String(err?.message ?? e);
  return CONNECTION_CODES.has(String(err?.code ?? '')) || /Connection is closed|connect E|Socket closed|ECONNREFUSED|ECONNRESET|Stream isn't writeable|max retries|Connection lost/i.test(msg);
}

/**
 * Reports outages once: the first connection error says Redis is away, the next `up()` says it is back.
 * Errors of BullMQ's own connections (workers, events) come through `error()` too.
 */
export class ConnectionReporter {
  private downSince: number | null = null;
  private lastFatal = '';
  /** Called when Redis is reachable again after an outage. */
  onReconnect: (() => void) | null = null;

  constructor(private readonly display: string, private readonly log: (line: string) => void, private readonly who: string) {}

  get down(): boolean {
    return this.downSince !== null;
  }

  error(e: unknown): void {
    const fatal = fatalRedisProblem(e);
    if (fatal) {
      if (fatal !== this.lastFatal) this.log(`${this.who}: redis ${this.display}: ${fatal}`);
      this.lastFatal = fatal;
      return;
    }
    if (!isConnectionError(e)) {
      this.log(`${this.who}: redis ${this.display}: ${(e as Error)?.message ?? e}`);
      return;
    }
    if (this.downSince === null) {
      this.downSince = Date.now();
      this.log(`${this.who}: redis ${this.display} is unreachable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); waiting for it and retrying`);
    }
  }

  up(): void {
    this.lastFatal = '';
    if (this.downSince === null) return;
    const s = (Date.now() - this.downSince) / 1000;
    this.downSince = null;
    this.log(`${this.who}: redis ${this.display} is reachable again after ${s.toFixed(1)}s; going on`);
    this.onReconnect?.();
  }
}

/** ioredis options of every connection: retry for ever (at most 2 s apart), commands wait for the connection. */
export function redisOptions(name: string): RedisOptions {
  return {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectionName: name.replace(/[^A-Za-z0-9_.:-]/g, '_'),
    retryStrategy: (times: number) => Math.min(100 * times, 2000),
  };
}

/** BullMQ's connection option for objects that need a dedicated connection (workers, events). */
export interface BullConnection {
  url: string;
  maxRetriesPerRequest: null;
  enableReadyCheck?: boolean;
  connectionName?: string;
  retryStrategy: (times: number) => number;
}

export function bullConnection(url: string, name: string): BullConnection {
  const { retryStrategy: _r, ...rest } = redisOptions(name);
  return { url, ...rest, maxRetriesPerRequest: null, retryStrategy: (times: number) => Math.min(100 * times, 2000) };
}

/** A connection, resolved once it is ready; a fatal problem (password, TLS) rejects with a UsageError. */
export async function connectRedis(url: string, name: string, reporter: ConnectionReporter, signal?: AbortSignal): Promise<Redis> {
  const redis = new Redis(url, redisOptions(name));
  redis.on('error', (e) => reporter.error(e));
  redis.on('ready', () => reporter.up());
  await new Promise<void>((resolveReady, reject) => {
    const cleanup = () => {
      redis.off('ready', onReady);
      redis.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
    };
    const onReady = () => { cleanup(); resolveReady(); };
    const onError = (e: unknown) => {
      const fatal = fatalRedisProblem(e);
      if (!fatal) return;
      cleanup();
      redis.disconnect();
      reject(new UsageError(`--queue ${redactUrl(url)}: ${fatal}`));
    };
    const onAbort = () => { cleanup(); redis.disconnect(); reject(new UsageError('interrupted while waiting for redis', 130)); };
    if (signal?.aborted) return onAbort();
    redis.on('ready', onReady);
    redis.on('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  return redis;
}

/** This process, as workers and coordinators name it: host:pid. */
export const processName = () => `${hostname()}:${process.pid}`;

export async function registerSearch(redis: Redis, d: SearchDescriptor): Promise<void> {
  await redis.hset(REGISTRY_KEY, d.id, JSON.stringify(d));
}

export async function unregisterSearch(redis: Redis, id: string): Promise<void> {
  await redis.hdel(REGISTRY_KEY, id);
}

/** The searches in the registry (entries that do not parse are skipped). */
export async function listSearches(redis: Redis): Promise<SearchDescriptor[]> {
  const all = await redis.hgetall(REGISTRY_KEY);
  return Object.values(all).flatMap((text) => {
    try {
      const d = descriptorSchema.safeParse(JSON.parse(text));
      return d.success ? [d.data] : [];
    } catch {
      return [];
    }
  }).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

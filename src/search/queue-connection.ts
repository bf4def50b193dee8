/**
 * The connection to Redis of a coordinator or a worker: the URL checked (redis:// or rediss://, a password in
 * it never printed), ioredis retrying for ever with a bounded delay (commands wait while Redis is away instead
 * of failing), and one line when Redis goes away and one when it is back. Authentication and TLS certificate
 * errors are not outages: at start they end the command with a clear message (exit code 2).
 */
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import { Redis, type RedisOptions } from 'ioredis';
import { UsageError } from '../util/errors.js';
import { checkQueueUrl, descriptorSchema, redactUrl, REGISTRY_KEY, type SearchDescriptor } from './queue-protocol.js';

export { checkQueueUrl };

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);

/** A TLS or authentication problem: retrying will not help. */
export function fatalRedisProblem(e: unknown): string | null {
  const err = e as NodeJS.ErrnoException;
  const msg = String(err?.message ?? e);
  if (/^(WRONGPASS|NOAUTH)/.test(msg) || /invalid username-password|Authentication required/i.test(msg)) {
    return `authentication failed (${msg.split('.')[0]}): check the user and password in the URL`;
  }
  if (/DB index is out of range/i.test(msg)) {
    return 'the database number in the URL does not exist on this server (ERR DB index is out of range): ' +
      'use one below the server\'s `databases` setting (16 by default: /0 … /15)';
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

/** How long the probe waits for a TLS handshake or a first reply once the TCP connection stands. */
const PROBE_ANSWER_MS = 5000;

type ProbeOutcome = { ok: true } | { ok: false; fatal: string } | { ok: false; down: unknown };

/**
 * One look at the server of a queue URL: a TCP connection, the TLS handshake for rediss://, one PING that must be
 * answered in the Redis protocol, then the URL's credentials and database through ioredis. A port that stands
 * but does not speak the URL's transport (rediss:// to a plain port, redis:// to a TLS port) is fatal, not an
 * outage: retrying would wait for ever.
 */
async function probeOnce(url: string): Promise<ProbeOutcome> {
  const u = new URL(url);
  const tls = u.protocol === 'rediss:';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || 6379);
  const transport = await new Promise<ProbeOutcome>((resolveProbe) => {
    let socket: Socket | null = null;
    let stage: 'tcp' | 'tls' | 'reply' = 'tcp';
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (o: ProbeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.destroy();
      resolveProbe(o);
    };
    const mismatch = (what: string) => finish({
      ok: false,
      fatal: tls
        ? `${host}:${port} accepts connections but ${what}: it is probably a plain-TCP Redis port; use redis:// for it, rediss:// only for a TLS port`
        : `${host}:${port} accepts connections but ${what}: if it is a TLS port, use rediss://`,
    });
    const ping = (s: Socket) => {
      stage = 'reply';
      socket = s;
      clearTimeout(timer);
      timer = setTimeout(() => mismatch('does not answer a Redis PING'), PROBE_ANSWER_MS);
      let reply = '';
      s.on('data', (d: Buffer) => {
        reply += d.toString('latin1');
        if (/^[+-]/.test(reply)) finish({ ok: true });
        else if (reply.length > 0) mismatch('answers something other than the Redis protocol');
      });
      s.write('PING\r\n');
    };
    const raw = tcpConnect({ host, port });
    socket = raw;
    raw.setTimeout(10_000, () => finish({ ok: false, down: Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' }) }));
    raw.on('error', (e) => {
      if (stage === 'tcp') finish({ ok: false, down: e });
      else if (stage === 'reply' && !tls) mismatch(`closes the connection without answering a Redis PING (${(e as NodeJS.ErrnoException).code ?? e.message})`);
    });
    raw.on('close', () => {
      if (stage === 'reply' && !tls) mismatch('closes the connection without answering a Redis PING');
    });
    raw.once('connect', () => {
      raw.setTimeout(0);
      if (!tls) return ping(raw);
      stage = 'tls';
      timer = setTimeout(() => mismatch(`completes no TLS handshake within ${PROBE_ANSWER_MS / 1000}s`), PROBE_ANSWER_MS);
      const secure = tlsConnect({ socket: raw, ...(isIP(host) ? {} : { servername: host }) });
      socket = secure;
      secure.on('error', (e) => {
        const fatal = fatalRedisProblem(e);
        if (fatal && !/wrong version number|packet length too long|unknown protocol/i.test(e.message)) return finish({ ok: false, fatal });
        if (stage === 'tls') return mismatch(`answers no TLS handshake (${(e as NodeJS.ErrnoException).code ?? e.message})`);
        mismatch(`closes the TLS connection without answering a Redis PING (${(e as NodeJS.ErrnoException).code ?? e.message})`);
      });
      secure.on('close', () => mismatch(stage === 'tls' ? 'closes the connection during the TLS handshake' : 'closes the connection without answering a Redis PING'));
      secure.once('secureConnect', () => ping(secure));
    });
  });
  if (!transport.ok) return transport;
  const db = Number(u.pathname.replace(/^\//, '') || 0);
  const redis = new Redis(url, { db: 0, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableReadyCheck: false, connectionName: 'cifar-mlp-probe' });
  const seen: unknown[] = []; // ioredis reports a refused AUTH as an error event, then rejects with "Connection is closed"
  redis.on('error', (e) => seen.push(e));
  try {
    await redis.connect();
    await redis.select(db);
    await redis.ping();
    return { ok: true };
  } catch (e) {
    const fatal = [e, ...seen].map(fatalRedisProblem).find((f) => f !== null);
    return fatal ? { ok: false, fatal } : { ok: false, down: e };
  } finally {
    redis.disconnect();
  }
}

/**
 * Checks a queue URL before anything is written: its form, then its server (transport, credentials, database),
 * waiting while the server is out of reach (one line through the reporter). Returns the URL as it may be printed;
 * a problem that waiting will not solve is a UsageError (exit 2) naming --queue.
 */
export async function probeQueue(url: string, reporter: ConnectionReporter, signal?: AbortSignal): Promise<string> {
  const display = checkQueueUrl(url);
  for (let tries = 1; ; tries++) {
    if (signal?.aborted) throw new UsageError('interrupted while waiting for redis', 130);
    const outcome = await probeOnce(url);
    if (outcome.ok) return display;
    if ('fatal' in outcome) throw new UsageError(`--queue ${display}: ${outcome.fatal}`);
    reporter.error(outcome.down);
    await new Promise<void>((r) => {
      const t = setTimeout(done, Math.min(100 * tries, 2000));
      function done() { clearTimeout(t); signal?.removeEventListener('abort', done); r(); }
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

/**
 * A connection, resolved once it is ready; the URL is probed first (probeQueue), so that a fatal problem (password,
 * TLS, transport, database) rejects with a UsageError.
 */
export async function connectRedis(url: string, name: string, reporter: ConnectionReporter, signal?: AbortSignal): Promise<Redis> {
  await probeQueue(url, reporter, signal);
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

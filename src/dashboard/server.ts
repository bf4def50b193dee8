/**
 * The dashboard's HTTP server (hono on node:http): the page, its script, the JSON API and the event stream
 * (docs/dashboard.md). Read-only over the catalog. Security: bound to 127.0.0.1 unless told otherwise; any other
 * address needs a token (Authorization: Bearer, ?token= once, then an HttpOnly cookie); on loopback without a token
 * the Host header must name the loopback (no DNS rebinding); folder names are checked by roots.ts (4xx).
 */
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { streamSSE } from 'hono/streaming';
import type { DashboardEvent } from './api-types.js';
import type { Catalog } from './catalog.js';
import { pageHtml, readBundle } from './page.js';
import { RequestError } from './roots.js';

const TOKEN_COOKIE = 'cifar_mlp_dashboard';
/** Events waiting to be sent to one client before it is dropped. */
const MAX_QUEUED_EVENTS = 20_000;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Whether a bind address is the loopback (served without a token). */
export const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

export interface ServerOptions {
  host: string;
  port: number;
  /** Required for a host that is not the loopback. */
  token?: string;
  /** Seconds between keep-alive comments on the event stream (default 15). */
  keepAliveS?: number;
}

const sameToken = (a: string, b: string) => {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

const hostName = (header: string | undefined) => (header ?? '').replace(/:\d+$/, '').toLowerCase();

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
};

export function dashboardApp(catalog: Catalog, opts: ServerOptions): Hono {
  const app = new Hono();

  app.use('*', async (c, next) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v);
    if (opts.token) {
      const given = c.req.header('authorization')?.replace(/^Bearer /i, '') ?? c.req.query('token') ?? getCookie(c, TOKEN_COOKIE) ?? '';
      if (!sameToken(given, opts.token)) return c.json({ error: 'a token is required (open the address the dashboard printed)' }, 401);
      if (c.req.query('token')) setCookie(c, TOKEN_COOKIE, opts.token, { httpOnly: true, sameSite: 'Strict', path: '/' });
    } else if (!LOOPBACK_HOSTS.has(hostName(c.req.header('host')))) {
      return c.json({ error: 'served on the loopback only: open it as http://127.0.0.1:<port>/' }, 403);
    }
    await next();
  });

  app.onError((e, c) => {
    if (e instanceof RequestError) return c.json({ error: e.message }, e.status);
    return c.json({ error: 'internal error' }, 500);
  });
  app.notFound((c) => c.json({ error: 'not found' }, 404));

  app.get('/', (c) => c.html(pageHtml({ script: 'app.js' })));
  app.get('/app.js', (c) => {
    c.header('Content-Type', 'text/javascript; charset=utf-8');
    c.header('Cache-Control', 'no-cache');
    return c.body(readBundle());
  });

  const folderParam = (c: Context) => {
    const folder = c.req.query('folder');
    if (!folder) throw new RequestError(400, 'missing ?folder=');
    return folder;
  };

  app.get('/api/runs', (c) => c.json({ runs: catalog.rows() }));
  app.get('/api/run', async (c) => c.json(await catalog.runDetail(folderParam(c))));
  app.get('/api/search', (c) => c.json(catalog.searchDetail(folderParam(c))));

  app.get('/api/events', (c) => {
    c.header('Cache-Control', 'no-cache');
    c.header('X-Accel-Buffering', 'no');
    return streamSSE(c, async (stream) => {
      let chain = Promise.resolve();
      let queued = 0;
      const send = (e: DashboardEvent) => {
        // A client that does not keep up is dropped (its page reconnects and reloads) rather than queued for ever.
        if (++queued > MAX_QUEUED_EVENTS) return void stream.abort();
        chain = chain.then(() => stream.writeSSE({ data: JSON.stringify(e) })).catch(() => undefined).then(() => void queued--);
      };
      const unsubscribe = catalog.subscribe(send);
      await stream.writeSSE({ event: 'ready', data: '{}' }); // from here on no event is missed: the page may fetch
      const keepAlive = setInterval(() => { chain = chain.then(() => stream.write(': keep-alive\n\n')).then(() => undefined).catch(() => undefined); }, (opts.keepAliveS ?? 15) * 1000);
      await new Promise<void>((resolve) => stream.onAbort(() => resolve()));
      clearInterval(keepAlive);
      unsubscribe();
    });
  });
  return app;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts the server; resolves once it listens. A port in use is an error naming it. */
export function startServer(catalog: Catalog, opts: ServerOptions): Promise<RunningServer> {
  const app = dashboardApp(catalog, opts);
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => reject(new Error(e.code === 'EADDRINUSE' ? `port ${opts.port} on ${opts.host} is in use (choose another with --port)` : e.message));
    const server: ServerType = serve({ fetch: app.fetch, port: opts.port, hostname: opts.host }, (info: AddressInfo) => {
      server.off('error', onError);
      const shown = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
      resolve({
        url: `http://${shown}:${info.port}/`,
        port: info.port,
        close: () => new Promise<void>((done) => {
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          server.close(() => done());
        }),
      });
    });
    server.once('error', onError);
  });
}

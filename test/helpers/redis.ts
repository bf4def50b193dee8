/**
 * A real redis-server for a test: started on a free loopback port (optionally with a password, TLS or an
 * append-only file), stopped, killed (kill -9) and started again on the same port. `REDIS_SERVER` is null when
 * the binary is missing: a test file then skips with one line, or fails under CI=true (CI installs it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'vitest';

function which(bin: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

export const REDIS_SERVER = which('redis-server');
export const OPENSSL = which('openssl');

/**
 * describe() when redis-server exists; otherwise one visible line and a skipped block, or, under CI=true, a
 * failing test (its absence there is a broken environment).
 */
export function describeWithRedis(name: string, body: () => void): void {
  if (REDIS_SERVER) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => it('needs redis-server', () => { throw new Error('redis-server is required under CI (apt-get install redis-server; .ci/run installs it)'); }));
    return;
  }
  console.warn(`SKIP ${name}: redis-server not found (apt-get install redis-server)`);
  describe.skip(name, body);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface RedisOptions {
  password?: string;
  /** Serve TLS only (port 0 for plain TCP), with these PEM files. */
  tls?: { cert: string; key: string; ca: string };
  /** Keep the data in an append-only file in this folder (survives a restart). */
  persistDir?: string;
}

export class RedisServer {
  private child: ChildProcess | null = null;
  log = '';

  private constructor(readonly port: number, private readonly opts: RedisOptions) {}

  static async start(opts: RedisOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), opts);
    await server.launch();
    return server;
  }

  get url(): string {
    const auth = this.opts.password ? `:${encodeURIComponent(this.opts.password)}@` : '';
    return `${this.opts.tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts redis-server (again, on the same port); resolves when it accepts connections. */
  async launch(): Promise<void> {
    const o = this.opts;
    const args = ['--bind', '127.0.0.1', '--save', '', '--protected-mode', 'no'];
    if (o.tls) args.push('--port', '0', '--tls-port', String(this.port), '--tls-cert-file', o.tls.cert, '--tls-key-file', o.tls.key, '--tls-ca-cert-file', o.tls.ca, '--tls-auth-clients', 'no');
    else args.push('--port', String(this.port));
    if (o.password) args.push('--requirepass', o.password);
    if (o.persistDir) args.push('--dir', o.persistDir, '--appendonly', 'yes', '--appendfsync', 'always');
    else args.push('--appendonly', 'no');
    const child = spawn(REDIS_SERVER!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start on port ${this.port}:\n${this.log}`)), 15_000);
      const onData = (d: Buffer) => {
        this.log += d.toString();
        if (/Ready to accept connections/.test(this.log.split('\n').slice(-5).join('\n')) || /Ready to accept connections/.test(d.toString())) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited (${code}):\n${this.log}`)); });
    });
    child.removeAllListeners('exit');
  }

  /** kill -9: the server is gone at once (its data too, unless persistDir). */
  async kill9(): Promise<void> {
    await this.signal('SIGKILL');
  }

  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(sig);
    });
    this.child = null;
  }
}

/** A CA and a server certificate for 127.0.0.1 made with openssl, in dir. */
export function makeTlsFiles(dir: string): { cert: string; key: string; ca: string } {
  mkdirSync(dir, { recursive: true });
  const f = (n: string) => join(dir, n);
  const run = (...args: string[]) => {
    const r = spawnSync(OPENSSL!, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '1', '-subj', '/CN=cifar-mlp test CA');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost');
  run('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.crt'), '-days', '1', '-extfile', f('ext.cnf'));
  return { cert: f('server.crt'), key: f('server.key'), ca: f('ca.crt') };
}

/** A process of the built CLI whose output (stdout and stderr) is kept, with a way to wait for a line. */
export class CliProcess {
  readonly child: ChildProcess;
  out = '';
  readonly exited: Promise<number | null>;
  private waiters: { re: RegExp; resolve: () => void }[] = [];

  constructor(cli: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const onData = (d: Buffer) => {
      this.out += d.toString();
      this.waiters = this.waiters.filter((w) => (w.re.test(this.out) ? (w.resolve(), false) : true));
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
  }

  /** Resolves once the output matches re (rejects after timeoutMs, or when the process ends first). */
  waitFor(re: RegExp, timeoutMs = 60_000): Promise<void> {
    if (re.test(this.out)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} in:\n${this.out}`)), timeoutMs);
      const w = { re, resolve: () => { clearTimeout(timer); resolve(); } };
      this.waiters.push(w);
      void this.exited.then((code) => {
        if (!this.waiters.includes(w)) return;
        clearTimeout(timer);
        reject(new Error(`exited (${code}) before ${re} appeared:\n${this.out}`));
      });
    });
  }

  /** Stops it (SIGTERM, then SIGKILL after a while) and waits for its end. */
  async stop(graceMs = 20_000): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(t);
    }
    return this.exited;
  }
}

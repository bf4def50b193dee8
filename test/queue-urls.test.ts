// Queue URLs that cannot work are refused before anything is written, with exit code 2 and one line naming --queue
// (issue 21.8): TLS to a plain port and plain TCP to a TLS port (no endless "waiting"), a database the server does
// not have, a malformed %-escape, a wrong password (no files left: the corrected command then works). Each case
// against a real redis-server on a free loopback port, through the built CLI (search and worker).
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BASE, CLI, rowsOf, startWorker, writeSearchConfig } from './helpers/queue-fixtures.js';
import { CliProcess, describeWithRedis, makeTlsFiles, OPENSSL, RedisServer } from './helpers/redis.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

let root: string;
let dataDir: string;
let cfg: string;
const servers: RedisServer[] = [];
const procs: CliProcess[] = [];

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'queue-urls-'));
  dataDir = writeSyntheticCifar(join(root, 'data'), 200, 400);
  cfg = writeSearchConfig(root, 'urls', 2, { ...BASE, schedule: { ...BASE.schedule, ns: 20 } });
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop(2000)));
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(root, { recursive: true, force: true });
});
async function redis(opts: Parameters<typeof RedisServer.start>[0] = {}): Promise<RedisServer> {
  const s = await RedisServer.start(opts);
  servers.push(s);
  return s;
}

/** Runs `search` with this queue URL into a fresh folder: exit code, output, and whether anything was written. */
async function search(url: string, out: string, timeoutMs = 30_000) {
  const p = new CliProcess(CLI, ['search', cfg, '--data', dataDir, '--out', out, '--queue', url]);
  procs.push(p);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, out: p.out, written: existsSync(out) ? readdirSync(out) : [] };
}

async function worker(url: string, timeoutMs = 30_000) {
  const p = new CliProcess(CLI, ['worker', '--queue', url, '--data', dataDir, '--work', join(root, 'work')]);
  procs.push(p);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, out: p.out };
}

describeWithRedis('queue URLs refused before anything is written (redis-server)', () => {
  it('rediss:// to a plain-TCP port: exit 2 within seconds, saying to use redis://; nothing written', async () => {
    const server = await redis();
    const url = server.url.replace(/^redis:/, 'rediss:');
    const t0 = Date.now();
    const s = await search(url, join(root, 'tls-mismatch'));
    expect(s.code, s.out).toBe(2);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(s.out).toMatch(/--queue rediss:\/\/127\.0\.0\.1:\d+\/?: .*plain-TCP Redis port; use redis:\/\//);
    expect(s.out).not.toMatch(/waiting for it and retrying/);
    expect(s.written).toEqual([]);
    const w = await worker(url);
    expect(w.code, w.out).toBe(2);
    expect(w.out).toMatch(/plain-TCP Redis port; use redis:\/\//);
  }, 60_000);

  it('redis:// to a TLS port: exit 2, saying to use rediss://', async (ctx) => {
    if (!OPENSSL) {
      if (process.env.CI === 'true') throw new Error('openssl is required under CI for the TLS test');
      console.warn('SKIP plain-to-TLS test: openssl not found');
      return ctx.skip();
    }
    let server: RedisServer;
    try {
      server = await redis({ tls: makeTlsFiles(join(root, 'tls')) });
    } catch (e) {
      if (process.env.CI === 'true' || !/tls|Bad directive|not compiled/i.test(String(e))) throw e;
      console.warn('SKIP plain-to-TLS test: this redis-server was built without TLS');
      return ctx.skip();
    }
    const url = server.url.replace(/^rediss:/, 'redis:');
    const s = await search(url, join(root, 'plain-to-tls'));
    expect(s.code, s.out).toBe(2);
    expect(s.out).toMatch(/--queue redis:\/\/127\.0\.0\.1:\d+\/?: .*if it is a TLS port, use rediss:\/\//);
    expect(s.written).toEqual([]);
  }, 60_000);

  it('a database the server does not have (/16) is refused once, exit 2, not run on database 0', async () => {
    const server = await redis();
    const s = await search(`${server.url}/16`, join(root, 'db16'));
    expect(s.code, s.out).toBe(2);
    expect(s.out.match(/DB index is out of range/g)).toHaveLength(1);
    expect(s.out).toMatch(/--queue redis:\/\/127\.0\.0\.1:\d+\/16: the database number in the URL does not exist/);
    expect(s.written).toEqual([]);
    const w = await worker(`${server.url}/16`);
    expect(w.code, w.out).toBe(2);
    expect(w.out.match(/DB index is out of range/g)).toHaveLength(1);
  }, 60_000);

  it('a malformed %-escape in the password names --queue, exit 2, without the password', async () => {
    const server = await redis();
    const url = server.url.replace('redis://', 'redis://:se%zzcret@');
    const s = await search(url, join(root, 'escape'));
    expect(s.code, s.out).toBe(2);
    expect(s.out).toMatch(/--queue redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/?: the password holds a malformed %-escape; write a % in it as %25/);
    expect(s.out).not.toMatch(/URI malformed|se%zz|cret/);
    expect(s.written).toEqual([]);
  }, 60_000);

  it('a wrong password: exit 2 and no files; the corrected command then runs the search in the same folder', async () => {
    const password = 'right-pass';
    const server = await redis({ password });
    const out = join(root, 'wrong-pass');
    const bad = await search(server.url.replace(password, 'wrong'), out);
    expect(bad.code, bad.out).toBe(2);
    expect(bad.out).toMatch(/--queue redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/?: authentication failed \(WRONGPASS/);
    expect(bad.out).not.toContain('wrong@');
    expect(bad.written).toEqual([]);
    const w = startWorker(server.url, dataDir, 'pw', join(root, 'work-pw'));
    procs.push(w);
    await w.waitFor(/waiting for trials/);
    const good = await search(server.url, out, 120_000);
    expect(good.code, good.out).toBe(0);
    expect((await rowsOf(out)).map((r) => r.status)).toEqual(['completed', 'completed']);
  }, 180_000);
});

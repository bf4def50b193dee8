// Download + extraction of CIFAR-10 against a local HTTP server on loopback that
// serves small archives built here (3 records per batch file).
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { progressBar } from '../src/data/download-progress.js';
import {
  CIFAR10_ARCHIVE_NAME,
  CIFAR10_BATCH_FILES,
  DownloadError,
  downloadCifar10,
  unsafeEntryReason,
  verifyCifar10Dir,
} from '../src/data/download.js';

// ---------------------------------------------------------------------------
// Archive building (raw tar headers, so that malicious entries survive intact)

interface Entry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'FIFO';
  body?: Buffer;
  linkpath?: string;
}

function tarGz(entries: Entry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'File';
    const body = type === 'File' ? (e.body ?? Buffer.alloc(0)) : Buffer.alloc(0);
    const block = Buffer.alloc(512);
    const h = new Header({
      path: e.path,
      type,
      mode: type === 'Directory' ? 0o755 : 0o644,
      size: body.length,
      mtime: new Date(0),
      linkpath: e.linkpath,
      uid: 0,
      gid: 0,
    });
    h.encode(block, 0);
    expect(h.needPax).toBe(false); // keep paths short: no pax headers needed
    blocks.push(block, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

const RECORDS = 3;
function batch(seed: number): Buffer {
  const b = randomBytes(RECORDS * 3073);
  for (let r = 0; r < RECORDS; r++) b[r * 3073] = (r + seed) % 10;
  return b;
}
const META = Buffer.from('airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n');
const FILES: Record<string, Buffer> = Object.fromEntries([
  ...CIFAR10_BATCH_FILES.map((n, i) => [n, batch(i)] as const),
  ['batches.meta.txt', META] as const,
]);
const goodEntries = (): Entry[] => [
  { path: 'cifar-10-batches-bin/', type: 'Directory' },
  ...Object.entries(FILES).map(([n, body]) => ({ path: `cifar-10-batches-bin/${n}`, body })),
];
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

// ---------------------------------------------------------------------------
// Local server: routes set per test

type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void;
const routes = new Map<string, Route>();
let server: http.Server;
let base: string;
let silentServer: net.Server; // accepts connections, never answers
let silentUrl: string;
const sockets = new Set<net.Socket>();
let hits = 0;

function serve(name: string, body: Buffer, extra: http.OutgoingHttpHeaders = {}): string {
  routes.set(`/${name}`, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': body.length, ...extra });
    res.end(body);
  });
  return `${base}/${name}`;
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    hits++;
    const route = routes.get(req.url ?? '');
    if (route) return route(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;

  silentServer = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => silentServer.listen(0, '127.0.0.1', r));
  silentUrl = `http://127.0.0.1:${(silentServer.address() as net.AddressInfo).port}/cifar.tar.gz`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await new Promise<void>((r) => silentServer.close(() => r()));
});

// ---------------------------------------------------------------------------
// Per-test folders: <root>/data is destDir; <root> catches anything escaping.

let root: string;
let dest: string;
const roots: string[] = [];

function fresh(): void {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cifar-dl-'));
  roots.push(root);
  dest = path.join(root, 'data');
}

afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});

/** Everything under dir, relative, sorted (including dot files). */
function listing(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).map(String).sort();
}

/** destDir holds nothing at all, and <root> holds nothing but data/. */
function expectNothingLeft(): void {
  expect(listing(dest)).toEqual([]);
  expect(fs.readdirSync(root).filter((n) => n !== 'data')).toEqual([]);
}

async function failure(p: Promise<unknown>): Promise<DownloadError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DownloadError);
    expect((e as Error).message).not.toContain('\n');
    return e as DownloadError;
  }
  throw new Error('expected the download to fail');
}

// ---------------------------------------------------------------------------

describe('downloadCifar10', () => {
  it('downloads, verifies and extracts a good archive, reporting progress', async () => {
    fresh();
    const archive = tarGz(goodEntries());
    const url = serve('good.tar.gz', archive);
    const progress: [number, number | null][] = [];
    const dir = await downloadCifar10({
      url,
      md5: md5(archive),
      destDir: dest,
      onProgress: (r, t) => progress.push([r, t]),
    });
    expect(dir).toBe(path.join(dest, 'cifar-10-batches-bin'));
    for (const [name, body] of Object.entries(FILES)) {
      expect(fs.readFileSync(path.join(dir, name)).equals(body)).toBe(true);
    }
    expect(await verifyCifar10Dir(dir)).toEqual([]);
    // only the verified archive and the extracted folder: no temporaries
    expect(fs.readdirSync(dest).sort()).toEqual(['cifar-10-batches-bin', CIFAR10_ARCHIVE_NAME]);
    expect(fs.readFileSync(path.join(dest, CIFAR10_ARCHIVE_NAME)).equals(archive)).toBe(true);
    expect(progress.at(-1)).toEqual([archive.length, archive.length]);
    expect(progress.every(([, t]) => t === archive.length)).toBe(true);
  });

  it('reuses a verified archive already in destDir without downloading', async () => {
    fresh();
    const archive = tarGz(goodEntries());
    fs.mkdirSync(dest);
    fs.writeFileSync(path.join(dest, CIFAR10_ARCHIVE_NAME), archive);
    const before = hits;
    const dir = await downloadCifar10({ url: `${base}/nowhere.tar.gz`, md5: md5(archive), destDir: dest, keepArchive: false });
    expect(hits).toBe(before);
    expect(await verifyCifar10Dir(dir)).toEqual([]);
    expect(fs.readdirSync(dest)).toEqual(['cifar-10-batches-bin']);
  });

  it('refuses to overwrite an existing cifar-10-batches-bin', async () => {
    fresh();
    fs.mkdirSync(path.join(dest, 'cifar-10-batches-bin'), { recursive: true });
    const archive = tarGz(goodEntries());
    const err = await failure(downloadCifar10({ url: serve('good2.tar.gz', archive), md5: md5(archive), destDir: dest }));
    expect(err.code).toBe('exists');
    expect(err.message).toContain('already exists');
    expect(listing(dest)).toEqual(['cifar-10-batches-bin']);
  });

  it('rejects a corrupt archive (md5 mismatch) and removes the download', async () => {
    fresh();
    const archive = tarGz(goodEntries());
    const url = serve('corrupt.tar.gz', archive);
    const expected = 'c32a1d4ab5d03f1284b67883e8d87530';
    const err = await failure(downloadCifar10({ url, md5: expected, destDir: dest }));
    expect(err.code).toBe('checksum');
    expect(err.message).toMatch(/checksum mismatch/i);
    expect(err.message).toContain(`expected md5 ${expected}`);
    expect(err.message).toContain(`got ${md5(archive)}`);
    expectNothingLeft();
  });

  it('rejects a truncated download (Content-Length larger than the body)', async () => {
    fresh();
    const archive = tarGz(goodEntries());
    routes.set('/truncated.tar.gz', (_req, res) => {
      res.writeHead(200, { 'content-length': archive.length + 5000 });
      res.write(archive.subarray(0, 4000), () => setTimeout(() => res.socket?.destroy(), 20));
    });
    const err = await failure(downloadCifar10({ url: `${base}/truncated.tar.gz`, md5: md5(archive), destDir: dest }));
    expect(err.code).toBe('truncated');
    expect(err.message).toMatch(/interrupted|incomplete/);
    expect(err.message).toContain('partial download was removed');
    expectNothingLeft();
  });

  it('reports HTTP errors with the URL and status', async () => {
    fresh();
    const url = `${base}/missing.tar.gz`;
    const err = await failure(downloadCifar10({ url, md5: 'x', destDir: dest }));
    expect(err.code).toBe('http');
    expect(err.message).toContain(url);
    expect(err.message).toContain('HTTP 404');
    expectNothingLeft();
  });

  it('times out when the server stalls after the headers', async () => {
    fresh();
    routes.set('/stall.tar.gz', (_req, res) => {
      res.writeHead(200, { 'content-length': 100_000 });
      res.write(Buffer.alloc(1000)); // some bytes, then nothing
    });
    const t0 = Date.now();
    const err = await failure(
      downloadCifar10({ url: `${base}/stall.tar.gz`, md5: 'x', destDir: dest, timeoutMs: 500 }),
    );
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(err.code).toBe('timeout');
    expect(err.message).toContain('timed out');
    expect(err.message).toContain('sent no data for 0.5 s');
    expectNothingLeft();
  });

  it('times out when the server accepts the connection but never answers', async () => {
    fresh();
    const t0 = Date.now();
    const err = await failure(downloadCifar10({ url: silentUrl, md5: 'x', destDir: dest, timeoutMs: 500 }));
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(err.code).toBe('timeout');
    expect(err.message).toContain('timed out');
    expect(err.message).toContain('did not answer within 0.5 s');
    expectNothingLeft();
  });

  it('says the machine seems offline, and where to put the files, when nothing listens', async () => {
    fresh();
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const url = `http://127.0.0.1:${port}/cifar-10-binary.tar.gz`;
    const err = await failure(downloadCifar10({ url, md5: 'x', destDir: dest, timeoutMs: 5000 }));
    expect(err.code).toBe('offline');
    expect(err.message).toContain('seems to be offline');
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).toContain(url);
    expect(err.message).toContain(path.join(dest, 'cifar-10-batches-bin'));
    for (const f of [...CIFAR10_BATCH_FILES, 'batches.meta.txt']) expect(err.message).toContain(f);
    expect(err.message).toContain('--data DIR');
    expect(err.message).toContain('data.dir');
    expect(err.message).toContain('CIFAR10_DIR');
    expect(err.message).toContain('./data/cifar-10-batches-bin');
    expectNothingLeft();
  });

  it('can be cancelled with an AbortSignal, removing the partial file', async () => {
    fresh();
    routes.set('/slow.tar.gz', (_req, res) => {
      res.writeHead(200, { 'content-length': 100_000 });
      res.write(Buffer.alloc(1000));
    });
    const ac = new AbortController();
    const p = downloadCifar10({
      url: `${base}/slow.tar.gz`,
      md5: 'x',
      destDir: dest,
      signal: ac.signal,
      onProgress: (r) => {
        if (r > 0) setTimeout(() => ac.abort(), 50);
      },
    });
    const err = await failure(p);
    expect(err.code).toBe('aborted');
    expectNothingLeft();
  });

  it('rejects an archive that lacks expected files, naming them', async () => {
    fresh();
    const archive = tarGz(goodEntries().filter((e) => !e.path.endsWith('test_batch.bin')));
    const url = serve('incomplete.tar.gz', archive);
    const err = await failure(downloadCifar10({ url, md5: md5(archive), destDir: dest }));
    expect(err.code).toBe('missing-files');
    expect(err.message).toContain('missing test_batch.bin');
    expectNothingLeft();
  });

  it('rejects batch files that are not whole records', async () => {
    fresh();
    const entries = goodEntries().map((e) =>
      e.path.endsWith('data_batch_2.bin') ? { ...e, body: randomBytes(3073 * 2 + 7) } : e,
    );
    const archive = tarGz(entries);
    const err = await failure(downloadCifar10({ url: serve('ragged.tar.gz', archive), md5: md5(archive), destDir: dest }));
    expect(err.code).toBe('missing-files');
    expect(err.message).toContain('data_batch_2.bin has 6153 bytes, not a positive multiple of 3073');
    expectNothingLeft();
  });

  describe('refuses malicious archives', () => {
    const evilName = `cifar-evil-${process.pid}-${Date.now()}`;
    const cases: [string, () => Entry, RegExp][] = [
      ['a ".." entry', () => ({ path: `cifar-10-batches-bin/../../${evilName}`, body: Buffer.from('x') }), /contains "\.\."/],
      ['a leading ".." entry', () => ({ path: `../${evilName}`, body: Buffer.from('x') }), /contains "\.\."/],
      ['an absolute path', () => ({ path: path.join(os.tmpdir(), evilName), body: Buffer.from('x') }), /is absolute/],
      [
        'a symlink',
        () => ({ path: 'cifar-10-batches-bin/link', type: 'SymbolicLink', linkpath: os.tmpdir() }),
        /symbolic link/,
      ],
      [
        'a hard link',
        () => ({ path: 'cifar-10-batches-bin/hard', type: 'Link', linkpath: 'cifar-10-batches-bin/test_batch.bin' }),
        /hard link/,
      ],
      ['a character device', () => ({ path: 'cifar-10-batches-bin/tty', type: 'CharacterDevice' }), /character device/],
    ];
    for (const [what, make, reason] of cases) {
      for (const where of ['first', 'last'] as const) {
        it(`${what} (${where} entry)`, async () => {
          fresh();
          const bad = make();
          const entries = where === 'first' ? [bad, ...goodEntries()] : [...goodEntries(), bad];
          const archive = tarGz(entries);
          const url = serve(`evil-${routes.size}.tar.gz`, archive);
          const err = await failure(downloadCifar10({ url, md5: md5(archive), destDir: dest }));
          expect(err.code).toBe('unsafe-entry');
          expect(err.message).toContain(`entry "${bad.path}"`);
          expect(err.message).toMatch(reason);
          expect(err.message).toContain('nothing was extracted');
          expectNothingLeft();
          expect(fs.existsSync(path.join(os.tmpdir(), evilName))).toBe(false);
          expect(fs.existsSync(path.join(path.dirname(os.tmpdir()), evilName))).toBe(false);
        });
      }
    }
  });
});

describe('unsafeEntryReason', () => {
  it('accepts plain relative files and folders', () => {
    expect(unsafeEntryReason('cifar-10-batches-bin/data_batch_1.bin', 'File')).toBeNull();
    expect(unsafeEntryReason('./cifar-10-batches-bin/', 'Directory')).toBeNull();
    expect(unsafeEntryReason('a..b/c', 'File')).toBeNull();
  });
  it('refuses escapes, links and devices', () => {
    expect(unsafeEntryReason('a/../../b', 'File')).toMatch(/\.\./);
    expect(unsafeEntryReason('/etc/passwd', 'File')).toMatch(/absolute/);
    expect(unsafeEntryReason('C:/x', 'File')).toMatch(/absolute/);
    expect(unsafeEntryReason('a\\..\\b', 'File')).toMatch(/backslash/);
    expect(unsafeEntryReason('l', 'SymbolicLink', '/')).toMatch(/symbolic link/);
    expect(unsafeEntryReason('l', 'Link', 'x')).toMatch(/hard link/);
    expect(unsafeEntryReason('d', 'BlockDevice')).toMatch(/block device/);
    expect(unsafeEntryReason('f', 'FIFO')).toMatch(/FIFO/);
  });
});

describe('progressBar (non-TTY)', () => {
  it('writes a plain line per 10% and stops cleanly', () => {
    let out = '';
    const stream = { isTTY: false, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
    const report = progressBar({ stream });
    const total = 10 * 1024 * 1024;
    for (let r = 0; r <= total; r += 256 * 1024) report(r, total);
    report.stop();
    report.stop();
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(11);
    expect(lines[0]).toBe('Downloading CIFAR-10: 0% (0.0 of 10.0 MiB)');
    expect(lines[10]).toBe('Downloading CIFAR-10: 100% (10.0 of 10.0 MiB)');
  });
  it('prints occasional byte counts when the size is unknown', () => {
    let out = '';
    const stream = { isTTY: false, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
    const report = progressBar({ stream, intervalMs: 60_000 });
    report(1024 * 1024, null);
    report(2 * 1024 * 1024, null);
    report.stop();
    expect(out).toBe('Downloading CIFAR-10: 1.0 MiB\nDownloading CIFAR-10: 2.0 MiB received\n');
  });
});

describe('downloadCifar10 limits: a total deadline and a size cap besides the stall timeout', () => {
  it('cuts off a server that trickles 10 bytes a second at the deadline, though it never stalls', async () => {
    fresh();
    routes.set('/trickle.tar.gz', (_req, res) => {
      res.writeHead(200, { 'content-length': 100_000 });
      const t = setInterval(() => res.write(Buffer.alloc(10, 1)), 1000);
      t.unref();
      res.on('close', () => clearInterval(t));
      res.write(Buffer.alloc(10, 1));
    });
    const t0 = Date.now();
    const err = await failure(
      downloadCifar10({ url: `${base}/trickle.tar.gz`, md5: 'x', destDir: dest, timeoutMs: 5000, deadlineMs: 2500 }),
    );
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(2400);
    expect(took).toBeLessThan(6000);
    expect(err.code).toBe('deadline');
    expect(err.message).toMatch(/did not finish within 2\.5 s \(after \d+ B of 97\.7 KiB\); the partial download was removed/);
    expectNothingLeft();
  });

  it('applies the deadline to a server that never answers too', async () => {
    fresh();
    const err = await failure(downloadCifar10({ url: silentUrl, md5: 'x', destDir: dest, timeoutMs: 10_000, deadlineMs: 300 }));
    expect(err.code).toBe('deadline');
    expectNothingLeft();
  });

  it('cuts off a body larger than the cap as it arrives (no Content-Length)', async () => {
    fresh();
    let sent = 0;
    routes.set('/endless.tar.gz', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/gzip' });
      const t = setInterval(() => {
        res.write(Buffer.alloc(4096, 2));
        sent += 4096;
      }, 2);
      res.on('close', () => clearInterval(t));
    });
    const err = await failure(downloadCifar10({ url: `${base}/endless.tar.gz`, md5: 'x', destDir: dest, maxBytes: 50_000 }));
    expect(err.code).toBe('too-large');
    expect(err.message).toMatch(/refused: it sent more than 48\.8 KiB, more than the 48\.8 KiB an archive may have/);
    expect(sent).toBeLessThan(2_000_000); // stopped reading, not drained
    expectNothingLeft();
  });

  it('refuses a Content-Length above the cap before reading the body', async () => {
    fresh();
    const archive = tarGz(goodEntries());
    const url = serve('announced.tar.gz', archive);
    const err = await failure(downloadCifar10({ url, md5: md5(archive), destDir: dest, maxBytes: archive.length - 1 }));
    expect(err.code).toBe('too-large');
    expect(err.message).toContain(`it announces ${(archive.length / 1024).toFixed(1)} KiB`);
    expectNothingLeft();
  });

  it('accepts an archive of exactly the cap', async () => {
    fresh();
    const archive = tarGz(goodEntries());
    const dir = await downloadCifar10({ url: serve('exact.tar.gz', archive), md5: md5(archive), destDir: dest, maxBytes: archive.length, deadlineMs: 10_000 });
    expect(await verifyCifar10Dir(dir)).toEqual([]);
  });
});

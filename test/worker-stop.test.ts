// A worker stopped (Ctrl-C) while it waits for Redis leaves no work folder behind (issue 26.10).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { writeSyntheticCifar } from './helpers/synthetic.js';

const root = mkdtempSync(join(tmpdir(), 'cifar-worker-stop-'));
const dataDir = writeSyntheticCifar(join(root, 'data'), 100, 60);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A loopback port nothing listens on. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('worker', () => {
  it('stopped while waiting for Redis: exit 130, no work folder left', async () => {
    const work = join(root, 'work');
    const url = `redis://127.0.0.1:${await freePort()}`;
    let sent = false;
    const r = await cli(['worker', '--queue', url, '--data', dataDir, '--work', work], {
      onStderr: (all, kill) => { if (!sent && /redis/i.test(all)) { sent = true; setTimeout(() => kill('SIGINT'), 300); } },
      timeoutMs: 30_000,
    });
    expect(sent, r.stderr).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    let left: string[] = [];
    try { left = readdirSync(work); } catch { /* never created */ }
    expect(left, r.stderr).toEqual([]);
  }, 40_000);
});

/** A module of src/ bundled (esbuild, CommonJS, dependencies included) for a child process of a test to require. */
import { buildSync } from 'esbuild';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'cifar-bundle-'));

/** Bundles `entry` (a path under src/) and returns the bundle's path. */
export function bundle(entry: string): string {
  const outfile = join(dir, `${basename(entry, '.ts')}.cjs`);
  buildSync({ entryPoints: [resolve(entry)], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile, logLevel: 'error' });
  return outfile;
}

/**
 * A trial's folder as it crosses the queue: every regular file the trial left (metrics.csv, summary.json,
 * config.yaml, model.json when trials keep models, whatever else), gzip-compressed and base64-encoded in the
 * job's result, and written back into the trial's folder of the search on the coordinator.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { relativeFilePath } from './queue-protocol.js';

/** The most a trial folder may hold, uncompressed (a result larger than this is refused on both sides). */
export const MAX_TRIAL_BYTES = 512 * 2 ** 20;

export interface PackedFile {
  path: string;
  gz: string;
}

/** Every regular file under dir (symbolic links and temporary files, dot-files, are left out), packed. */
export function packFolder(dir: string): PackedFile[] {
  const out: PackedFile[] = [];
  let total = 0;
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      if (name.startsWith('.')) continue;
      const path = join(d, name);
      const st = lstatSync(path);
      if (st.isDirectory()) walk(path);
      else if (st.isFile()) {
        const rel = relative(dir, path).split(sep).join('/');
        if (!relativeFilePath.safeParse(rel).success) continue;
        total += st.size;
        if (total > MAX_TRIAL_BYTES) throw new Error(`trial folder ${dir} holds more than ${MAX_TRIAL_BYTES / 2 ** 20} MiB: too large for the queue`);
        out.push({ path: rel, gz: gzipSync(readFileSync(path)).toString('base64') });
      }
    }
  };
  walk(dir);
  return out;
}

/** Writes packed files into dir (each atomically); every path must stay inside dir. */
export function unpackInto(dir: string, files: PackedFile[]): void {
  const root = resolve(dir);
  let total = 0;
  const decoded = files.map((f) => {
    if (!relativeFilePath.safeParse(f.path).success) throw new Error(`result file ${JSON.stringify(f.path)}: not a plain relative path`);
    const target = resolve(root, ...f.path.split('/'));
    if (!target.startsWith(root + sep)) throw new Error(`result file ${JSON.stringify(f.path)}: outside the trial folder`);
    const bytes = gunzipSync(Buffer.from(f.gz, 'base64'), { maxOutputLength: MAX_TRIAL_BYTES });
    total += bytes.length;
    if (total > MAX_TRIAL_BYTES) throw new Error(`result files: more than ${MAX_TRIAL_BYTES / 2 ** 20} MiB`);
    return { target, bytes };
  });
  for (const { target, bytes } of decoded) {
    mkdirSync(dirname(target), { recursive: true });
    writeFileAtomic(target, bytes);
  }
}

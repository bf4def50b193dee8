/**
 * The artifact store of a search on the queue: a folder that the coordinator and every worker reach (`--artifacts
 * DIR`, e.g. on NFS), through which a trial's files travel instead of through Redis. Redis then carries only a
 * small list of the files with their sizes and sha256 digests.
 *
 *   <store>/cifar-mlp-store.json                   { id }: which store this is (the coordinator makes it; job data name
 *                                                   the id, and a worker whose --artifacts holds another refuses)
 *   <store>/<search id>/trial-<n>-<attempt>-<hex>/  one attempt's files: written under a .partial name, then renamed
 *
 * The coordinator checks each file's size and digest, moves it into the trial's folder (copies it across file
 * systems), and removes the attempt's folder, every other attempt's of that trial (a worker that died while writing,
 * a trial that ran twice), and the search's folder when the search closes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../util/errors.js';
import { relativeFilePath, STORE_ID, storeLocation, type StoredFile } from './queue-protocol.js';

export const STORE_FILE = 'cifar-mlp-store.json';
const storeFileSchema = z.object({ id: z.string().regex(STORE_ID) });

export interface ArtifactStore {
  root: string;
  id: string;
}

/**
 * The store in dir. The coordinator (`create`) makes the folder and its id file when there is none; a worker
 * only reads them. A folder that cannot be used is a UsageError naming --artifacts.
 */
export function openArtifactStore(dir: string, create: boolean): ArtifactStore {
  const root = resolve(dir);
  const idFile = join(root, STORE_FILE);
  try {
    if (create) {
      mkdirSync(root, { recursive: true });
      try {
        writeFileSync(idFile, JSON.stringify({ id: randomBytes(8).toString('hex') }) + '\n', { flag: 'wx' });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
    const parsed = storeFileSchema.safeParse(JSON.parse(readFileSync(idFile, 'utf8')));
    if (!parsed.success) throw new Error(`${idFile} is not an artifact store's id file`);
    return { root, id: parsed.data.id };
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' && !create
      ? `no ${STORE_FILE} there: give the folder the coordinator was given (its search creates the file)`
      : (e as Error).message;
    throw new UsageError(`--artifacts ${dir}: ${why}`);
  }
}

const CHUNK = 1 << 20;

/** sha256 and size of a file, read in 1 MiB pieces (bounded memory whatever the file's size). */
export function digestFile(path: string): { size: number; sha256: string } {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK);
  const fd = openSync(path, 'r');
  let size = 0;
  try {
    for (let n; (n = readSync(fd, buf, 0, CHUNK, null)) > 0;) {
      hash.update(buf.subarray(0, n));
      size += n;
    }
  } finally {
    closeSync(fd);
  }
  return { size, sha256: hash.digest('hex') };
}

/** The regular files under dir that travel (dot-files, links and names that are not plain are left out), sorted. */
export function trialFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      if (name.startsWith('.')) continue;
      const path = join(d, name);
      const st = lstatSync(path);
      if (st.isDirectory()) walk(path);
      else if (st.isFile()) {
        const rel = relative(dir, path).split(sep).join('/');
        if (relativeFilePath.safeParse(rel).success) out.push(rel);
      }
    }
  };
  walk(dir);
  return out;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * A worker's side: copies the trial folder's files into the store under a fresh attempt folder (written as
 * .partial, synced, then renamed), and returns where they lie and what they are.
 */
export function putTrialFiles(store: ArtifactStore, searchId: string, trial: number, attempt: number, dir: string, maxBytes: number): { location: string; files: StoredFile[] } {
  const name = `trial-${trial}-${attempt}-${randomBytes(4).toString('hex')}`;
  const location = `${searchId}/${name}`;
  const partial = join(store.root, searchId, `.${name}.partial`);
  rmSync(partial, { recursive: true, force: true });
  const files: StoredFile[] = [];
  let total = 0;
  try {
    for (const rel of trialFiles(dir)) {
      const target = join(partial, ...rel.split('/'));
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(join(dir, ...rel.split('/')), target);
      fsyncPath(target);
      const d = digestFile(target); // of the copy: what the coordinator will read
      total += d.size;
      if (total > maxBytes) throw new Error(`trial folder ${dir} holds more than ${maxBytes / 2 ** 20} MiB`);
      files.push({ path: rel, ...d });
    }
    renameSync(partial, join(store.root, searchId, name));
  } catch (e) {
    rmSync(partial, { recursive: true, force: true });
    throw e;
  }
  return { location, files };
}

/**
 * The coordinator's side: checks each file of an attempt folder (size, sha256) and moves it into outDir (inside
 * it only), then removes the attempt folder. Throws, naming the file, on anything missing or different.
 */
export function takeTrialFiles(store: ArtifactStore, location: string, files: StoredFile[], outDir: string): void {
  if (!storeLocation.safeParse(location).success) throw new Error(`artifact location ${JSON.stringify(location)}: not an attempt folder of the store`);
  const from = resolve(store.root, ...location.split('/'));
  const root = resolve(outDir);
  const checked = files.map((f) => {
    const source = resolve(from, ...f.path.split('/'));
    const target = resolve(root, ...f.path.split('/'));
    if (!source.startsWith(from + sep) || !target.startsWith(root + sep)) throw new Error(`artifact ${JSON.stringify(f.path)}: outside its folder`);
    let st;
    try {
      st = statSync(source);
    } catch {
      throw new Error(`artifact ${f.path} is missing from ${from} (is --artifacts the same shared folder on the worker and here?)`);
    }
    if (!st.isFile() || st.size !== f.size) throw new Error(`artifact ${f.path} in ${from}: ${st.size} bytes, the worker wrote ${f.size}`);
    const d = digestFile(source);
    if (d.sha256 !== f.sha256) throw new Error(`artifact ${f.path} in ${from}: sha256 ${d.sha256.slice(0, 12)}…, the worker wrote ${f.sha256.slice(0, 12)}…`);
    return { source, target };
  });
  for (const { source, target } of checked) {
    mkdirSync(dirname(target), { recursive: true });
    try {
      renameSync(source, target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
      const tmp = join(dirname(target), `.${randomBytes(4).toString('hex')}.tmp`);
      copyFileSync(source, tmp);
      fsyncPath(tmp);
      renameSync(tmp, target);
    }
  }
  rmSync(from, { recursive: true, force: true });
}

/** Removes every attempt folder of a trial (finished, abandoned, half written). */
export function removeTrialArtifacts(store: ArtifactStore, searchId: string, trial: number): void {
  const dir = join(store.root, searchId);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const mine = new RegExp(`^\\.?trial-${trial}-\\d+-[0-9a-f]{8}(\\.partial)?$`);
  for (const n of names) if (mine.test(n)) rmSync(join(dir, n), { recursive: true, force: true });
}

/** Removes the search's folder of the store. */
export function removeSearchArtifacts(store: ArtifactStore, searchId: string): void {
  rmSync(join(store.root, searchId), { recursive: true, force: true });
}

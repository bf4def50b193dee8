/**
 * The folders the dashboard serves, and the only way a request's folder name becomes a path: a relative name of
 * plain segments (no `..`, `.`, empty segment, backslash or NUL; absolute names refused), joined to its root, whose
 * real path (symbolic links resolved) must still lie inside the root's real path.
 */
import { realpathSync, statSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { UsageError } from '../util/errors.js';

export interface Root {
  /** The prefix of its folders' names when several roots are served ('' for one root). */
  label: string;
  abs: string;
  real: string;
}

/** A request the dashboard refuses: its HTTP status and a one-line reason. */
export class RequestError extends Error {
  constructor(readonly status: 400 | 401 | 403 | 404, message: string) {
    super(message);
  }
}

export function makeRoots(dirs: string[]): Root[] {
  const roots: Root[] = [];
  const labels = new Set<string>();
  for (const dir of dirs) {
    const abs = resolve(dir);
    let real: string;
    try {
      real = realpathSync(abs);
    } catch {
      throw new UsageError(`dashboard: ${dir}: no such folder`);
    }
    if (!statSync(real).isDirectory()) throw new UsageError(`dashboard: ${dir}: not a folder (give the folders of runs and searches)`);
    let label = basename(abs) || 'root';
    for (let i = 2; labels.has(label); i++) label = `${basename(abs)}-${i}`;
    labels.add(label);
    roots.push({ label, abs, real });
  }
  if (roots.length === 1) roots[0].label = '';
  return roots;
}

const inside = (parent: string, child: string) => child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);

/** The served name of a folder found under `root`. */
export function folderName(root: Root, abs: string): string {
  const rel = relative(root.abs, abs).split(sep).join('/');
  return root.label ? (rel ? `${root.label}/${rel}` : root.label) : rel || '.';
}

/** The path a requested folder name stands for; a RequestError when it is not a name of a folder under a root. */
export function resolveFolder(roots: Root[], name: string): string {
  if (typeof name !== 'string' || name === '') throw new RequestError(400, 'missing folder');
  if (name.length > 4096 || /[\0\\]/.test(name) || name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw new RequestError(400, 'not a relative folder name');
  const segments = name === '.' ? [] : name.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) throw new RequestError(400, 'not a plain folder name (no . or .. segments)');
  let root = roots[0];
  if (roots.length > 1 || root.label) {
    const found = roots.find((r) => r.label === segments[0]);
    if (!found) throw new RequestError(404, 'no such folder');
    root = found;
    segments.shift();
  }
  const path = join(root.abs, ...segments);
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw new RequestError(404, 'no such folder');
  }
  if (!inside(root.real, real)) throw new RequestError(403, 'outside the served folders');
  return path;
}

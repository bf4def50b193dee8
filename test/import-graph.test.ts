// The folders of src/ form a layered graph: no import cycle between folders, none between files (type-only and
// dynamic imports count), and each folder imports only the folders below it in README's "Layout".
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importGraph, stronglyConnected } from './helpers/import-graph.js';

const SRC = resolve('src');

/** The folder of a file: its first directory under src/ ("." for files directly in src/). */
const folderOf = (file: string) => {
  const rel = relative(SRC, file);
  return rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : '.';
};

/** The layers of README's "Layout" section: "`folder/` … may import: a, b" lines, read from the README itself. */
function documentedLayers(): Map<string, Set<string>> {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## Layout'));
  const out = new Map<string, Set<string>>();
  for (const m of section.matchAll(/^\| `(?:src\/)?([a-z-]+|index\.ts)\/?` \|[^|]*\| ([^|]*) \|$/gm)) {
    const allowed = m[2].trim() === '—' ? [] : m[2].split(',').map((s) => s.trim().replace(/`/g, '').replace(/\/$/, ''));
    out.set(m[1] === 'index.ts' ? '.' : m[1], new Set(allowed));
  }
  return out;
}

describe('the import graph of src/', () => {
  const graph = importGraph(SRC);

  it('has no cycle between files', () => {
    const cycles = stronglyConnected(graph).filter((c) => c.length > 1).map((c) => c.map((f) => relative(SRC, f)).join(' → '));
    expect(cycles).toEqual([]);
  });

  it('has no cycle between folders', () => {
    const folders = new Map<string, Set<string>>();
    for (const [file, deps] of graph) {
      const from = folderOf(file);
      const set = folders.get(from) ?? new Set<string>();
      for (const d of deps) if (folderOf(d) !== from) set.add(folderOf(d));
      folders.set(from, set);
    }
    const cycles = stronglyConnected(folders).filter((c) => c.length > 1).map((c) => c.join(' ↔ '));
    expect(cycles).toEqual([]);
  });

  it('follows the layers README documents: every folder imports only the folders its row allows', () => {
    const layers = documentedLayers();
    const offences: string[] = [];
    for (const [file, deps] of graph) {
      const from = folderOf(file);
      const allowed = layers.get(from);
      if (!allowed) {
        offences.push(`${from}/ is not in README's Layout table`);
        continue;
      }
      for (const d of deps) {
        const to = folderOf(d);
        if (to !== from && !allowed.has(to)) offences.push(`${relative(SRC, file)} imports ${relative(SRC, d)} (${from}/ may import ${[...allowed].join(', ') || 'nothing'})`);
      }
    }
    expect([...new Set(offences)]).toEqual([]);
  });

  it('reads every kind of import (a check of the checker)', () => {
    const dir = join(SRC, 'kernels');
    const sample = readdirSync(dir).filter((f) => f.endsWith('.ts')).length;
    expect(sample).toBeGreaterThan(5);
    // select.ts loads its backends with dynamic import(): they are edges too
    expect([...(graph.get(join(dir, 'select.ts')) ?? [])].map((f) => relative(SRC, f))).toEqual(expect.arrayContaining(['kernels/blas.ts', 'kernels/wasm-simd.ts']));
    expect(normalize(dirname(join(SRC, 'x/y.ts')))).toBe(join(SRC, 'x'));
  });
});

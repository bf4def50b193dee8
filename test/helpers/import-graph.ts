/** The import graph of a TypeScript source tree, read from the sources: static, type-only, re-export and dynamic imports. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Comments and string contents are blanked first, except the specifiers of imports. */
function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/(^|[^:'"`\\])\/\/[^\n]*/g, '$1');
}

const SPECIFIER = /(?:^|[\s;{}])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;{}])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

function resolveSpecifier(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null; // a package
  const base = resolve(dirname(from), spec);
  for (const candidate of [base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')]) if (existsSync(candidate)) return candidate;
  return null;
}

/** file → the files of the tree it imports. */
export function importGraph(root: string): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sourceFiles(root)) {
    const deps = new Set<string>();
    for (const m of stripComments(readFileSync(file, 'utf8')).matchAll(SPECIFIER)) {
      const target = resolveSpecifier(file, m[1] ?? m[2] ?? m[3]);
      if (target && target.startsWith(root)) deps.add(target);
    }
    graph.set(file, deps);
  }
  return graph;
}

/** Tarjan's strongly connected components of a graph (each component a list of its nodes). */
export function stronglyConnected<T>(graph: Map<T, Set<T>>): T[][] {
  let index = 0;
  const indices = new Map<T, number>(), low = new Map<T, number>(), stack: T[] = [], onStack = new Set<T>(), out: T[][] = [];
  const visit = (v: T) => {
    indices.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indices.get(w)!));
    }
    if (low.get(v) === indices.get(v)) {
      const component: T[] = [];
      let w: T;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      out.push(component);
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) visit(v);
  return out;
}

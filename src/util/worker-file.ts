import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The bundled worker entry `name` (dist/<name>.js, built by build.mjs): beside the running bundle (dist/cli.js,
 * dist/index.js), one level up when this module landed in a shared chunk under dist/chunks/, or, when it runs from
 * src/ (tests), the built one.
 */
export function workerFile(name: string): string {
  const urls = [`./${name}.js`, `../${name}.js`, `../../dist/${name}.js`].map((c) => new URL(c, import.meta.url).href);
  const candidates = [...new Set(urls)].map((u) => new URL(u));
  for (const url of candidates) {
    const path = fileURLToPath(url);
    if (existsSync(path)) return path;
  }
  throw new Error(`worker ${name} not found (run \`node build.mjs\`); looked at ${candidates.map((u) => fileURLToPath(u)).join(', ')}`);
}

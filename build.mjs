// Builds the CLI, the worker entry points and the benchmark into dist/ (node_modules stay external).
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { chmod } from 'node:fs/promises';

const entries = {
  cli: 'src/cli/main.ts',
  'trial-worker': 'src/search/trial-worker.ts',
  bench: 'bench/bench.ts',
};

const entryPoints = Object.fromEntries(Object.entries(entries).filter(([, file]) => existsSync(file)));

await build({
  entryPoints,
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
if (existsSync('dist/cli.js')) await chmod('dist/cli.js', 0o755);

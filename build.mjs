// Builds the CLI, the library entry (dist/index.js and its declarations in dist/types/), the worker entry points and
// the benchmarks into dist/ (node_modules stay external).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const entries = {
  cli: 'src/cli/main.ts',
  index: 'src/index.ts',
  'trial-worker': 'src/search/trial-worker.ts',
  'gather-thread': 'src/kernels/gather-thread.ts',
  'wasm-simd-thread': 'src/kernels/wasm-simd-thread.ts',
  bench: 'bench/bench.ts',
  'search-bench': 'bench/search-bench.ts',
  'augment-bench': 'bench/augment-bench.ts',
  'queue-bench': 'bench/queue-bench.ts',
  'queue-scale': 'bench/queue-scale.ts',
  'rss-bench': 'bench/rss-bench.ts',
  'dashboard-bench': 'bench/dashboard-bench.ts',
  screenshots: 'scripts/screenshots.ts',
  'results-table': 'scripts/results-table.ts',
};

const entryPoints = Object.fromEntries(Object.entries(entries).filter(([, file]) => existsSync(file)));

const { metafile } = await build({
  entryPoints,
  metafile: true,
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  splitting: true, // heavy modules (vega, resvg) load only when a command needs them
  chunkNames: 'chunks/[name]-[hash]',
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
if (existsSync('dist/cli.js')) await chmod('dist/cli.js', 0o755);

// The dashboard's page script (src/dashboard/web/, for the browser): one file, its CSS inlined, no network.
if (existsSync('src/dashboard/web/main.ts')) {
  await build({
    entryPoints: ['src/dashboard/web/main.ts'],
    outfile: 'dist/dashboard/app.js',
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    minify: true,
    loader: { '.css': 'text' },
    legalComments: 'none',
    logLevel: 'warning',
  });
}

// Chunks of earlier builds (their names carry a hash of their content) would otherwise pile up in dist/chunks and
// be packed: only this build's are kept.
{
  const current = new Set(Object.keys(metafile.outputs).map((f) => f.replace(/\\/g, '/')));
  for (const name of existsSync('dist/chunks') ? readdirSync('dist/chunks') : []) {
    if (!current.has(`dist/chunks/${name}`)) rmSync(join('dist/chunks', name), { force: true });
  }
}

// The library's declarations: dist/types/index.d.ts and what it imports (tsc, tsconfig.build.json), emitted again
// when a source is newer. typescript is a devDependency: a build without it (an install of the package) skips this.
{
  const newest = (dir) => readdirSync(dir, { recursive: true })
    .filter((f) => f.endsWith('.ts'))
    .reduce((t, f) => Math.max(t, statSync(join(dir, f)).mtimeMs), 0);
  const stamp = 'dist/types/index.d.ts';
  const sourcesAt = Math.max(newest('src'), statSync('tsconfig.json').mtimeMs, statSync('tsconfig.build.json').mtimeMs);
  let tsc = null;
  try {
    const pkg = createRequire(import.meta.url).resolve('typescript/package.json');
    tsc = join(dirname(pkg), JSON.parse(readFileSync(pkg, 'utf8')).bin.tsc);
  } catch { /* not installed */ }
  if (tsc && !(existsSync(stamp) && statSync(stamp).mtimeMs >= sourcesAt)) {
    const tmp = `dist/types.${process.pid}.tmp`;
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', tmp], { stdio: 'inherit' });
    rmSync('dist/types', { recursive: true, force: true });
    renameSync(tmp, 'dist/types'); // concurrent builds: the last one wins, no reader sees half a tree
  }
}

// WebAssembly SIMD kernels of the wasm-simd backend: assembly/*.ts → dist/wasm/kernels.wasm (SIMD128) and
// dist/wasm/kernels-relaxed.wasm (the same kernels with relaxed-SIMD fused multiply-add), loaded at run time by
// src/kernels/wasm-simd.ts (from src/ and from the bundles alike), which picks the relaxed one where the runtime
// validates it. Each is skipped when it is newer than its sources.
{
  const { mkdirSync } = await import('node:fs');
  const sources = ['build.mjs', ...readdirSync('assembly').filter((f) => f.endsWith('.ts')).map((f) => `assembly/${f}`)];
  const variants = [
    { out: 'dist/wasm/kernels.wasm', features: 'simd,threads,bulk-memory' },
    { out: 'dist/wasm/kernels-relaxed.wasm', features: 'simd,threads,bulk-memory,relaxed-simd' },
  ];
  for (const { out, features } of variants) {
    const fresh = existsSync(out) && sources.every((f) => statSync(f).mtimeMs <= statSync(out).mtimeMs);
    if (fresh) continue;
    const { default: asc } = await import('assemblyscript/asc');
    mkdirSync('dist/wasm', { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    const { error, stderr } = await asc.main([
      'assembly/index.ts', '--outFile', tmp,
      '-O3', '--noAssert', '--runtime', 'stub', '--use', 'abort=',
      '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '65536',
      '--enable', features,
    ]);
    if (error) {
      rmSync(tmp, { force: true });
      console.error(stderr.toString());
      throw error;
    }
    renameSync(tmp, out); // atomic: concurrent builds and readers never see half a file
  }
}

// Builds the CLI, the worker entry points and the benchmark into dist/ (node_modules stay external).
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { chmod } from 'node:fs/promises';

const entries = {
  cli: 'src/cli/main.ts',
  'trial-worker': 'src/search/trial-worker.ts',
  bench: 'bench/bench.ts',
  'search-bench': 'bench/search-bench.ts',
  'augment-bench': 'bench/augment-bench.ts',
  'queue-bench': 'bench/queue-bench.ts',
  'rss-bench': 'bench/rss-bench.ts',
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
  splitting: true, // heavy modules (vega, resvg) load only when a command needs them
  chunkNames: 'chunks/[name]-[hash]',
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
if (existsSync('dist/cli.js')) await chmod('dist/cli.js', 0o755);

// WebAssembly SIMD kernels of the wasm-simd backend: assembly/*.ts → dist/wasm/kernels.wasm (SIMD128) and
// dist/wasm/kernels-relaxed.wasm (the same kernels with relaxed-SIMD fused multiply-add), loaded at run time by
// src/kernels/wasm-simd.ts (from src/ and from the bundles alike), which picks the relaxed one where the runtime
// validates it. Each is skipped when it is newer than its sources.
{
  const { readdirSync, statSync, mkdirSync, renameSync, rmSync } = await import('node:fs');
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

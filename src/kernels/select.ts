/**
 * Run-time backend selection. `auto` tries, in order, the GPU modes of gpu.js (headlessgl, webgpu),
 * then the machine's BLAS (blas), then the zero-install CPU path (wasm-simd), then gpu.js webasm and cpu;
 * the first that loads wins.
 */
import { availableParallelism } from 'node:os';
import type { KernelBackend } from './backend.js';
import { GpuJsBackend } from './gpujs.js';
import { ReferenceBackend } from './reference.js';

import type { BackendName } from './names.js';

export { BACKEND_NAMES, type BackendName } from './names.js';

export const AUTO_ORDER: Exclude<BackendName, 'auto' | 'reference'>[] = ['headlessgl', 'webgpu', 'blas', 'wasm-simd', 'webasm', 'cpu'];

export interface Selection {
  backend: KernelBackend;
  /** Why each backend tried before the chosen one did not load. */
  skipped: { name: string; reason: string }[];
}

async function load(name: Exclude<BackendName, 'auto'>, threads: number): Promise<KernelBackend> {
  switch (name) {
    case 'reference':
      return new ReferenceBackend();
    case 'blas': {
      const { BlasBackend } = await import('./blas.js');
      return BlasBackend.create({ threads });
    }
    case 'wasm-simd': {
      const { WasmSimdBackend } = await import('./wasm-simd.js');
      return WasmSimdBackend.create({ threads });
    }
    default:
      return GpuJsBackend.create(name, { threads });
  }
}

/** threads 0 = all available cores. */
export async function selectBackend(name: BackendName, threads = 0): Promise<Selection> {
  const t = threads > 0 ? threads : availableParallelism();
  if (name !== 'auto') {
    try {
      return { backend: await load(name, t), skipped: [] };
    } catch (e) {
      throw new Error(`kernel backend ${name} is not available here: ${(e as Error).message}`);
    }
  }
  const skipped: Selection['skipped'] = [];
  for (const candidate of AUTO_ORDER) {
    try {
      return { backend: await load(candidate, t), skipped };
    } catch (e) {
      skipped.push({ name: candidate, reason: (e as Error).message });
    }
  }
  throw new Error(`no kernel backend loads here: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}
